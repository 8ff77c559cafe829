"""The run report: report.json for machines and sweeps, report.md and a summary for people."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _metric_names(report: dict[str, Any]) -> list[str]:
    return sorted({name for metrics in report["models"].values() for name in metrics})


def markdown(report: dict[str, Any]) -> str:
    models = list(report["models"])
    lines = [f"# unlearn report: {report['target']}", "", "| metric | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for name in _metric_names(report):
        cells = [f"{report['models'][m][name]:.3f}" if name in report["models"][m] else "" for m in models]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| stage | seconds | cache key | reused |", "|---|---|---|---|"]
    for stage, seconds in report["timings_s"].items():
        cached = report["cache"].get(stage, {})
        lines.append(f"| {stage} | {seconds:.1f} | {cached.get('key', '')} | {cached.get('hit', '')} |")
    return "\n".join(lines) + "\n"


def write_report(folder: Path, report: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / "report.json", json.dumps(report, indent=2) + "\n")
    _atomic_write(folder / "report.md", markdown(report))


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal: each metric per model, and the total time."""
    width = max(len(name) for name in _metric_names(report))
    lines = [f"target={report['target']}  " + "  ".join(f"{m:>10}" for m in report["models"])]
    for name in _metric_names(report):
        values = [report["models"][m].get(name) for m in report["models"]]
        lines.append(f"  {name:<{width}}  " + "  ".join(f"{v:>10.3f}" if v is not None else " " * 10 for v in values))
    lines.append(f"  total {sum(report['timings_s'].values()):.1f}s  " + ", ".join(f"{k} {v:.1f}s" for k, v in report["timings_s"].items()))
    return "\n".join(lines)
