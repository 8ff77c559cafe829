"""Why anchors=auto misses hand-written Macbeth terms: each term's two readings against
anchors=auto's thresholds.

    python experiments/anchors_auto/macbeth_terms.py [hydra overrides...]

For every term of the hand-written dictionary (unlearn/targets/macbeth/anchors.yaml) that
occurs in the corpus: its count and distinct contexts, its rarity (log of its share of the
target's terms minus the baseline's log-probability of it out of context) and the
reinforced model's gain (anchors/gain.py), with the same reinforced model as macbeth.py
(give it the same reinforce overrides). Then, over every candidate term of the corpus, the
precision and recall (scored as macbeth.py scores them) of each pair of thresholds on a
grid, with the term's gain read three ways: the mean over its tokens (anchors=auto's), its
first token's, and its largest. Writes macbeth_terms.json and macbeth_terms.md beside this
file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
from hydra.utils import instantiate
from macbeth import score

from unlearn.anchors.dictionary import load_dictionary
from unlearn.anchors.discovery import TermCounts
from unlearn.anchors.model_reference import candidate_terms, out_of_context_logprob, rarity_of, rate_terms
from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.files import read_documents
from unlearn.pipeline import build_models
from unlearn.stages import model_reading

HERE = Path(__file__).resolve().parent
# How a term's per-token gains are read as one number (anchors=auto reads the mean).
READINGS = {
    "mean": lambda gains: float(gains.mean()),
    "first token": lambda gains: float(gains[0]),
    "largest": lambda gains: float(gains.max()),
}
GRID_RARITY = (8.0, 10.0, 12.0, 14.0)
GRID_GAIN = (0.5, 0.75, 1.0, 1.5, 2.0)


def grid(counts: TermCounts, rarity: dict[str, float], gains: dict[str, torch.Tensor], hand: dict, min_contexts: int) -> list[dict]:
    """Precision and recall of the terms anchors=auto's rule (rate_terms) keeps at each
    (reading, min_rarity, min_gain)."""
    points = []
    for reading, read in READINGS.items():
        gain = {t: read(g) for t, g in gains.items()}
        for min_rarity in GRID_RARITY:
            for min_gain in GRID_GAIN:
                kept = rate_terms(counts, rarity, lambda terms, gain=gain: {t: gain[t] for t in terms}, min_rarity, min_gain, min_contexts)
                scored = score({d.term: () for d in kept}, hand)
                points.append({"reading": reading, "min_rarity": min_rarity, "min_gain": min_gain}
                              | {k: scored[k] for k in ("found", "precision", "recall")})  # fmt: skip
    return points


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", "anchors=from_target", "stages=[reinforce]", f"paths.output_dir={scratch}", *overrides])
        auto = instantiate(compose_config(["target=macbeth", "anchors=auto", f"paths.output_dir={scratch}", *overrides]).anchors)
        prepared = prepare(cfg)
        run = build_models(cfg, prepared)
        reading = model_reading(prepared.parts.model, run.baseline, run.reinforced, run.blocks, auto.batch_size, keep_baseline=True)
        counts = TermCounts.of(read_documents(run.target.files.corpus))
        hand_dictionary = load_dictionary(run.target.files.anchors)
        hand = list(hand_dictionary)
        present = [t for t in hand if t in counts.counts]
        candidates = set(candidate_terms(counts, auto.min_count, auto.min_contexts))
        measured = sorted(candidates | set(present))
        rarity = rarity_of(counts, out_of_context_logprob(reading.baseline, reading.tokenizer, measured, auto.batch_size))
        gain = reading.gain.of_terms(present)
        token_gains = {t: reading.gain.of_tokens(t) for t in candidates}
    points = grid(counts, {t: rarity[t] for t in candidates}, token_gains, hand_dictionary, auto.min_contexts)
    everything = score(dict.fromkeys(candidates, ()), hand_dictionary)
    rows = [
        {"term": t, "count": counts.counts[t], "contexts": len(counts.contexts[t]), "candidate": t in candidates}
        | {"rarity": rarity[t], "gain": gain[t]}
        for t in sorted(present, key=lambda t: -rarity[t])
    ]
    thresholds = {"min_count": auto.min_count, "min_contexts": auto.min_contexts, "min_rarity": auto.min_rarity, "min_gain": auto.min_gain}
    result = {
        "overrides": overrides, "thresholds": thresholds, "rows": rows, "absent": [t for t in hand if t not in counts.counts],
        "candidates": len(candidates), "every_candidate": {k: everything[k] for k in ("precision", "recall")}, "grid": points,
    }  # fmt: skip
    (HERE / "macbeth_terms.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# The hand-written Macbeth terms against anchors=auto's thresholds",
        "",
        f"Written by `python experiments/anchors_auto/macbeth_terms.py {' '.join(overrides)}`. Thresholds: "
        + ", ".join(f"{k} {v}" for k, v in thresholds.items())
        + f". Not in the corpus: {', '.join(result['absent']) or '-'}.",
        "",
        "| term | count | contexts | candidate | rarity | gain |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['term']} | {r['count']} | {r['contexts']} | {'yes' if r['candidate'] else 'no'} | {r['rarity']:.1f} | {r['gain']:.2f} |"
            for r in rows
        ),
        "",
        f"## Every pair of thresholds, over the corpus's {len(candidates)} candidate terms",
        "",
        "Precision / recall (terms kept) against the hand-written dictionary, scored as `macbeth.py` scores them "
        "(before alternatives are proposed: a term the baseline proposes none for is still counted here). "
        f"Every candidate kept: precision {everything['precision']:.2f}, recall {everything['recall']:.2f}.",
        "",
        *grid_table(points),
    ]
    (HERE / "macbeth_terms.md").write_text("\n".join(lines) + "\n")


def grid_table(points: list[dict]) -> list[str]:
    lines = []
    for reading in READINGS:
        lines += [f"Gain read as the {reading}:", "", "| min_rarity | " + " | ".join(f"min_gain {g}" for g in GRID_GAIN) + " |",
                  "|---" * (len(GRID_GAIN) + 1) + "|"]  # fmt: skip
        for min_rarity in GRID_RARITY:
            cells = [p for p in points if p["reading"] == reading and p["min_rarity"] == min_rarity]
            lines.append(
                f"| {min_rarity:g} | " + " | ".join(f"{p['precision']:.2f} / {p['recall']:.2f} ({p['found']})" for p in cells) + " |"
            )
        lines.append("")
    return lines


if __name__ == "__main__":
    main(sys.argv[1:])
