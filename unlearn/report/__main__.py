"""`python -m unlearn.report RUN_DIR [RUN_DIR ...]`: rebuild the table and figures of saved runs.

One run: its report.md and figures are rewritten in place from its report.json. Several:
their models side by side (columns `<run>/<model>`) in comparison.md and figures in --out.
A sweep folder (`python -m unlearn -m ...`): sweep.md and sweep.png in that folder, one
row per job with its swept values, and the objective and metrics against the swept value.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from unlearn.report import REPORT_JSON, REPORT_MD
from unlearn.report.render import render
from unlearn.report.sweep import is_sweep, write_sweep_report


def load(run: Path) -> dict[str, Any]:
    path = run / REPORT_JSON
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist; pass run folders written by python -m unlearn")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SystemExit(f"error: {path}:{err.lineno}: not valid JSON ({err.msg}); the run's report is damaged") from None


def combine(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One report whose models are every run's models, named `<run>/<model>`."""
    targets = sorted({r["target"] for r in runs.values()})
    return {
        "target": " + ".join(targets),
        "models": {f"{name}/{model}": metrics for name, r in runs.items() for model, metrics in r["models"].items()},
        "sides": {k: v for r in runs.values() for k, v in r.get("sides", {}).items()},
    }


def unique_names(folders: list[Path]) -> list[str]:
    """Run folder names, with parent folders added where two would read the same."""
    names = [f.name for f in folders]
    if len(set(names)) < len(names):
        names = [f"{f.parent.name}/{f.name}" for f in folders]
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m unlearn.report", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding report.json, or one sweep folder")
    parser.add_argument("--out", type=Path, default=Path("comparison"), help="where a comparison of several runs goes")
    parser.add_argument("--metric", action="append", default=[], help="for a sweep: a metric to add to the table and figure")
    args = parser.parse_args(argv)
    if len(args.runs) == 1 and is_sweep(args.runs[0]):
        print(write_sweep_report(args.runs[0], args.metric))
        return
    reports = [load(run) for run in args.runs]
    if len(reports) == 1:
        render(args.runs[0], reports[0])
        print(args.runs[0] / REPORT_MD)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    combined = combine(dict(zip(unique_names(args.runs), reports, strict=True)))
    render(args.out, combined, "comparison.md")
    print(args.out / "comparison.md")


if __name__ == "__main__":
    main(sys.argv[1:])
