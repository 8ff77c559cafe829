"""Looking for a default with margin (issue 19): variants of the default over seeds 0-4.

    python experiments/toy_world/margin.py [--cache-dir DIR] [--out DIR] [--resume] [key=value ...]

The recorded search (margin.json, margin.md) ran on the world before its retain facts were
told 16 times: `margin.py target.retain_reps=null` repeats it; its two variants that tell
them 16 times are the default since.

Each variant runs at seeds 0-4 with the probe and perplexity evaluators only. Writes
margin.json and margin.md here: per variant, each seed's forget recall / loss of retain
recall, their means and worst seeds, and whether the demo's margin holds (every seed:
forget recall <= 0.10 and retain loss <= 0.05; the means: <= 0.06 and <= 0.03). Variants
that keep the default baseline share its five pretrainings (about 5 minutes each, cached);
those that change the pretraining train five more. --resume keeps the variants recorded on
this machine and libraries with the same overrides (margin.json is written after each
variant), and measures the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from runner import acceptance, experiment_arguments, margin, run_variant

from unlearn.machine import described, machine

SEEDS = (0, 1, 2, 3, 4)
VARIANTS: dict[str, list[str]] = {
    "default: unlearn 7 epochs": [],
    "unlearn 6 epochs (the default before)": ["unlearn.epochs=6"],
    "unlearn 8 epochs": ["unlearn.epochs=8"],
    "6 epochs, alpha 10": ["unlearn.epochs=6", "labels.alpha=10"],
    "6 epochs, titles left in the text": ["unlearn.epochs=6", "target.anchor_titles=false"],
    "7 epochs, titles left in the text": ["target.anchor_titles=false"],
    "6 epochs, soft labels": ["unlearn.epochs=6", "labels=soft"],
    "7 epochs, soft labels": ["labels=soft"],
    "6 epochs, soft labels, titles left in the text": ["unlearn.epochs=6", "labels=soft", "target.anchor_titles=false"],
    "pretraining 90 epochs, unlearn 6": ["model.pretrain.epochs=90", "unlearn.epochs=6"],
    "pretraining 90 epochs, unlearn 8": ["model.pretrain.epochs=90", "unlearn.epochs=8"],
    "pretraining 90 epochs, unlearn 10": ["model.pretrain.epochs=90", "unlearn.epochs=10"],
    "pretraining 90 epochs, soft labels, unlearn 8": ["model.pretrain.epochs=90", "labels=soft", "unlearn.epochs=8"],
    "retain world told 16 times": ["target.retain_reps=16"],
    "retain world told 16 times, soft labels": ["target.retain_reps=16", "labels=soft"],
}


def write_table(results: dict, path: Path) -> None:
    lines = [
        f"Seeds 0-4, probes and perplexity only; {described(results['machine'])}. "
        + (f"Every variant with {' '.join(results['common'])}. " if results["common"] else "")
        + "Each cell: forget recall / loss of retain recall.",
        "",
        "| variant | overrides | " + " | ".join(f"seed {s}" for s in SEEDS) + " | mean | worst | margin |",
        "|---|---|" + "---|" * len(SEEDS) + "---|---|---|",
    ]
    for name, variant in results["variants"].items():
        cells = [f"{row['forget_recall']:.3f} / {row['retain_drop']:.3f}" for row in variant["seeds"]]
        s = variant["margin"]
        mean, worst = s["means"], s["worst"]
        lines.append(
            f"| {name} | {' '.join(variant['overrides']) or '(none)'} | " + " | ".join(cells)
            + f" | {mean['forget recall']:.3f} / {mean['retain loss']:.3f} | {worst['forget recall']:.3f} / {worst['retain loss']:.3f} "
            f"| {'holds' if s['holds'] else 'no'} |"
        )  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def recorded(path: Path, machine: dict, common: list[str]) -> dict:
    """The variants an earlier run recorded, when it ran on the same machine and libraries with the same common overrides."""
    if not path.is_file():
        return {}
    earlier = json.loads(path.read_text())
    same = earlier["machine"] == machine and earlier.get("common", []) == common
    return earlier["variants"] if same else {}


def main() -> None:
    args = experiment_arguments(__doc__, resumable=True)
    cache_dir, out, common = args.cache_dir, args.out, args.overrides
    host = machine()
    earlier = recorded(out / "margin.json", host, common) if args.resume else {}
    measured: dict = {}

    def save() -> dict:
        """margin.json after each variant, the kept ones included, so that --resume loses nothing."""
        variants = {name: measured.get(name) or earlier[name] for name in VARIANTS if name in measured or name in earlier}
        results = {"machine": host, "common": common, "variants": variants}
        (out / "margin.json").write_text(json.dumps(results, indent=1) + "\n")
        return results

    for index, (name, overrides) in enumerate(VARIANTS.items()):
        if earlier.get(name, {}).get("overrides") == overrides:
            print(f"{name}: recorded earlier with the same overrides on this machine and libraries, kept", flush=True)
            continue
        earlier.pop(name, None)
        rows = []
        for seed in SEEDS:
            report = run_variant(cache_dir, out / "runs" / f"margin_{index}_{seed}", [*common, f"seed={seed}", *overrides])
            rows.append({"seed": seed, **acceptance(report["models"]["baseline"], report["models"]["unlearned"])})
            print(json.dumps({"variant": name, **rows[-1]}), flush=True)
        found = margin([row["forget_recall"] for row in rows], [row["retain_drop"] for row in rows])
        measured[name] = {"overrides": overrides, "seeds": rows, "margin": found}
        save()
    write_table(save(), out / "margin.md")


if __name__ == "__main__":
    main()
