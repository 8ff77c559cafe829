"""Knowledge memorization (MUSE's KnowMem): does the model still answer questions about the target?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.evaluation import Measurement, require
from unlearn.evaluation.generation import complete
from unlearn.evaluation.scoring import rouge_l
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_records


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

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        path = require(target.questions, "knowledge_qa", "questions", target)
        rows = read_records(path, ("question", "answer", "split"), "each question needs question, answer and split (forget or retain)")
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
