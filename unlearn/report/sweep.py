"""A sweep folder's report: one row per job (its swept values, objective, chosen metrics) and
a figure of the objective and metrics against the swept value.

A sweep folder is what `python -m unlearn -m ...` writes: multirun.yaml beside one folder
per job, each with .hydra/overrides.yaml and, if the job finished, report.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from unlearn.report import atomic_write, cell
from unlearn.report.figures import plot_sweep

SWEEP_MARKER = "multirun.yaml"
SWEEP_MD = "sweep.md"
SWEEP_PNG = "sweep.png"


@dataclass
class SweepJob:
    name: str
    overrides: dict[str, str]
    report: dict[str, Any] | None  # None: the job wrote no report (it failed or is still running)

    def value(self, metric: str) -> float | None:
        if self.report is None:
            return None
        if metric in ("objective", "forget_kept", "utility_lost"):
            return (self.report.get("objective_terms") or {}).get(metric)
        return self.report["models"].get("unlearned", {}).get(metric)


def is_sweep(folder: Path) -> bool:
    return (folder / SWEEP_MARKER).is_file()


def _overrides(job: Path) -> dict[str, str]:
    path = job / ".hydra" / "overrides.yaml"
    entries = yaml.safe_load(path.read_text()) if path.is_file() else []
    return dict(entry.split("=", 1) for entry in entries or [] if "=" in entry)


def read_jobs(folder: Path) -> list[SweepJob]:
    folders = sorted((p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not folders:
        raise SystemExit(f"error: {folder} has {SWEEP_MARKER} but no job folders (0/, 1/, ...); the sweep has not started")
    jobs = []
    for job in folders:
        report = job / "report.json"
        jobs.append(SweepJob(job.name, _overrides(job), json.loads(report.read_text()) if report.is_file() else None))
    return jobs


def swept_keys(jobs: list[SweepJob]) -> list[str]:
    """The override keys whose values differ between jobs (all of them for a one-job sweep)."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    varying = [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]
    return varying or keys


def headline_metrics(jobs: list[SweepJob]) -> list[str]:
    """The objective, its two terms, and the metrics the objective was built from."""
    named = []
    for job in jobs:
        objective = (job.report or {}).get("objective_metrics") or {}
        named += [objective[k] for k in ("forget", "utility") if k in objective]
    return ["objective", "forget_kept", "utility_lost", *dict.fromkeys(named)]


def sweep_markdown(folder: Path, jobs: list[SweepJob], keys: list[str], metrics: list[str], figure: str) -> str:
    swept = ", ".join(keys) or "nothing"
    lines = [f"# sweep: {folder}", "", f"Swept: {swept}. Metrics of the unlearned model; objective: lower is better.", ""]
    header = ["job", *keys, *metrics]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for job in jobs:
        cells = [job.overrides.get(k, "") for k in keys]
        if job.report is None:
            cells += ["no report.json (failed or unfinished)"] + [""] * (len(metrics) - 1)
        else:
            cells += [cell(job.value(m)) for m in metrics]
        lines.append(f"| {job.name} | " + " | ".join(cells) + " |")
    finished = [job for job in jobs if job.value("objective") is not None]
    if finished:
        best = min(finished, key=lambda job: job.value("objective"))
        lines += ["", f"Best objective: job {best.name} ({', '.join(f'{k}={best.overrides.get(k)}' for k in keys)})."]
    lines += ["", f"![sweep]({figure})", ""]
    return "\n".join(lines)


def write_sweep_report(folder: Path, extra_metrics: list[str]) -> Path:
    jobs = read_jobs(folder)
    keys = swept_keys(jobs)
    metrics = list(dict.fromkeys([*headline_metrics(jobs), *extra_metrics]))
    plot_sweep(jobs, keys, metrics, folder / SWEEP_PNG)
    atomic_write(folder / SWEEP_MD, sweep_markdown(folder, jobs, keys, metrics, SWEEP_PNG))
    return folder / SWEEP_MD
