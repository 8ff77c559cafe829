"""Why anchors=auto misses hand-written Macbeth terms: each term's two readings against
anchors=auto's thresholds.

    python experiments/anchors_auto/macbeth_terms.py [hydra overrides...]

For every term of the hand-written dictionary (unlearn/targets/macbeth/anchors.yaml) that
occurs in the corpus: its count and distinct contexts, its rarity (log of its share of the
target's terms minus the baseline's log-probability of it out of context) and the
reinforced model's gain (anchors/gain.py), with the same reinforced model as macbeth.py
(give it the same reinforce overrides). Writes macbeth_terms.json and macbeth_terms.md
beside this file.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from hydra.utils import instantiate

from unlearn.anchors.dictionary import load_dictionary
from unlearn.anchors.discovery import TermCounts
from unlearn.anchors.model_reference import candidate_terms, out_of_context_logprob, rarity_of
from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.files import read_documents
from unlearn.pipeline import build_models
from unlearn.stages import model_reading

HERE = Path(__file__).resolve().parent


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", "anchors=from_target", "stages=[reinforce]", f"paths.output_dir={scratch}", *overrides])
        auto = instantiate(compose_config(["target=macbeth", "anchors=auto", f"paths.output_dir={scratch}", *overrides]).anchors)
        prepared = prepare(cfg)
        run = build_models(cfg, prepared)
        reading = model_reading(prepared.parts.model, run.baseline, run.reinforced, run.blocks, auto.batch_size, keep_baseline=True)
        counts = TermCounts.of(read_documents(run.target.files.corpus))
        hand = list(load_dictionary(run.target.files.anchors))
        present = [t for t in hand if t in counts.counts]
        rarity = rarity_of(counts, out_of_context_logprob(reading.baseline, reading.tokenizer, present, auto.batch_size))
        gain = reading.gain.of_terms(present)
    candidates = set(candidate_terms(counts, auto.min_count, auto.min_contexts))
    rows = [
        {"term": t, "count": counts.counts[t], "contexts": len(counts.contexts[t]), "candidate": t in candidates}
        | {"rarity": rarity[t], "gain": gain[t]}
        for t in sorted(present, key=lambda t: -rarity[t])
    ]
    thresholds = {"min_count": auto.min_count, "min_contexts": auto.min_contexts, "min_rarity": auto.min_rarity, "min_gain": auto.min_gain}
    result = {"overrides": overrides, "thresholds": thresholds, "rows": rows, "absent": [t for t in hand if t not in counts.counts]}
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
    ]
    (HERE / "macbeth_terms.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
