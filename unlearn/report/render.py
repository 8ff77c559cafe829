"""The report written into a run folder: report.json, report.md and its figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unlearn.report import REPORT_JSON, REPORT_MD, atomic_write, markdown
from unlearn.report.figures import plot_losses, plot_metrics

METRICS_PNG = "metrics.png"
LOSSES_PNG = "losses.png"


def render(folder: Path, report: dict[str, Any], markdown_name: str = REPORT_MD) -> list[Path]:
    """The markdown table and the figures for `report`, written into `folder`; returns the figures."""
    figures = [plot_metrics(report, folder / METRICS_PNG)]
    if report.get("losses"):
        figures.append(plot_losses(report["losses"], folder / LOSSES_PNG))
    atomic_write(folder / markdown_name, markdown(report, [f.name for f in figures]))
    return figures


def write_report(folder: Path, report: dict[str, Any]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    return render(folder, report)
