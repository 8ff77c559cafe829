"""Why the same configuration gives other numbers on another machine (issue 19).

    python experiments/toy_world/determinism.py [--out DIR] [--work DIR]

Runs the default configuration at seed 0 from an empty cache, once per condition below, each
in a fresh `python -m unlearn` process, and compares each with the reference: the baseline's
weights after pretraining (largest absolute difference), the first step whose logged
pretraining loss differs, and the unlearned model's acceptance numbers. The conditions
change one thing each that differs between machines: the run again (is one machine
deterministic?), the thread count, the CPU kernels torch and its BLAS library pick for
the CPU (here forced to the AVX2 ones an older or an AMD CPU would run), and the
transformers release. Writes determinism.json and determinism.md into --out. About 5
minutes a condition on 2 cores.
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

from runner import PROBES_ONLY, acceptance
from safetensors.torch import load_file

from unlearn.machine import described, machine

OLDER_TRANSFORMERS = "transformers==5.23.0"  # the release issue 19's recorded numbers were measured with

CONDITIONS: dict[str, dict[str, str]] = {
    "reference": {},
    "the same, again": {},
    "1 thread instead of 2": {"OMP_NUM_THREADS": "1"},
    "torch's own kernels for AVX2 (ATEN_CPU_CAPABILITY=avx2)": {"ATEN_CPU_CAPABILITY": "avx2"},
    "BLAS and oneDNN kernels for AVX2 (MKL_ENABLE_INSTRUCTIONS=AVX2)": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    OLDER_TRANSFORMERS: {"PYTHONPATH": "{older_transformers}"},
}


def run_condition(env_changes: dict[str, str], work: Path) -> dict:
    """One cold run of the default configuration in a fresh process; its report and baseline."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **env_changes}
    start = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "unlearn",
        "seed=0",
        f"paths.cache_dir={work / 'cache'}",
        f"hydra.run.dir={work / 'run'}",
        *PROBES_ONLY,
    ]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    report = json.loads((work / "run" / "report.json").read_text())
    transformers = subprocess.run(
        [sys.executable, "-c", "import transformers; print(transformers.__version__)"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    (baseline,) = (work / "cache" / "baseline").iterdir()
    return {
        "wall_time_s": round(time.perf_counter() - start, 1),
        "weights": load_file(baseline / "model.safetensors"),
        "losses": json.loads((baseline / "losses.json").read_text()),
        "acceptance": acceptance(report["models"]["baseline"], report["models"]["unlearned"]),
        "transformers": transformers,
    }


def compare(run: dict, reference: dict) -> dict:
    weight_diff = max((run["weights"][name] - reference["weights"][name]).abs().max().item() for name in reference["weights"])
    first_loss_diff = next((step for step, (a, b) in enumerate(zip(run["losses"], reference["losses"], strict=True)) if a != b), None)
    return {"max_weight_diff": weight_diff, "first_loss_step_differing": first_loss_diff, "pretraining_steps": len(reference["losses"])}


def install_older_transformers(folder: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(folder), OLDER_TRANSFORMERS], check=True)


def write_table(results: dict, path: Path) -> None:
    lines = [
        f"Seed 0, default configuration, each run from an empty cache; {described(results['machine'])}. "
        f"{results['wall_time_s']:.0f} s in all.",
        "",
        "| condition | baseline weights: largest difference from the reference | first pretraining step whose loss differs "
        "| forget recall | retain drop | generic perplexity up |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["conditions"].items():
        diff = row["compared"]
        step = (
            "none" if diff["first_loss_step_differing"] is None else f"{diff['first_loss_step_differing']} of {diff['pretraining_steps']}"
        )
        a = row["acceptance"]
        numbers = f"{a['forget_recall']:.3f} | {a['retain_drop']:.3f} | {100 * a['perplexity_up']:+.1f}%"
        lines.append(f"| {name} | {diff['max_weight_diff']:.2g} | {step} | {numbers} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--work", default=None, help="folder for the runs' caches (default: a temporary folder, removed after)")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        install_older_transformers(work / "older_transformers")
        runs = {}
        for index, (name, env) in enumerate(CONDITIONS.items()):
            env = {key: value.format(older_transformers=work / "older_transformers") for key, value in env.items()}
            runs[name] = run_condition(env, work / f"condition_{index}")
            print(json.dumps({"condition": name, **runs[name]["acceptance"]}), flush=True)
    reference = runs["reference"]
    results = {
        "machine": machine(),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "conditions": {
            name: {
                "env": CONDITIONS[name],
                "compared": compare(run, reference),
                "acceptance": run["acceptance"],
                "transformers": run["transformers"],
                "wall_time_s": run["wall_time_s"],
            }
            for name, run in runs.items()
        },
    }
    out = Path(args.out)
    (out / "determinism.json").write_text(json.dumps(results, indent=1) + "\n")
    write_table(results, out / "determinism.md")


if __name__ == "__main__":
    main()
