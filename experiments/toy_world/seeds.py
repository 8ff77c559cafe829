"""The default run over seeds 0-4: every metric as mean ± sd, with the machine it ran on.

    python experiments/toy_world/seeds.py [--cache-dir DIR] [--out DIR] [--name seeds] [key=value ...]

Each seed builds its own world, baseline and labels (about 5 minutes a seed cold, on 2
CPU cores; a cached baseline makes a seed about 40 s). Writes NAME.json (every report's
metrics, the per-seed acceptance, the summary, the CPU and library versions, the wall
time) and NAME.md (the table README quotes) into --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from runner import acceptance

from unlearn.config import compose_config
from unlearn.machine import machine
from unlearn.pipeline import run as run_pipeline

SEEDS = (0, 1, 2, 3, 4)
MODELS = ("baseline", "reinforced", "unlearned")


def summary(runs: list[dict]) -> dict:
    """Per model and metric: mean, sample sd, min and max over the seeds."""
    result: dict = {}
    for model in MODELS:
        for metric in runs[0]["models"][model]:
            values = [run["models"][model][metric] for run in runs]
            result.setdefault(model, {})[metric] = {
                "mean": statistics.fmean(values),
                "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                "min": min(values),
                "max": max(values),
            }
    for key in ("forget_recall", "retain_drop", "perplexity_up"):
        values = [run["acceptance"][key] for run in runs]
        result.setdefault("acceptance", {})[key] = {"mean": statistics.fmean(values), "sd": statistics.stdev(values), "max": max(values)}
    result["acceptance"]["seeds_met"] = sum(run["acceptance"]["met"] for run in runs)
    return result


def write_table(results: dict, path: Path) -> None:
    s = results["summary"]
    lines = [
        f"Seeds {', '.join(str(r['seed']) for r in results['runs'])}; {results['machine']['cpu']}, "
        f"{results['machine']['cores']} cores; " + ", ".join(f"{k} {v}" for k, v in results["machine"]["libraries"].items()) + ".",
        "",
        "| metric | " + " | ".join(MODELS) + " |",
        "|---|" + "---|" * len(MODELS),
    ]
    for metric in s["baseline"]:
        lines.append(f"| {metric} | " + " | ".join(f"{s[m][metric]['mean']:.3f} ± {s[m][metric]['sd']:.3f}" for m in MODELS) + " |")
    lines += ["", "| seed | forget recall | retain drop | generic perplexity up | criteria |", "|---|---|---|---|---|"]
    for run in results["runs"]:
        a = run["acceptance"]
        lines.append(
            f"| {run['seed']} | {a['forget_recall']:.3f} | {a['retain_drop']:.3f} | {100 * a['perplexity_up']:+.1f}% "
            f"| {'met' if a['met'] else 'not met'} |"
        )
    a = s["acceptance"]
    lines.append(
        f"| mean ± sd | {a['forget_recall']['mean']:.3f} ± {a['forget_recall']['sd']:.3f} | {a['retain_drop']['mean']:.3f} ± "
        f"{a['retain_drop']['sd']:.3f} | {100 * a['perplexity_up']['mean']:+.1f}% ± {100 * a['perplexity_up']['sd']:.1f} | "
        f"{a['seeds_met']} of {len(results['runs'])} |"
    )
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "unlearn"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--name", default="seeds")
    parser.add_argument("overrides", nargs="*", help="key=value, as for python -m unlearn")
    args = parser.parse_args()
    out = Path(args.out)
    start = time.perf_counter()
    runs = []
    for seed in SEEDS:
        run_dir = out / "runs" / f"{args.name}_{seed}"
        cfg = compose_config([f"paths.cache_dir={args.cache_dir}", f"paths.output_dir={run_dir}", f"seed={seed}", *args.overrides])
        report = run_pipeline(cfg, run_dir)
        models = {model: report["models"][model] for model in MODELS}
        runs.append(
            {
                "seed": seed,
                "models": models,
                "acceptance": acceptance(models["baseline"], models["unlearned"]),
                "timings_s": report["timings_s"],
            }
        )
        print(json.dumps({"seed": seed, **runs[-1]["acceptance"]}), flush=True)
    results = {
        "overrides": args.overrides,
        "machine": machine(),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "runs": runs,
    }
    results["summary"] = summary(runs)
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n")
    write_table(results, out / f"{args.name}.md")


if __name__ == "__main__":
    main()
