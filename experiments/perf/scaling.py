"""How the stages' time grows with the corpus (it should be linear) and with the number of
CPU processes (DDP over gloo). Writes results.json and scaling.png beside this file.

    python experiments/perf/scaling.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from hydra import compose, initialize_config_dir

from unlearn.bench.__main__ import run_bench
from unlearn.config import CONF_DIR

HERE = Path(__file__).parent
SIZES = [12_500, 25_000, 50_000, 100_000]
STAGES = ("reinforce", "labels", "unlearn")
# The default toy world and model; only the trainer (processes) changes. The target and
# baseline come from the default cache (built there first if absent: about 4 minutes); the
# stages timed are rebuilt for each count.
PROCESS_RUN = ["+trainer.enable_progress_bar=false", "stages=[reinforce,labels,unlearn]"]


def corpus_scaling(workdir: Path) -> dict[int, dict[str, float]]:
    """Seconds per stage through the framework, one pass over a corpus of each size."""
    seconds = {}
    for tokens in SIZES:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose("bench", overrides=[f"tokens={tokens}", "warmup_steps=0", "+trainer.enable_progress_bar=false"])
        results = run_bench(cfg, workdir / f"bench-{tokens}")
        seconds[results["tokens"]] = {row["stage"]: row["seconds"] for row in results["timings"] if row["path"] == "framework"}
        print(tokens, seconds[results["tokens"]], flush=True)
    return seconds


def process_scaling(workdir: Path) -> dict[int, dict[str, float]]:
    """Seconds per stage of the default run's reinforce, labels and unlearn stages on 1 and 2 CPU processes."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    shared = Path(os.environ.get("UNLEARN_CACHE_DIR", Path.home() / ".cache" / "unlearn"))
    base = [sys.executable, "-m", "unlearn", f"paths.cache_dir={shared}", "stages=[]", f"hydra.run.dir={workdir / 'base'}"]
    subprocess.run(base, check=True, env=env, capture_output=True)
    seconds = {}
    for processes, trainer in ((1, "trainer=cpu"), (2, "trainer=ddp_cpu")):
        cache = workdir / f"cache-{processes}"
        for stage in ("target", "baseline"):
            shutil.copytree(shared / stage, cache / stage)
        out = workdir / f"run-{processes}"
        command = [sys.executable, "-m", "unlearn", trainer, f"paths.cache_dir={cache}", f"hydra.run.dir={out}", *PROCESS_RUN]
        subprocess.run(command, check=True, env=env, capture_output=True)
        timings = json.loads((out / "report.json").read_text())["timings_s"]
        seconds[processes] = {stage: timings["candidates" if stage == "labels" else stage] for stage in STAGES}
        print(processes, seconds[processes], flush=True)
    return seconds


def plot(by_size: dict[int, dict[str, float]], by_processes: dict[int, dict[str, float]], path: Path) -> dict[str, float]:
    """Time against corpus size with a line through the origin per stage; returns each line's R^2."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    tokens = np.array(sorted(by_size))
    fits = {}
    for stage in STAGES:
        seconds = np.array([by_size[t][stage] for t in tokens])
        slope, intercept = np.polyfit(tokens, seconds, 1)
        predicted = slope * tokens + intercept
        fits[stage] = float(1 - ((seconds - predicted) ** 2).sum() / ((seconds - seconds.mean()) ** 2).sum())
        (line,) = left.plot(tokens / 1000, seconds, "o", label=f"{stage} (R² {fits[stage]:.3f})")
        left.plot(tokens / 1000, predicted, "-", color=line.get_color())
    left.set(xlabel="corpus (thousand tokens)", ylabel="seconds, one pass", title="time vs corpus size (toy model, CPU)")
    left.legend()
    counts = sorted(by_processes)
    width = 0.35
    for offset, processes in enumerate(counts):
        heights = [by_processes[processes][s] for s in STAGES]
        right.bar(np.arange(len(STAGES)) + offset * width, heights, width, label=f"{processes} process(es)")
    right.set_xticks(np.arange(len(STAGES)) + width / 2, STAGES)
    right.set(ylabel="seconds", title="default run's stages vs CPU processes (2 cores)")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return fits


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        by_size = corpus_scaling(workdir)
        by_processes = process_scaling(workdir)
    fits = plot(by_size, by_processes, HERE / "scaling.png")
    results = {"seconds_by_tokens": by_size, "linear_fit_r2": fits, "seconds_by_processes": by_processes}
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
