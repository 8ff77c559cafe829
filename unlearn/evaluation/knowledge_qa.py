"""Knowledge memorization (MUSE's KnowMem): does the model still answer questions about the target?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.errors import UserError
from unlearn.evaluation import Measurement, require
from unlearn.evaluation.generation import complete
from unlearn.evaluation.scoring import rouge_l
from unlearn.files import read_records
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def first_line(text: str) -> str:
    return text.strip().split("\n")[0].strip()


def normalise(text: str) -> str:
    return " ".join(text.lower().strip(" .!?").split())


@dataclass
class KnowledgeQA:
    """Greedy answers to `template`-formatted questions, cut at the first line break, scored by
    ROUGE-L recall against the answer and by exact match, per split (forget, retain)."""

    template: str
    max_new_tokens: int
    batch_size: int

    def check(self, target: TargetFiles) -> None:
        self.rows(target)

    def rows(self, target: TargetFiles) -> list[dict]:
        path = require(target.questions, "knowledge_qa", "questions", target)
        hint = "each question needs question, answer and split (forget or retain)"
        rows = read_records(path, ("question", "answer", "split"), hint, "target.questions")
        for number, row in enumerate(rows, start=1):
            if row["split"] not in ("forget", "retain"):
                raise UserError(f"{path}:{number}: split {row['split']!r} is neither 'forget' nor 'retain'; fix the question's split")
        return rows

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        rows = self.rows(target)
        prompts = [self.template.format(question=row["question"]) for row in rows]
        answers = [first_line(text) for text in complete(model, tokenizer, prompts, self.max_new_tokens, self.batch_size, "questions")]
        scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
        table = []
        for row, answer in zip(rows, answers, strict=True):
            recall = rouge_l(answer, row["answer"])[0]
            exact = float(normalise(answer) == normalise(row["answer"]))
            scores[row["split"]].append((recall, exact))
            table.append({"split": row["split"], "question": row["question"], "answer": row["answer"], "output": answer})
        metrics, sides = {}, {}
        for split, values in sorted(scores.items()):
            metrics[f"knowledge_qa/{split}_rouge_l"] = sum(v[0] for v in values) / len(values)
            metrics[f"knowledge_qa/{split}_exact_match"] = sum(v[1] for v in values) / len(values)
            side = "forget" if split == "forget" else "utility"
            sides.update({f"knowledge_qa/{split}_rouge_l": side, f"knowledge_qa/{split}_exact_match": side})
        return Measurement(metrics, sides, {"knowledge_qa": table})
