"""The run report: report.json for machines and sweeps, report.md and figures for people.

report.json holds, per model, every metric; `sides` says which metrics measure what should
be forgotten and which what should be kept; `details` holds per-item tables (samples of
completions, per-prompt probabilities); `losses` the training curves of the fine-tunes.
This module makes the text; render.py adds the figures (and is the one that imports
matplotlib, which training never needs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
DETAIL_ROWS = 5
# The detail table of one greedy completion per prompt that an evaluator may report (as
# familiarity_completion does), shown side by side across models.
SIDE_BY_SIDE = "completions"


def atomic_write(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def metric_names(report: dict[str, Any]) -> list[str]:
    """Forget-side metrics first, then utility, each alphabetical."""
    names = {name for metrics in report["models"].values() for name in metrics}
    sides = report.get("sides", {})
    return sorted(names, key=lambda n: (sides.get(n) != "forget", n))


def cell(value: Any) -> str:
    """A table cell: floats to 3 decimals, nothing for a value not measured."""
    if value is None:
        return ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metric_table(report: dict[str, Any]) -> list[str]:
    models = list(report["models"])
    first, last = models[0], "unlearned" if "unlearned" in models else models[-1]
    delta = len(models) > 1
    header = ["metric", "side", *models] + ([f"{last} - {first}"] if delta else [])
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name in metric_names(report):
        values = [report["models"][m].get(name) for m in models]
        cells = [cell(v) for v in values]
        if delta:
            before, after = values[0], report["models"][last].get(name)
            cells.append(f"{after - before:+.3f}" if before is not None and after is not None else "")
        lines.append(f"| {name} | {report.get('sides', {}).get(name, '')} | " + " | ".join(cells) + " |")
    return lines


def _escaped(value: Any) -> str:
    return cell(value).replace("|", "\\|").replace("\n", " ")


def side_by_side(report: dict[str, Any]) -> list[str]:
    """Each prompt's greedy completion by every model, in one row: what unlearning changed."""
    by_model = {m: tables[SIDE_BY_SIDE] for m, tables in report.get("details", {}).items() if tables.get(SIDE_BY_SIDE)}
    if not by_model:
        return []
    models = list(by_model)
    lines = ["", "### Completions side by side (greedy)", "", "| prompt | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for rows in zip(*by_model.values(), strict=True):
        lines.append(f"| {_escaped(rows[0]['prompt'])} | " + " | ".join(_escaped(r["completion"]) for r in rows) + " |")
    return lines


def _detail_tables(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for model, tables in report.get("details", {}).items():
        for table, rows in tables.items():
            if not rows or table == SIDE_BY_SIDE:
                continue
            columns = list(rows[0])
            lines += ["", f"### {table}: {model} (first {min(DETAIL_ROWS, len(rows))} of {len(rows)})", ""]
            lines += ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
            for row in rows[:DETAIL_ROWS]:
                lines.append("| " + " | ".join(_escaped(row[c]) for c in columns) + " |")
    return lines


def markdown(report: dict[str, Any], figures: list[str]) -> str:
    lines = [f"# unlearn report: {report['target']}", ""]
    lines += metric_table(report)
    terms = report.get("objective_terms")
    if terms:
        lines += [
            "",
            f"Objective (lower is better; config `objective`): **{terms['objective']:.3f}** = "
            f"forget kept {terms['forget_kept']:.3f} + weight x utility lost {terms['utility_lost']:.3f}",
        ]
    if report.get("skipped"):
        lines += ["", "Skipped evaluators (the target lacks what they read):"]
        lines += [f"- {name}: {why}" for name, why in report["skipped"].items()]
    lines += [""] + [f"![{Path(f).stem}]({f})" for f in figures]
    if report.get("timings_s"):
        peaks = report.get("stage_peak_rss_gb", {})
        lines += ["", "| stage | seconds | peak resident memory so far, GB | cache key | reused |", "|---|---|---|---|---|"]
        for stage, seconds in report["timings_s"].items():
            cached = report.get("cache", {}).get(stage, {})
            peak = f"{peaks[stage]:.2f}" if stage in peaks else ""
            lines.append(f"| {stage} | {seconds:.1f} | {peak} | {cached.get('key', '')} | {cached.get('hit', '')} |")
    if report.get("evaluator_timings_s"):
        lines += ["", "| evaluator (over the models this run measured) | seconds |", "|---|---|"]
        lines += [f"| {name} | {seconds:.1f} |" for name, seconds in report["evaluator_timings_s"].items()]
    lines += side_by_side(report)
    lines += _detail_tables(report)
    return "\n".join(lines) + "\n"


def summary(report: dict[str, Any]) -> str:
    """A few lines for the terminal: each metric per model, and the total time."""
    width = max((len(name) for name in metric_names(report)), default=10)
    lines = [f"{'target=' + report['target']:<{width + 4}}" + "  ".join(f"{m:>10}" for m in report["models"])]
    for name in metric_names(report):
        values = [report["models"][m].get(name) for m in report["models"]]
        lines.append(f"  {name:<{width}}  " + "  ".join(f"{v:>10.3f}" if v is not None else " " * 10 for v in values))
    if report.get("objective") is not None:
        lines.append(f"  {'objective (lower is better)':<{width}}  {report['objective']:>{10 * len(report['models'])}.3f}")
    lines.append(f"  total {sum(report['timings_s'].values()):.1f}s  " + ", ".join(f"{k} {v:.1f}s" for k, v in report["timings_s"].items()))
    return "\n".join(lines)
