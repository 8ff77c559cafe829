"""The report's figures: every metric per model (forget side above, utility below) and loss curves."""

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
