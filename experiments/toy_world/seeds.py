"""The default run over seeds 0-4: every metric as mean ± sd, with the machine it ran on.

    python experiments/toy_world/seeds.py [--cache-dir DIR] [--out DIR] [--name seeds] [key=value ...]

Each seed builds its own baseline and labels (about 5 minutes a seed cold, on 2 CPU
cores; a cached baseline makes a seed about 40 s). Writes NAME.json (every report's
metrics, the per-seed acceptance, the summary, the CPU and library versions, the wall
time, what seed 0's run printed) and NAME.md (the tables) into --out; with the default
name, also the passages of the project's README.md and this folder's README.md that quote
them (between `<!-- seeds.py: ... -->` markers; tests/test_experiments.py checks that
they still match seeds.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from runner import acceptance, margin

from unlearn.config import compose_config
from unlearn.machine import described, machine
from unlearn.pipeline import run as run_pipeline
from unlearn.report import summary as printed_summary

SEEDS = (0, 1, 2, 3, 4)
MODELS = ("baseline", "reinforced", "unlearned")
HERE = Path(__file__).resolve().parent
READMES = {"results": HERE.parents[1] / "README.md", "printed": HERE.parents[1] / "README.md", "table": HERE / "README.md"}


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


def spread(stat: dict) -> str:
    return f"{stat['mean']:.3f} ± {stat['sd']:.3f}"


def readme_passages(results: dict, table: str) -> dict[str, str]:
    """What the READMEs quote, by marker: the project README's results paragraph and seed 0's
    printed summary, and the whole table for this folder's README."""
    s, runs = results["summary"], results["runs"]
    a = s["acceptance"]
    unmet = [str(run["seed"]) for run in runs if not run["acceptance"]["met"]]
    demo = margin([run["acceptance"]["forget_recall"] for run in runs], [run["acceptance"]["retain_drop"] for run in runs])
    paragraph = (
        f"Measured over seeds 0-4 (`experiments/toy_world/seeds.md`, written by `python experiments/toy_world/seeds.py` "
        f"in {results['wall_time_s']:.0f} s with {sum(run['baseline_cached'] for run in runs)} of the {len(runs)} "
        f"baselines read from the cache; mean ± sd over the seeds) on {described(results['machine'])}: "
        f"the unlearned model's forget recall is {spread(s['unlearned']['probe/forget_recall'])} "
        f"(the baseline's {spread(s['baseline']['probe/forget_recall'])}), it loses "
        f"{spread(a['retain_drop'])} of its retain recall (at most {a['retain_drop']['max']:.3f} on one seed; "
        f"the baseline's {spread(s['baseline']['probe/retain_recall'])}), and its generic perplexity changes by "
        f"{100 * a['perplexity_up']['mean']:+.1f}% ± {100 * a['perplexity_up']['sd']:.1f}. The toy world's three criteria "
        f"(forget recall <= 0.10, retain recall within 0.05, generic perplexity at most +10%) hold on "
        f"{a['seeds_met']} of the {len(runs)} seeds"
        + (f" (not on seed{'s' * (len(unmet) > 1)} {', '.join(unmet)})" if unmet else "")
        + "; "
        "the demo's margin (those criteria on every seed, mean forget recall <= 0.06 and mean retain loss <= 0.03) "
        + ("holds" if demo["holds"] else "does not hold" + (f" ({' and '.join(demo['misses'])} above the limit)" if demo["misses"] else ""))
        + ". "
        "One seed's digits differ from machine to machine (`experiments/toy_world/README.md`, "
        '"Why another machine gives other digits"); the spread is the result.'
    )
    printed = "```\n" + results["printed_seed_0"] + "\n```"
    return {"results": paragraph, "printed": printed, "table": table}


def splice(text: str, marker: str, passage: str) -> str:
    """text with what stands between <!-- seeds.py: marker --> and <!-- seeds.py: end marker --> replaced."""
    begin, end = f"<!-- seeds.py: {marker} -->\n", f"\n<!-- seeds.py: end {marker} -->"
    head, rest = text.split(begin, 1)
    return head + begin + passage + end + rest.split(end, 1)[1]


def table_text(results: dict) -> str:
    s = results["summary"]
    lines = [
        f"Seeds {', '.join(str(r['seed']) for r in results['runs'])}; {described(results['machine'])}; {results['wall_time_s']:.0f} s.",
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
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "unlearn"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--name", default="seeds")
    parser.add_argument("overrides", nargs="*", help="key=value, as for python -m unlearn")
    args = parser.parse_args()
    out = Path(args.out)
    start = time.perf_counter()
    runs, printed = [], {}
    for seed in SEEDS:
        run_dir = out / "runs" / f"{args.name}_{seed}"
        cfg = compose_config([f"paths.cache_dir={args.cache_dir}", f"paths.output_dir={run_dir}", f"seed={seed}", *args.overrides])
        report = run_pipeline(cfg, run_dir)
        printed[seed] = printed_summary(report)
        models = {model: report["models"][model] for model in MODELS}
        runs.append(
            {
                "seed": seed,
                "models": models,
                "acceptance": acceptance(models["baseline"], models["unlearned"]),
                "timings_s": report["timings_s"],
                "baseline_cached": report["cache"]["baseline"]["hit"],
            }
        )
        print(json.dumps({"seed": seed, **runs[-1]["acceptance"]}), flush=True)
    results = {
        "overrides": args.overrides,
        "machine": machine(),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "runs": runs,
        "printed_seed_0": printed[0],
    }
    results["summary"] = summary(runs)
    (out / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n")
    table = table_text(results)
    (out / f"{args.name}.md").write_text(table + "\n")
    if args.name == "seeds" and out == HERE:
        for marker, passage in readme_passages(results, table).items():
            READMES[marker].write_text(splice(READMES[marker].read_text(), marker, passage))


if __name__ == "__main__":
    main()
