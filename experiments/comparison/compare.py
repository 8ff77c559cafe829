"""WHP (hard and soft labels), inference-time WHP and the baselines on one target, forget side
against utility, before and after the relearning attack.

    python experiments/comparison/compare.py [--target toy_world] [--cache-dir DIR] [--lr-factors 1 4 16] [--resume] [key=value ...]

One `python -m unlearn` run per method (`methods`), all with `evaluator=relearning` and
sharing one cache, so the baseline and the reinforced model are built once. The baselines
(gradient ascent, gradient difference, NPO) train on WHP's own unlearning schedule for the
target (epochs, batches: the composed `unlearn` settings), so that the methods differ in
their loss, at WHP's learning rate times each of `--lr-factors` (1, 4 and 16 by default).
`key=value` overrides go to every run (`experiment=macbeth`: the real target's recipe);
the WHP runs name their labels, so that a recipe's own choice of labels does not make both
soft. `--resume` keeps each report already recorded with the same command and runs the
rest, so that an interrupted comparison (about 15 minutes a run on the real target) goes on
(on the same machine and libraries: the table gives one machine's seconds). Writes
reports/<target>/<method>.json (each run's report), <target>.md (the table, with each run's
seconds on this machine) and <target>.png (forget against utility: each method before the
attack, and an arrow to where the attack takes it; a cross where ordinary text's perplexity
more than doubled).
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
SCHEDULE_KEYS = ("epochs", "batch_size", "accumulate_grad_batches", "min_steps")
# The baselines' learning rates, as multiples of WHP's: untuned at WHP's own, they barely move on the toy world.
LR_FACTORS = (1.0, 4.0, 16.0)
BASELINES = ("gradient_ascent", "gradient_difference", "npo")


def methods(whp_lr: float, lr_factors: tuple[float, ...] = LR_FACTORS) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Per run: its overrides, and which models of its report the table shows (under which name)."""
    hard = {"baseline": "baseline", "unlearned": "whp (hard labels)", "whp_inference": "whp_inference"}
    runs = {
        "whp": (["labels=whp", "compare=[whp_inference]"], hard),
        "whp_soft": (["labels=soft"], {"unlearned": "whp (soft labels)"}),
    }
    for method in BASELINES:
        for factor in lr_factors:
            lr = whp_lr * factor
            runs[f"{method}_lr{lr:g}"] = ([f"unlearn={method}", f"unlearn.lr={lr:g}"], {"unlearned": f"{method} (lr {lr:g})"})
    return runs


FORGET = ("probe/forget_recall", "familiarity_probability/score")
UTILITY = ("probe/retain_recall", "perplexity/generic_heldout")
ATTACKED = "relearn/"
# Columns a target has or not: perplexity on a related domain (the same author's other
# plays), and its lm-eval tasks, each its own column (their names say which side they measure).
WHEN_MEASURED = ("perplexity/related_heldout", "lm_eval/")


def schedule(target: str, overrides: list[str]) -> tuple[list[str], float]:
    """WHP's unlearning schedule for the target, as overrides a baseline method takes, and its learning rate."""
    from unlearn.config import compose_config

    unlearn = compose_config([f"target={target}", "paths.output_dir=.", *overrides]).unlearn
    return [f"unlearn.{key}={unlearn[key]}" for key in SCHEDULE_KEYS], float(unlearn.lr)


def arguments(method_overrides: list[str], target: str, overrides: list[str], shared: list[str]) -> list[str]:
    """The run's command-line overrides, without where it caches and writes."""
    extra = shared if any(o.startswith("unlearn=") for o in method_overrides) else []
    return [f"target={target}", "evaluator=relearning", *method_overrides, *extra, *overrides]


def run(command_overrides: list[str], cache_dir: str) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "unlearn", *command_overrides, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={scratch}"]
        started = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
        return json.loads((Path(scratch) / "report.json").read_text()), time.perf_counter() - started


def recorded(path: Path, command_overrides: list[str], host: dict) -> tuple[dict, float] | None:
    """A report recorded earlier by the same command on this machine and libraries (`host`),
    and its seconds; None if there is none (the table states one machine's seconds)."""
    if not path.is_file():
        return None
    report = json.loads(path.read_text())
    entry = report.get("compare", {})
    if entry.get("overrides") != command_overrides or entry.get("machine") != host:
        return None
    return report, entry["seconds"]


def rows(reports: dict[str, dict], runs: dict[str, tuple[list[str], dict[str, str]]]) -> list[dict]:
    """One row per model shown: its forget and utility metrics, and the forget side after the attack."""
    table = []
    for method, (_, shown) in runs.items():
        for model, name in shown.items():
            metrics = reports[method]["models"][model]
            table.append({"method": name, **{m: metrics.get(m) for m in (*FORGET, *UTILITY)},
                          **{ATTACKED + m: metrics.get(ATTACKED + m) for m in FORGET},
                          **{m: value for m, value in metrics.items() if m.startswith(WHEN_MEASURED)}})  # fmt: skip
    return table


def cell(value: float | None) -> str:
    """Three decimals; a broken model's perplexity (1e11 and more) in powers of ten."""
    if value is None:
        return ""
    return f"{value:.3f}" if abs(value) < 1e5 else f"{value:.2e}"


def write_table(table: list[dict], reports: dict[str, dict], seconds: dict[str, float], machine: str, path: Path) -> None:
    measured = sorted({m for row in table for m in row if m.startswith(WHEN_MEASURED)})
    columns = [*FORGET, *(ATTACKED + m for m in FORGET), *UTILITY, *measured]
    lines = ["| model | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += ["| " + row["method"] + " | " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in table]
    lines += ["", f"Seconds per run on {machine}, and the stages it found in the cache:", ""]
    for method, s in seconds.items():
        reused = [stage for stage, entry in reports[method]["cache"].items() if entry["hit"]]
        lines.append(f"- {method}: {s:.0f} s (reused: {', '.join(reused) or 'nothing'})")
    path.write_text("\n".join(lines) + "\n")


def plot(table: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(FORGET), figsize=(6 * len(FORGET), 4.5))
    for axis, forget in zip(axes, FORGET, strict=True):
        colors = plt.get_cmap("tab20").colors
        reference = table[0][UTILITY[1]]
        for index, row in enumerate(table):
            color = colors[index % len(colors)]
            x, y, after = row[UTILITY[0]], row[forget], row[ATTACKED + forget]
            # Retain probes alone can hide a broken model: one whose ordinary text's perplexity
            # more than doubled is drawn as a cross, its factor in the legend.
            ratio = row[UTILITY[1]] / reference
            broken = ratio > 2
            label = row["method"] + (f", {UTILITY[1]} x{ratio:.2g}" if broken else "")
            # The baselines hollow, so that one landing on a WHP model's point leaves both in sight.
            baseline_method = row["method"].startswith(BASELINES)
            style = {"facecolors": "none", "edgecolors": color, "linewidths": 1.5} if baseline_method and not broken else {"color": color}
            axis.scatter([x], [y], label=label, marker="X" if broken else "o", s=60 if broken else 36, zorder=3, **style)
            if after is not None:
                axis.annotate("", xy=(x, after), xytext=(x, y), arrowprops={"arrowstyle": "->", "color": color})
                axis.update_datalim([(x, after)])  # arrows do not widen the axes themselves
        axis.autoscale_view()
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
    parser.add_argument("--lr-factors", type=float, nargs="+", default=list(LR_FACTORS), help="the baselines' learning rates / WHP's")
    parser.add_argument("--resume", action="store_true", help="keep the reports recorded by the same command, run the rest")
    parser.add_argument("overrides", nargs="*", help="key=value, for every run")
    args = parser.parse_args()
    from unlearn.machine import machine

    host = machine()
    shared, whp_lr = schedule(args.target, args.overrides)
    out = HERE / "reports" / args.target
    out.mkdir(parents=True, exist_ok=True)
    reports, seconds = {}, {}
    for method, (method_overrides, _) in methods(whp_lr, tuple(args.lr_factors)).items():
        command_overrides = arguments(method_overrides, args.target, args.overrides, shared)
        path = out / f"{method}.json"
        earlier = recorded(path, command_overrides, host) if args.resume else None
        if earlier is not None:
            print(f"{method}: recorded earlier by the same command, kept", flush=True)
            reports[method], seconds[method] = earlier
            continue
        reports[method], seconds[method] = run(command_overrides, args.cache_dir)
        reports[method]["compare"] = {"overrides": command_overrides, "seconds": seconds[method], "machine": host}
        path.write_text(json.dumps(reports[method], indent=1) + "\n")
    record = {"machine": host, "whp_lr": whp_lr, "lr_factors": args.lr_factors, "overrides": args.overrides, "seconds": seconds}
    (out / "seconds.json").write_text(json.dumps(record, indent=1) + "\n")
    summarize(args.target)


def summarize(target: str) -> None:
    """The table and figure from the recorded reports (reports/<target>/)."""
    folder = HERE / "reports" / target
    timing = json.loads((folder / "seconds.json").read_text())
    runs = methods(timing["whp_lr"], tuple(timing["lr_factors"]))
    reports = {method: json.loads((folder / f"{method}.json").read_text()) for method in runs}
    table = rows(reports, runs)
    host = timing["machine"]
    described = f"{host['cpu']}, {host['cores']} cores, torch {host['libraries']['torch']}"
    write_table(table, reports, timing["seconds"], described, HERE / f"{target}.md")
    plot(table, HERE / f"{target}.png")


if __name__ == "__main__":
    main()
