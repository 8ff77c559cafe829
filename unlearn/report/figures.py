"""The report's figures: every metric per model (forget side above, utility below), loss curves, sweeps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLUMNS = 5


def _plotted(report: dict[str, Any], side: str) -> list[str]:
    """Metrics of one side worth a panel: grade counts are in the table, not the figure."""
    names = {n for metrics in report["models"].values() for n in metrics}
    return sorted(n for n in names if report.get("sides", {}).get(n, "utility") == side and "/grade_" not in n)


def plot_metrics(report: dict[str, Any], path: Path) -> Path:
    """One small panel per metric with a bar per model; forget-side rows first, in red."""
    models = list(report["models"])
    groups = [(side, _plotted(report, side)) for side in ("forget", "utility")]
    rows = [(side, names[i : i + COLUMNS]) for side, names in groups for i in range(0, len(names), COLUMNS)]
    figure, axes = plt.subplots(max(1, len(rows)), COLUMNS, figsize=(3.2 * COLUMNS, 2.6 * max(1, len(rows))), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (side, names), row_axes in zip(rows, axes, strict=False):
        for axis, name in zip(row_axes, names, strict=False):
            values = [report["models"][m].get(name, math.nan) for m in models]
            axis.bar(range(len(models)), values, color=[colors[i % len(colors)] for i in range(len(models))])
            axis.set_xticks(range(len(models)), models, rotation=20, fontsize=7)
            axis.set_title(name, fontsize=8, color="firebrick" if side == "forget" else "darkgreen")
            axis.tick_params(axis="y", labelsize=7)
            if all(v == 0 for v in values):
                axis.text(0.5, 0.5, "0 for every model", transform=axis.transAxes, ha="center", fontsize=8, color="gray")
    for axis in axes.flat:
        if not axis.has_data():
            axis.set_visible(False)
    figure.suptitle(f"{report['target']}: forget-side metrics (red) and utility (green), per model", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_losses(losses: dict[str, list[float]], path: Path) -> Path:
    """Training loss per batch, one panel per fine-tune."""
    figure, axes = plt.subplots(1, len(losses), figsize=(4 * len(losses), 3), squeeze=False)
    for axis, (stage, values) in zip(axes[0], losses.items(), strict=True):
        axis.plot(range(1, len(values) + 1), values)
        axis.set_title(f"{stage}: training loss per batch", fontsize=9)
        axis.set_xlabel("batch", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


SWEEP_TERMS = ("objective", "forget_kept", "utility_lost")


def _sweep_axis(jobs: list, keys: list[str]) -> tuple[list[float], list[str], str]:
    """x positions, tick labels and axis title: the swept value itself when it is one number, else the job."""
    if len(keys) == 1:
        try:
            values = [float(job.overrides[keys[0]]) for job in jobs]
            return values, [job.overrides[keys[0]] for job in jobs], keys[0]
        except (KeyError, ValueError):
            pass
    labels = [", ".join(f"{k}={job.overrides.get(k, '')}" for k in keys) for job in jobs]
    return list(range(len(jobs))), labels, "job"


def plot_sweep(jobs: list, keys: list[str], metrics: list[str], path: Path) -> Path:
    """The objective and its terms in one panel, then one panel per metric, against the swept value."""
    done = [job for job in jobs if job.report is not None]
    x, labels, title = _sweep_axis(done, keys)
    order = sorted(range(len(done)), key=lambda i: x[i])
    others = [m for m in metrics if m not in SWEEP_TERMS]
    figure, axes = plt.subplots(1, 1 + len(others), figsize=(4.2 * (1 + len(others)), 3.4), squeeze=False)
    panels = [(axes[0][0], [m for m in SWEEP_TERMS if m in metrics])] + [(axis, [m]) for axis, m in zip(axes[0][1:], others, strict=True)]
    for axis, names in panels:
        for name in names:
            values = [done[i].value(name) for i in order]
            axis.plot([x[i] for i in order], [math.nan if v is None else v for v in values], marker="o", label=name)
        axis.set_xticks([x[i] for i in order], [labels[i] for i in order], rotation=20 if title == "job" else 0, fontsize=7)
        axis.set_xlabel(title, fontsize=8)
        axis.set_title(names[0] if len(names) == 1 else "objective (lower is better)", fontsize=9)
        axis.tick_params(axis="y", labelsize=7)
        if len(names) > 1:
            axis.legend(fontsize=7)
    figure.suptitle(f"sweep over {', '.join(keys)}: the unlearned model per job", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
