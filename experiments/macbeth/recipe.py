"""The recipe (`experiment=macbeth`) cold, as a new user runs it: a fresh cache, so the GGUF
conversion and both fine-tunes are in the time; its wall time and peak resident memory.

    python experiments/macbeth/recipe.py            # run it (about half an hour on 2 cores), then write recipe.md
    python experiments/macbeth/recipe.py --summary  # recipe.md again from recipe.json

The run's report.json is copied to recipe.json with `wall_s`, `peak_rss_gb` (the
largest resident set of the run's process, from GNU time) and the machine added;
recipe.md sets out its metric table (baseline, reinforced, unlearned), the stage timings
and the peak resident memory by the end of each stage (the run's own record: the stage where
it rises needed it), and the completions side by side, as report.md shows them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RECORD = HERE / "recipe.json"


def measured(time_output: str) -> dict[str, float]:
    """Wall seconds and peak resident memory from `/usr/bin/time -v`'s report."""
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", time_output)
    hours, minutes, seconds = (float(part) if part else 0.0 for part in wall.groups())
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_output).group(1))
    return {"wall_s": round(hours * 3600 + minutes * 60 + seconds, 1), "peak_rss_gb": round(peak_kb / 2**20, 2)}


def record(run_dir: Path, time_output: str) -> None:
    from unlearn.machine import machine

    report = json.loads((run_dir / "report.json").read_text())
    report |= measured(time_output) | {"machine": machine()}
    RECORD.write_text(json.dumps(report, indent=1) + "\n")


def run() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        command = ["/usr/bin/time", "-v", sys.executable, "-m", "unlearn", "experiment=macbeth",
                   f"paths.cache_dir={scratch}/cache", f"hydra.run.dir={scratch}/run"]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
        done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True, check=True)
        record(Path(scratch) / "run", done.stderr)


def summary() -> str:
    from unlearn.report import metric_table, side_by_side

    report = json.loads(RECORD.read_text())
    host = report["machine"]
    lines = [
        "# experiment=macbeth, cold",
        "",
        f"On {host['cpu']}, {host['cores']} cores, torch {host['libraries']['torch']}: the whole run (GGUF conversion, both",
        f"fine-tunes, labels, evaluation of three models) took **{report['wall_s'] / 60:.1f} minutes**, peak resident memory",
        f"**{report['peak_rss_gb']:.1f} GB**. Written by `python experiments/macbeth/recipe.py` from `recipe.json`.",
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
    if "--summary" not in sys.argv[1:]:
        run()
    (HERE / "recipe.md").write_text(summary())
