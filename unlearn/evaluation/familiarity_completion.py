"""Completion familiarity (the paper's first measure): sampled completions of prompts about the
target, graded 0-3 by a judge for knowledge only the target could have given."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.anchors.dictionary import load_dictionary
from unlearn.evaluation import Measurement, require
from unlearn.evaluation.generation import Sampling, complete
from unlearn.evaluation.judges import Completion, Judge
from unlearn.files import read_records
from unlearn.report import SIDE_BY_SIDE
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def familiarity_score(grades: list[int]) -> float:
    """(5 x #grade-3 + #grade-2) / #graded, the published re-implementation's formula."""
    counts = Counter(grades)
    return (5 * counts[3] + counts[2]) / len(grades)


@dataclass
class FamiliarityCompletion:
    """`samples_per_prompt` completions of `max_new_tokens` tokens per prompt, sampled at
    `temperature` from `seed`, each graded by `judge`; `show` of them go to the report, and
    with `side_by_side`, each prompt's greedy completion too, which the report sets beside
    the other models' (what a model card shows: the prompt, the baseline, the unlearned)."""

    judge: Judge
    samples_per_prompt: int
    max_new_tokens: int
    temperature: float
    seed: int
    batch_size: int
    show: int
    side_by_side: bool = True

    def check(self, target: TargetFiles) -> None:
        self.rows(target)

    def rows(self, target: TargetFiles) -> list[dict]:
        path = require(target.completion_prompts, "familiarity_completion", "completion_prompts", target)
        hint = "each prompt needs prompt and references (a list of terms)"
        return read_records(path, ("prompt", "references"), hint, "target.completion_prompts")

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        rows = self.rows(target)
        anchored = tuple(load_dictionary(target.anchors)) if target.anchors else ()
        sampling = Sampling(self.samples_per_prompt, self.temperature, self.seed)
        texts = complete(model, tokenizer, [r["prompt"] for r in rows], self.max_new_tokens, self.batch_size, "familiarity", sampling)
        completions = [
            Completion(row["prompt"], text, tuple(row["references"]), anchored)
            for row, text in zip((r for r in rows for _ in range(self.samples_per_prompt)), texts, strict=True)
        ]
        grades = self.judge.grade(completions)
        counts = Counter(grades)
        metrics = {"familiarity_completion/score": familiarity_score(grades)}
        metrics.update({f"familiarity_completion/grade_{g}": float(counts[g]) for g in range(4)})
        table = [{"prompt": c.prompt, "completion": c.text, "grade": g} for c, g in zip(completions, grades, strict=True)]
        sides = {name: "forget" for name in metrics}
        tables = {"familiarity_completion": table[: self.show]}
        if self.side_by_side:
            prompts = [r["prompt"] for r in rows]
            greedy = complete(model, tokenizer, prompts, self.max_new_tokens, self.batch_size, "side by side")
            tables[SIDE_BY_SIDE] = [{"prompt": p, "completion": c} for p, c in zip(prompts, greedy, strict=True)]
        return Measurement(metrics, sides, tables)
