"""anchors=auto on a real play with a real model and no reference text: target=macbeth,
SmolLM2 (model=smollm2) as the baseline standing in for ordinary text, against the
dictionary written by hand for the play (unlearn/targets/macbeth/anchors.yaml).

    python experiments/anchors_auto/macbeth.py [hydra overrides...]

A discovered term counts as right when it is a hand-written term or holds one as whole
words ("Enter Banquo" holds "Banquo", "FIRST WITCH" holds "WITCH"); a hand-written term
counts as found when a discovered term is it or holds it. The run's reinforced model is the
recipe's (experiments/macbeth), whose gain the discovery reads. Each hand-written term is also
measured as the discovery measures a candidate (its count and contexts in the corpus, its
rarity against the baseline, the reinforced model's gain), with the thresholds that kept it
out, to show what limits recall. Writes macbeth.json and macbeth.md beside this file.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

from unlearn.anchors.dictionary import load_dictionary
from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.pipeline import build_models

HERE = Path(__file__).resolve().parent
HAND = HERE.parent.parent / "unlearn" / "targets" / "macbeth" / "anchors.yaml"


def holds(term: str, part: str) -> bool:
    return re.search(rf"(?<![A-Za-z]){re.escape(part)}(?![A-Za-z])", term) is not None


def score(found: dict[str, tuple[str, ...]], hand: dict[str, list[str]]) -> dict:
    right = [t for t in found if any(holds(t, h) for h in hand)]
    recalled = [h for h in hand if any(holds(t, h) for t in found)]
    return {
        "found": len(found),
        "precision": len(right) / max(1, len(found)),
        "recall": len(recalled) / len(hand),
        "wrong": sorted(set(found) - set(right)),
        "missed": sorted(set(hand) - set(recalled)),
        "dictionary": {t: list(a) for t, a in found.items()},
    }


def hand_terms_measured(cfg, built, hand: dict[str, list[str]]) -> list[dict]:
    """Each hand-written term as anchors=auto measures a candidate against the baseline, and
    which of its thresholds (cfg.anchors) the term misses."""
    from unlearn.anchors.discovery import FUNCTION_WORDS, TermCounts
    from unlearn.anchors.gain import TermGain, next_token_gain
    from unlearn.anchors.model_reference import out_of_context_logprob, rarity_of
    from unlearn.files import read_documents
    from unlearn.models import load_causal_lm

    anchors = cfg.anchors
    counts = TermCounts.of(read_documents(built.target.files.corpus))
    baseline, tokenizer = load_causal_lm(built.baseline.ref, cfg.model.dtype)
    reinforced, _ = load_causal_lm(built.reinforced.ref, cfg.model.dtype)
    present = [term for term in hand if counts.counts[term]]
    rarity = rarity_of(counts, out_of_context_logprob(baseline, tokenizer, present, anchors.batch_size))
    gain = TermGain(next_token_gain(baseline, reinforced, built.blocks.blocks, anchors.batch_size), tokenizer).of_terms(present)
    rows = []
    for term in hand:
        count, contexts = counts.counts[term], len(counts.contexts.get(term, ()))
        missing = [
            f"count < {anchors.min_count}" if count < anchors.min_count else "",
            f"contexts < {anchors.min_contexts}" if contexts < anchors.min_contexts else "",
            "a function word" if term.lower() in FUNCTION_WORDS else "",
            f"rarity < {anchors.min_rarity:g}" if term in rarity and rarity[term] < anchors.min_rarity else "",
            f"gain < {anchors.min_gain:g}" if term in gain and gain[term] < anchors.min_gain else "",
        ]
        rows.append({"term": term, "count": count, "contexts": contexts, "rarity": rarity.get(term), "gain": gain.get(term),
                     "kept out by": [reason for reason in missing if reason]})  # fmt: skip
    return rows


def main(overrides: list[str]) -> None:
    hand = load_dictionary(HAND)
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", "anchors=auto", "stages=[dictionary]", f"paths.output_dir={scratch}", *overrides])
        started = time.perf_counter()
        built = build_models(cfg, prepare(cfg))
        seconds = time.perf_counter() - started
        measured = hand_terms_measured(cfg, built, hand)
    result = {"overrides": overrides, "seconds": seconds, **score(built.dictionary.dictionary.terms, hand), "hand_terms": measured}
    (HERE / "macbeth.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# anchors=auto on Macbeth against the baseline (no reference text)",
        "",
        f"Written by `python experiments/anchors_auto/macbeth.py {' '.join(overrides)}`.",
        "",
        f"{result['found']} terms found; precision {result['precision']:.2f}, recall {result['recall']:.2f} against the "
        f"{len(load_dictionary(HAND))} hand-written terms; the dictionary stage took {seconds:.0f} s.",
        "",
        f"Wrong: {', '.join(result['wrong']) or '-'}",
        "",
        f"Missed: {', '.join(result['missed']) or '-'}",
        "",
        "| term | alternatives |",
        "|---|---|",
        *(f"| {t} | {', '.join(a)} |" for t, a in result["dictionary"].items()),
        "",
        "The hand-written terms as the discovery measures a candidate (rarity: log of the term's share of the corpus's terms",
        "minus log p_baseline(term | start of text); gain: the reinforced model's mean log-probability gain on the term's",
        "tokens), and the thresholds each misses:",
        "",
        "| term | count | contexts | rarity | gain | found | kept out by |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {row['term']} | {row['count']} | {row['contexts']} | {_number(row['rarity'])} | {_number(row['gain'])} "
            f"| {'no' if row['term'] in result['missed'] else 'yes'} | {', '.join(row['kept out by'])} |"
            for row in measured
        ),
    ]
    (HERE / "macbeth.md").write_text("\n".join(lines) + "\n")
    print(f"precision {result['precision']:.2f} recall {result['recall']:.2f}", file=sys.stderr)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main(sys.argv[1:])
