"""The recipe (`experiment=macbeth`) cold, as a new user runs it: a fresh cache, so the GGUF
conversion and both fine-tunes are in the time; its wall time and peak resident memory.

    python experiments/macbeth/recipe.py [--cache-dir DIR]  # run it (about half an hour on 2 cores), then write recipe.md
    python experiments/macbeth/recipe.py --summary          # recipe.md again from recipe.json
    python experiments/macbeth/recipe.py --record NAME key=value ...  # the recipe with overrides, as NAME.json and NAME.md

`--cache-dir` names an empty folder for the run's cache, kept afterwards, so that later
runs on the recipe (experiments/comparison, experiments/anchors_auto/macbeth.py) find its
reinforced model there; by default the cache is a temporary folder.

The run's report.json is copied to recipe.json with `wall_s`, `peak_rss_gb` (the
largest resident set of the run's process, from GNU time), the overrides and the machine added;
recipe.md sets out its metric table (baseline, reinforced, unlearned), the stage timings
and the peak resident memory by the end of each stage (the run's own record: the stage where
it rises needed it), and the completions side by side, as report.md shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measured(time_output: str) -> dict[str, float]:
    """Wall seconds and peak resident memory from `/usr/bin/time -v`'s report."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", time_output)
    hours, minutes, seconds = (float(part) if part else 0.0 for part in wall.groups())
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output).group(1))
    return {"wall_s": round(hours * 3600 + minutes * 60 + seconds, 1), "peak_rss_gb": round(peak_kb / 2**20, 2)}


def record(run_dir: Path, time_output: str, name: str, overrides: list[str]) -> None:
    from unlearn.machine import machine

    report = json.loads((run_dir / "report.json").read_text())
    report |= measured(time_output) | {"overrides": overrides, "machine": machine()}
    (HERE / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")


def run(cache_dir: str | None, name: str, overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(cache_dir or f"{scratch}/cache")
        if cache.exists() and any(cache.iterdir()):
            sys.exit(f"--cache-dir {cache}: not empty; the recipe is measured cold, from an empty cache")
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "unlearn", "experiment=macbeth", *overrides,
                   f"paths.cache_dir={cache}", f"hydra.run.dir={scratch}/run"]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=True)
        record(Path(scratch) / "run", done.stderr, name, overrides)


def summary(name: str = "recipe") -> str:
    from unlearn.report import metric_table, side_by_side

    report = json.loads((HERE / f"{name}.json").read_text())
    overrides = " ".join(report["overrides"])
    host = report["machine"]
    lines = [
        f"# experiment=macbeth {overrides}".rstrip() + ", cold",
        "",
        f"On {host['cpu']}, {host['cores']} cores, torch {host['libraries']['torch']}: the whole run (GGUF conversion, both",
        f"fine-tunes, labels, evaluation of three models) took **{report['wall_s'] / 60:.1f} minutes**, peak resident memory",
        f"**{report['peak_rss_gb']:.1f} GB**. Written by `python experiments/macbeth/recipe.py` from `{name}.json`.",
        "",
        *metric_table(report),
        "",
        "| stage | seconds | peak resident memory by its end, GB |",
        "|---|---|---|",
        *(f"| {stage} | {seconds:.0f} | {report['stage_peak_rss_gb'][stage]:.2f} |" for stage, seconds in report["timings_s"].items()),
        *side_by_side(report),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", help="an empty folder for the run's cache, kept afterwards")
    parser.add_argument("--summary", action="store_true", help="write NAME.md from NAME.json, run nothing")
    parser.add_argument("--record", default="recipe", help="NAME of the record (recipe.json, recipe.md)")
    parser.add_argument("overrides", nargs="*", help="key=value, added to experiment=macbeth")
    args = parser.parse_args()
    if not args.summary:
        run(args.cache_dir, args.record, args.overrides)
    (HERE / f"{args.record}.md").write_text(summary(args.record))
