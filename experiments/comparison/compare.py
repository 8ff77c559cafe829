"""WHP (hard and soft labels), inference-time WHP and the baselines on one target, forget side
against utility, before and after the relearning attack.

    python experiments/comparison/compare.py [--target toy_world] [--cache-dir DIR] [key=value ...]

One `python -m unlearn` run per method (`METHODS`), all with `evaluator=relearning` and
sharing one cache, so the baseline and the reinforced model are built once. The baselines
(gradient ascent, gradient difference, NPO) train on WHP's own unlearning schedule for the
target (epochs, learning rate, batches: the composed `unlearn` settings), so that the
methods differ in their loss alone; their learning rates are not tuned. Writes
reports/<target>/<method>.json (each run's report), <target>.md (the table, with each run's
seconds on this machine) and <target>.png (forget against utility: each method before the
attack, and an arrow to where the attack takes it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCHEDULE_KEYS = ("epochs", "lr", "batch_size", "accumulate_grad_batches", "min_steps")
# Per method: its overrides, and which models of its run the table shows (under which name).
METHODS = {
    "whp": (["compare=[whp_inference]"], {"baseline": "baseline", "unlearned": "whp (hard labels)", "whp_inference": "whp_inference"}),
    "whp_soft": (["labels=soft"], {"unlearned": "whp (soft labels)"}),
    "gradient_ascent": (["unlearn=gradient_ascent"], {"unlearned": "gradient_ascent"}),
    "gradient_difference": (["unlearn=gradient_difference"], {"unlearned": "gradient_difference"}),
    "npo": (["unlearn=npo"], {"unlearned": "npo"}),
}
FORGET = ("probe/forget_recall", "familiarity_probability/score")
UTILITY = ("probe/retain_recall", "perplexity/generic_heldout")
ATTACKED = "relearn/"


def schedule(target: str, overrides: list[str]) -> list[str]:
    """WHP's unlearning schedule for the target, as overrides a baseline method takes."""
    from unlearn.config import compose_config

    unlearn = compose_config([f"target={target}", "paths.output_dir=.", *overrides]).unlearn
    return [f"unlearn.{key}={unlearn[key]}" for key in SCHEDULE_KEYS]


def run(method: str, target: str, cache_dir: str, overrides: list[str], shared: list[str]) -> tuple[dict, float]:
    method_overrides, _ = METHODS[method]
    extra = shared if method.startswith(("gradient", "npo")) else []
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "unlearn", f"target={target}", f"paths.cache_dir={cache_dir}", "evaluator=relearning",
                   *method_overrides, *extra, *overrides, f"hydra.run.dir={scratch}"]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
        return json.loads((Path(scratch) / "report.json").read_text()), time.perf_counter() - started


def rows(reports: dict[str, dict]) -> list[dict]:
    """One row per model shown: its forget and utility metrics, and the forget side after the attack."""
    table = []
    for method, (_, shown) in METHODS.items():
        for model, name in shown.items():
            metrics = reports[method]["models"][model]
            table.append({"method": name, **{m: metrics.get(m) for m in (*FORGET, *UTILITY)},
                          **{ATTACKED + m: metrics.get(ATTACKED + m) for m in FORGET}})  # fmt: skip
    return table


def cell(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def write_table(table: list[dict], seconds: dict[str, float], machine: str, path: Path) -> None:
    columns = [*FORGET, *(ATTACKED + m for m in FORGET), *UTILITY]
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += ["| " + row["method"] + " | " + " | ".join(cell(row[c]) for c in columns) + " |" for row in table]
    lines += ["", f"Seconds per run on {machine} (the first run builds the baseline and the reinforced model):", ""]
    lines += [f"- {method}: {s:.0f} s" for method, s in seconds.items()]
    path.write_text("\n".join(lines) + "\n")


def plot(table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(FORGET), figsize=(6 * len(FORGET), 4.5))
    for axis, forget in zip(axes, FORGET, strict=True):
        for index, row in enumerate(table):
            color = f"C{index}"
            x, y, after = row[UTILITY[0]], row[forget], row[ATTACKED + forget]
            axis.scatter([x], [y], color=color, label=row["method"], zorder=3)
            if after is not None:
                axis.annotate("", xy=(x, after), xytext=(x, y), arrowprops={"arrowstyle": "->", "color": color})
        axis.set_xlabel(f"{UTILITY[0]} (utility: higher is better)")
        axis.set_ylabel(f"{forget} (forget side: lower is better)")
        axis.set_title(f"{forget}: before the attack (dot) and after (arrow head)", fontsize=9)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="toy_world")
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "unlearn"))
    parser.add_argument("overrides", nargs="*", help="key=value, for every run")
    args = parser.parse_args()
    from unlearn.machine import machine

    shared = schedule(args.target, args.overrides)
    out = HERE / "reports" / args.target
    out.mkdir(parents=True, exist_ok=True)
    reports, seconds = {}, {}
    for method in METHODS:
        reports[method], seconds[method] = run(method, args.target, args.cache_dir, args.overrides, shared)
        (out / f"{method}.json").write_text(json.dumps(reports[method], indent=1) + "\n")
    (out / "seconds.json").write_text(json.dumps({"machine": machine(), "seconds": seconds}, indent=1) + "\n")
    summarize(args.target)


def summarize(target: str) -> None:
    """The table and figure from the recorded reports (reports/<target>/)."""
    folder = HERE / "reports" / target
    reports = {method: json.loads((folder / f"{method}.json").read_text()) for method in METHODS}
    timing = json.loads((folder / "seconds.json").read_text())
    table = rows(reports)
    host = timing["machine"]
    described = f"{host['cpu']}, {host['cores']} cores, torch {host['libraries']['torch']}"
    write_table(table, timing["seconds"], described, HERE / f"{target}.md")
    plot(table, HERE / f"{target}.png")


if __name__ == "__main__":
    main()
