"""Every bad input of tests/bad_inputs.py run as a user runs it, with an empty cache.

    python experiments/bad_input/measure.py [--out experiments/bad_input]

Writes results.json and results.md: per case the exit code, the one line printed, the
seconds from start to exit, and whether anything was trained first (the cache holds a
baseline or a fine-tune's progress), with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPOSITORY))

from tests.bad_inputs import CASES, BadInput  # noqa: E402
from unlearn.machine import machine  # noqa: E402


def measure(case: BadInput, folder: Path) -> dict:
    case.write_files(folder)
    command = [sys.executable, "-m", "unlearn", f"paths.cache_dir={folder / 'cache'}", f"hydra.run.dir={folder / 'run'}", *case.overrides]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - start
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    last = errors[-1] if errors else (result.stderr.strip().splitlines() or [""])[-1]
    trained = (folder / "cache" / "baseline").exists() or any((folder / "cache").glob("*/.progress-*"))
    return {
        "case": case.name,
        "overrides": " ".join(case.overrides),
        "exit": result.returncode,
        "line": last,
        "seconds": round(seconds, 2),
        "trained": trained,
    }


def write(rows: list[dict], out: Path) -> None:
    where = machine()
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"machine": where, "cases": rows}, indent=1) + "\n")
    slowest = max(row["seconds"] for row in rows)
    lines = [
        f"{len(rows)} bad inputs, each run as `python -m unlearn` with an empty cache on {where['cpu']} ({where['cores']} cores); "
        f"the slowest failed after {slowest:.1f} s. Written by `python experiments/bad_input/measure.py`.",
        "",
        "| case | overrides | exit | seconds | trained first | the line printed |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        line, trained = row["line"].replace("|", "\\|"), "yes" if row["trained"] else "no"
        lines.append(f"| {row['case']} | `{row['overrides']}` | {row['exit']} | {row['seconds']:.1f} | {trained} | {line} |")
    (out / "results.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    rows = []
    for case in CASES:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(measure(case, Path(folder)))
        print(f"{rows[-1]['exit']} {rows[-1]['seconds']:6.2f}s {rows[-1]['line']}", flush=True)
    write(rows, args.out)


if __name__ == "__main__":
    main()
