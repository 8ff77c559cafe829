"""Which of the lm-eval general-knowledge questions a Macbeth sweep point's unlearned model
gets wrong that the baseline got right, and by how much the baseline had preferred its answer.

    python experiments/macbeth/lm_eval_margins.py [point]    # default: the recipe's point

Scores every choice of unlearn/targets/macbeth/lm_eval/general_knowledge.jsonl as that task's
YAML asks lm-eval to ("Question: {query}\\nAnswer:" followed by " {choice}", the summed
log-probability of the choice's tokens, the highest wins) for the point's baseline and unlearned
model (from the cache the point's run filled). A question's margin is its best choice's score
minus the next best's. Writes lm_eval_margins.json and lm_eval_margins.md beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sweep import each_model
from tqdm.auto import tqdm

from unlearn.evaluation.likelihood import continuation_logprobs

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE.parent.parent / "unlearn" / "targets" / "macbeth" / "lm_eval" / "general_knowledge.jsonl"
RECIPE_POINT = "soft_logprobs_lr3e-4"


def choice_scores(model, tokenizer, questions: list[dict]) -> list[list[float]]:
    return [
        continuation_logprobs(model, tokenizer, [(f"Question: {q['query']}\nAnswer:", f" {choice}") for choice in q["choices"]], 4)
        for q in tqdm(questions, desc="questions", unit="question")
    ]


def reading(scores: list[float]) -> tuple[int, float]:
    """The chosen answer and its margin over the next best."""
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    return ranked[0], scores[ranked[0]] - scores[ranked[1]]


def main(point: str) -> None:
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]
    scores = each_model(point, lambda model, tokenizer: choice_scores(model, tokenizer, questions))
    rows = []
    for question, base, after in zip(questions, scores["baseline"], scores["unlearned"], strict=True):
        (chosen, margin), (chosen_after, margin_after) = reading(base), reading(after)
        rows.append({"query": question["query"], "gold": question["choices"][question["gold"]],
                     "baseline": question["choices"][chosen], "baseline_margin": margin,
                     "unlearned": question["choices"][chosen_after], "unlearned_margin": margin_after})  # fmt: skip
    result = {"point": point, "questions": rows} | {
        f"{name}_acc": sum(r[name] == r["gold"] for r in rows) / len(rows) for name in ("baseline", "unlearned")
    }
    (HERE / "lm_eval_margins.json").write_text(json.dumps(result, indent=1) + "\n")
    (HERE / "lm_eval_margins.md").write_text(summary(result))


def summary(result: dict) -> str:
    rows = result["questions"]
    right = [r for r in rows if r["baseline"] == r["gold"]]
    lost = [r for r in right if r["unlearned"] != r["gold"]]
    gained = [r for r in rows if r["baseline"] != r["gold"] and r["unlearned"] == r["gold"]]
    thin = max((r["baseline_margin"] for r in lost), default=0.0)
    lines = [
        f"# lm-eval general knowledge, question by question: point {result['point']}",
        "",
        f"Written by `python experiments/macbeth/lm_eval_margins.py {result['point']}`. Accuracy "
        f"{result['baseline_acc']:.3f} (baseline) -> {result['unlearned_acc']:.3f} (unlearned): {len(lost)} questions lost, "
        f"{len(gained)} gained. Of the {len(right)} the baseline answers right, "
        f"{sum(r['baseline_margin'] <= thin for r in right)} do so by at most {thin:.2f} nats, the widest margin among those lost.",
        "",
        "| question | answer | baseline's margin, nats | unlearned model's choice (margin) |",
        "|---|---|---|---|",
        *(
            f"| {r['query']} | {r['gold']} | {r['baseline_margin']:.2f} | {r['unlearned']} ({r['unlearned_margin']:.2f}) |"
            for r in sorted(right, key=lambda r: r["baseline_margin"])
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else RECIPE_POINT)
