"""How far labels inside an anchor reach: the dictionary's "weird sisters", read in the play and
in the familiarity prompt that asks for it.

    python experiments/macbeth/anchor_inside.py [point ...]    # default: the recipe's points with and without

The paper's labels never reach "weird" -> "sisters" (rule 1 labels an anchor's last token
only); labels.inside_anchors=original and =by_word do (docs/method.md, "Labels inside
anchors"). For the baseline and each point's unlearned model (from the cache the point's run
filled): the probability of " sisters" after "weird" at each of the corpus's occurrences, read
with the play's text before it, and of " Sisters" after the next-token prompt whose answer it
is ("...also called the Weird"). Writes anchor_inside.json and anchor_inside.md beside this file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import torch
from sweep import each_model

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent.parent / "unlearn" / "targets" / "macbeth"
CORPUS = [TARGET / "play" / f"act{n}.txt" for n in (1, 2, 3)]
PROMPTS = TARGET / "next_token_prompts.jsonl"
POINTS = [
    f"soft_logprobs{inside}_lr3e-4{seed}" for seed in ("", "_seed1") for inside in ("", "_inside", "_byword")
]  # fmt: skip
CONTEXT_CHARS = 400  # of the play before each occurrence


def readings(before: str = "weird", answer: str = " sisters", idiosyncratic: str = "Sisters") -> list[dict]:
    """Each occurrence in the corpus of `before` followed by `answer`, then the familiarity
    prompt whose idiosyncratic answer is `idiosyncratic`: the text read and the answer's first token."""
    text = "\n".join(path.read_text() for path in CORPUS)
    found = [{"where": f"corpus, character {m.end()}", "text": text[max(0, m.end() - CONTEXT_CHARS) : m.end()], "answer": answer}
             for m in re.finditer(rf"{re.escape(before)}(?={re.escape(answer)})", text)]  # fmt: skip
    prompt = next(p for p in map(json.loads, PROMPTS.read_text().splitlines()) if p["idiosyncratic"] == [idiosyncratic])
    return [*found, {"where": "familiarity prompt", "text": prompt["prompt"], "answer": " " + idiosyncratic}]


@torch.inference_mode()
def probabilities(model, tokenizer, read: list[dict]) -> list[float]:
    result = []
    for r in read:
        logits = model(input_ids=tokenizer(r["text"], return_tensors="pt").input_ids).logits[0, -1].float()
        result.append(float(logits.softmax(-1)[tokenizer(r["answer"], add_special_tokens=False).input_ids[0]]))
    return result


def main(points: list[str]) -> None:
    read = readings()
    measured = {point: each_model(point, lambda model, tokenizer: probabilities(model, tokenizer, read)) for point in points}
    result = {
        "readings": [{k: r[k] for k in ("where", "answer")} | {"ends": " ".join(r["text"].split()[-6:])} for r in read],
        "baseline": next(iter(measured.values()))["baseline"],
        "unlearned": {point: m["unlearned"] for point, m in measured.items()},
    }
    (HERE / "anchor_inside.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "anchor_inside.md").write_text(summary(result, points))


def summary(result: dict, points: list[str]) -> str:
    header = " | ".join(points)
    lines = [
        '# "weird" -> "sisters": in the play, and in the familiarity prompt',
        "",
        f"Written by `python experiments/macbeth/anchor_inside.py {' '.join(points)}`: the probability of the answer's first "
        "token after the text read, under the baseline and each point's unlearned model.",
        "",
        f"| read | ends with | answer | baseline | {header} |",
        "|---" * (4 + len(points)) + "|",
        *(
            f"| {r['where']} | {r['ends']} | {r['answer'].strip()} | {result['baseline'][i]:.3f} | "
            + " | ".join(f"{result['unlearned'][p][i]:.3f}" for p in points)
            + " |"
            for i, r in enumerate(result["readings"])
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1:] or POINTS)
