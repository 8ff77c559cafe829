"""anchors=auto on a real play with a real model and no reference text: target=macbeth,
SmolLM2 (model=smollm2) as the baseline standing in for ordinary text, against the
dictionary written by hand for the play (unlearn/targets/macbeth/anchors.yaml).

    python experiments/anchors_auto/macbeth.py [hydra overrides...]

A discovered term counts as right when it is a hand-written term or holds one as whole
words ("Enter Banquo" holds "Banquo", "FIRST WITCH" holds "WITCH"); a hand-written term
counts as found when a discovered term is it or holds it. The run's reinforced model is the
recipe's (experiments/macbeth), whose gain the discovery reads. Writes macbeth.json and
macbeth.md beside this file.
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


def main(overrides: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", "anchors=auto", "stages=[dictionary]", f"paths.output_dir={scratch}", *overrides])
        started = time.perf_counter()
        built = build_models(cfg, prepare(cfg))
        seconds = time.perf_counter() - started
    result = {"overrides": overrides, "seconds": seconds, **score(built.dictionary.dictionary.terms, load_dictionary(HAND))}
    (HERE / "macbeth.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# anchors=auto on Macbeth against the baseline (no reference text)",
        "",
        f"Written by `python experiments/anchors_auto/macbeth.py {' '.join(overrides)}`.",
        "",
        f"{result['found']} terms found; precision {result['precision']:.2f}, recall {result['recall']:.2f} against the "
        f"{len(load_dictionary(HAND))} hand-written terms; the run took {seconds:.0f} s (every stage up to the dictionary "
        "that the cache did not hold: from an empty cache, the GGUF conversion and the reinforced model too).",
        "",
        f"Wrong: {', '.join(result['wrong']) or '-'}",
        "",
        f"Missed: {', '.join(result['missed']) or '-'}",
        "",
        "| term | alternatives |",
        "|---|---|",
        *(f"| {t} | {', '.join(a)} |" for t, a in result["dictionary"].items()),
    ]
    (HERE / "macbeth.md").write_text("\n".join(lines) + "\n")
    print(f"precision {result['precision']:.2f} recall {result['recall']:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
