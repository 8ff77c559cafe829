"""Ablation on the toy world: which labels unlearn, at what cost to the retain world.

    python experiments/toy_world/ablation.py [--cache-dir DIR] [--out DIR] [key=value ...]

Runs the default configuration with labels=whp and labels=reinforced_only for each alpha,
and labels=anchored_only once, sharing one cache (the baseline and the reinforced model
are built once), then writes results.json, results.md and forget_vs_retain.png here.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from runner import experiment_arguments, run_variant

ALPHAS = (0.0, 1.0, 2.5, 5.0, 10.0)
METRICS = (
    "probe/forget_recall",
    "probe/retain_recall",
    "probe/forget_paraphrase_recall",
    "probe/retain_paraphrase_recall",
    "perplexity/generic_heldout",
)


def variants() -> list[tuple[str, float | None, list[str]]]:
    rows: list[tuple[str, float | None, list[str]]] = []
    for labels in ("whp", "reinforced_only"):
        rows += [(labels, alpha, [f"labels={labels}", f"labels.alpha={alpha}"]) for alpha in ALPHAS]
    rows.append(("anchored_only", None, ["labels=anchored_only"]))
    return rows


def main() -> None:
    args = experiment_arguments(__doc__)
    cache_dir, out, common = args.cache_dir, args.out, args.overrides
    results = []
    for labels, alpha, overrides in variants():
        report = run_variant(cache_dir, out / "runs" / f"{labels}_{alpha}", [*common, *overrides])
        results.append({"labels": labels, "alpha": alpha, **{name: report["models"][name] for name in report["models"]}})
        print(labels, alpha, {m: round(report["models"]["unlearned"][m], 3) for m in METRICS}, flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    write_table(results, out / "results.md")
    plot(results, out / "forget_vs_retain.png")


def write_table(results: list[dict], path: Path) -> None:
    baseline = results[0]["baseline"]
    lines = ["| labels | alpha | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    lines.append("| (baseline) | | " + " | ".join(f"{baseline[m]:.3f}" for m in METRICS) + " |")
    for row in results:
        alpha = "" if row["alpha"] is None else f"{row['alpha']:g}"
        lines.append(f"| {row['labels']} | {alpha} | " + " | ".join(f"{row['unlearned'][m]:.3f}" for m in METRICS) + " |")
    path.write_text("\n".join(lines) + "\n")


def plot(results: list[dict], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 4.5))
    baseline = results[0]["baseline"]
    axis.scatter([baseline["probe/retain_recall"]], [baseline["probe/forget_recall"]], marker="*", s=200, color="black", label="baseline")
    for labels, marker in (("whp", "o"), ("reinforced_only", "s"), ("anchored_only", "^")):
        rows = [r for r in results if r["labels"] == labels]
        xs = [r["unlearned"]["probe/retain_recall"] for r in rows]
        ys = [r["unlearned"]["probe/forget_recall"] for r in rows]
        axis.plot(xs, ys, marker=marker, linestyle="-" if len(rows) > 1 else "", label=labels)
        for row, x, y in zip(rows, xs, ys, strict=True):
            if row["alpha"] is not None:
                axis.annotate(f"alpha={row['alpha']:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel("retain recall (higher is better)")
    axis.set_ylabel("forget recall (lower is better)")
    axis.set_title("Toy world: unlearned model per label generator")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
