"""The two prompts that carry the familiarity score, followed from the labels to the prompt.

    python experiments/macbeth/carriers.py [point ...]    # default: the recipe's seeds, the discovered dictionary's, and the variants

Of the 28 next-token prompts, two hold most of the baseline's familiarity: "...also called the
Weird" Sisters and "Is this a dagger which I see before" me, answers of ordinary English that
the play also writes. For each point (soft labels), at each of the play's occurrences of the
answer: the probability the point's label gives it there, and the unlearned model's with the
play's text before it; then the unlearned model's after the prompt alone. A label that sends
the answer to zero, a model that follows it in the play and keeps it after the prompt: the
forgetting holds in the play's context and not out of it. Writes carriers.json and carriers.md
beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from anchor_inside import probabilities, readings
from safetensors.torch import load_file
from sweep import built

HERE = Path(__file__).resolve().parent
POINTS = [
    *(f"soft_logprobs{kind}_lr3e-4{seed}" for kind in ("", "_auto") for seed in ("", "_seed1", "_seed2")),
    "soft_logprobs_alpha10_lr3e-4",
    "soft_logprobs_alpha20_lr3e-4",
    "soft_logprobs_context128_lr3e-4",
]
ANSWERS = (("weird", " sisters", "Sisters"), ("which I see before", " me", "me"))
MATCHED_TOKENS = 2  # of the text before the answer, to find its position in the labelled blocks


def label_probability(labels: dict, tokenizer, reading: dict) -> float | None:
    """The label's probability of the reading's answer at its position in the blocks (0 where
    the answer is not among the label's kept tokens); None where the position is unlabelled."""
    before = tokenizer(reading["text"], add_special_tokens=False).input_ids[-MATCHED_TOKENS:]
    answer = tokenizer(reading["answer"], add_special_tokens=False).input_ids[0]
    ids = labels["input_ids"]
    for block in range(ids.shape[0]):
        row = ids[block].tolist()
        for at in range(MATCHED_TOKENS, len(row)):
            if row[at] == answer and row[at - MATCHED_TOKENS : at] == before:
                kept = labels["target_probs"][block, at]
                if float(kept.sum()) == 0:
                    return None
                return float(kept[labels["target_ids"][block, at] == answer].sum())
    raise LookupError(f"{reading['where']}: {reading['answer']!r} after {before} is in no labelled block")


def measure(point: str, read: list[dict], models: tuple[str, ...]) -> dict:
    """The probabilities of `read` under the point's `models` (of baseline, unlearned), and its labels' at the play's readings."""
    with built(point) as (prepared, run):
        measured = {}
        for name in models:
            loaded, tokenizer = prepared.parts.model.load(getattr(run, name).ref)
            measured[name] = probabilities(loaded.eval(), tokenizer, read)
        labels = load_file(run.labels.folder / "labels.safetensors")
        measured["label"] = [label_probability(labels, tokenizer, r) if r["where"] != "familiarity prompt" else None for r in read]
    return measured


def main(points: list[str]) -> None:
    """Every point shares the baseline (sweep.py): it is read once, with the first point."""
    read = [r for answer in ANSWERS for r in readings(*answer)]
    measured = {point: measure(point, read, ("baseline", "unlearned") if i == 0 else ("unlearned",)) for i, point in enumerate(points)}
    result = {
        "readings": [{k: r[k] for k in ("where", "answer")} | {"ends": " ".join(r["text"].split()[-6:])} for r in read],
        "baseline": measured[points[0]]["baseline"],
        "label": {point: m["label"] for point, m in measured.items()},
        "unlearned": {point: m["unlearned"] for point, m in measured.items()},
    }
    (HERE / "carriers.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "carriers.md").write_text(summary(result, points))


def summary(result: dict, points: list[str]) -> str:
    def cell(point: str, i: int) -> str:
        label = result["label"][point][i]
        shown = "-" if result["readings"][i]["where"] == "familiarity prompt" else "unlabelled" if label is None else f"{label:.3f}"
        return f"{shown} / {result['unlearned'][point][i]:.3f}"

    lines = [
        "# The answers that carry familiarity: label, play, prompt",
        "",
        f"Written by `python experiments/macbeth/carriers.py {' '.join(points)}`. Each cell: the point's label's "
        "probability of the answer at that position of the play (- for the prompt) / the unlearned model's probability "
        "of it after the text read; the baseline's in its own column.",
        "",
        f"| read | ends with | answer | baseline | {' | '.join(points)} |",
        "|---" * (4 + len(points)) + "|",
        *(
            f"| {r['where']} | {r['ends']} | {r['answer'].strip()} | {result['baseline'][i]:.3f} | "
            + " | ".join(cell(p, i) for p in points)
            + " |"
            for i, r in enumerate(result["readings"])
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1:] or POINTS)
