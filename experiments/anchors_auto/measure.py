"""anchors=auto on the toy world, whose true anchored terms are known:

1. discovery: precision and recall of the discovered terms against the world's true
   dictionary, for the worlds of three seeds (target.seed=0,1,2);
2. the reinforced model's signal: the same on world 0 with anchors.reinforced_terms=0, 3,
   10 (terms added by the reinforced model's gain; worlds 1 and 2 would need baselines of
   their own, 3.5 minutes each), and the gain of the true terms against the text's other words;
3. unlearning: the default run with the discovered dictionary vs the true one (seed 0).

    python experiments/anchors_auto/measure.py [hydra overrides...]
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from unlearn.anchors.dictionary import load_dictionary
from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.pipeline import Artifacts, build_models
from unlearn.stages import model_reading

HERE = Path(__file__).resolve().parent
WORLD_SEEDS = [0, 1, 2]
REPORTED = ["probe/forget_recall", "probe/retain_recall", "familiarity_completion/score", "perplexity/generic_heldout"]


def pipeline(overrides: list[str], out: Path) -> Artifacts:
    """The run's stages up to the dictionary."""
    cfg = compose_config([f"paths.output_dir={out}", "stages=[dictionary]", *overrides])
    return build_models(cfg, prepare(cfg))


def scored(run: Artifacts) -> dict:
    """The run's discovered dictionary against the world's true one."""
    found = set(run.dictionary.dictionary.terms)
    true = set(load_dictionary(run.target.files.anchors))
    hits = found & true
    return {
        "found": len(found), "true": len(true), "precision": len(hits) / len(found), "recall": len(hits) / len(true),
        "missed": sorted(true - found), "extra": sorted(found - true),
    }  # fmt: skip


def discovery(overrides: list[str], out: Path) -> list[dict]:
    rows = []
    for seed in WORLD_SEEDS:
        rows.append({"world_seed": seed, **scored(pipeline([*overrides, "anchors=auto", f"target.seed={seed}"], out / f"world{seed}"))})
        print(rows[-1], flush=True)
    return rows


def reinforced_signal(overrides: list[str], out: Path) -> list[dict]:
    rows = []
    for terms in (0, 3, 10):
        run = pipeline([*overrides, "anchors=auto", f"anchors.reinforced_terms={terms}"], out / f"reinforced{terms}")
        score = scored(run)
        written = (out / f"reinforced{terms}" / "anchors_auto.yaml").read_text()
        added = [line.split(":")[0].strip('"') for line in written.splitlines() if "reinforced model's gain" in line]
        left_out = [line for line in written.splitlines() if line.startswith("# Found but")]
        rows.append({"reinforced_terms": terms, **score, "added_with_alternatives": added, "left_out": left_out})
        print(rows[-1], flush=True)
    return rows


def gain_of_true_terms(overrides: list[str], out: Path) -> dict:
    """How much the reinforced model raises the true single-word terms, against the target
    text's other words (gain.py: mean log-probability gain where a term's tokens come next)."""
    cfg = compose_config([f"paths.output_dir={out / 'gain'}", "anchors=from_target", "stages=[reinforce]", *overrides])
    prepared = prepare(cfg)
    parts, run = prepared.parts, build_models(cfg, prepared)
    gain = model_reading(parts.model, run.baseline, run.reinforced, run.blocks, parts.labels.batch_size, keep_baseline=False).gain
    text = " ".join(run.blocks.blocks.texts)
    true = set(load_dictionary(run.target.files.anchors))
    terms = gain.of_terms(t for t in sorted(true) if " " not in t and re.search(rf"\b{re.escape(t)}\b", text))
    others = list(gain.of_terms(sorted(set(re.findall(r"[A-Za-z]+", text)) - true)).values())
    summary = {
        "true_terms": len(terms), "true_mean_gain": sum(terms.values()) / len(terms),
        "true_under_0.01": sum(g < 0.01 for g in terms.values()), "true_negative": sum(g < 0 for g in terms.values()),
        "other_words": len(others), "other_mean_gain": sum(others) / len(others), "favourite": gain.of_terms(["favourite"])["favourite"],
    }  # fmt: skip
    print(summary, flush=True)
    return summary


def unlearning(overrides: list[str], out: Path) -> dict:
    results = {}
    for anchors in ("from_target", "auto"):
        report = pipeline([*overrides, f"anchors={anchors}"], out / anchors).run()
        results[anchors] = {model: {m: report["models"][model].get(m) for m in REPORTED} for model in ("baseline", "unlearned")}
        print(anchors, results[anchors], flush=True)
    return results


def main(overrides: list[str]) -> None:
    out = Path(tempfile.mkdtemp(prefix="anchors-auto-"))
    result = {
        "overrides": overrides,
        "discovery": discovery(overrides, out),
        "reinforced_signal": reinforced_signal(overrides, out),
        "gain_of_true_terms": gain_of_true_terms(overrides, out),
        "unlearning": unlearning(overrides, out),
    }
    (HERE / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"dictionary discovered for world 0: {out / 'auto' / 'anchors_auto.yaml'}")


if __name__ == "__main__":
    main(sys.argv[1:])
