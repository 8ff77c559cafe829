"""Probability familiarity (the paper's second measure): how much probability a model puts on
continuations only someone who knows the target would give."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.evaluation import Measurement, require
from unlearn.evaluation.likelihood import continuation_logprobs
from unlearn.files import read_records
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class FamiliarityProbability:
    """Per prompt, the total probability of its idiosyncratic candidates (whole strings, after a
    space) and of its generic ones; the score is the mean idiosyncratic total over prompts."""

    batch_size: int

    def check(self, target: TargetFiles) -> None:
        self.rows(target)

    def rows(self, target: TargetFiles) -> list[dict]:
        path = require(target.next_token_prompts, "familiarity_probability", "next_token_prompts", target)
        hint = "each prompt needs prompt and lists of idiosyncratic and generic continuations"
        return read_records(path, ("prompt", "idiosyncratic", "generic"), hint, "target.next_token_prompts")

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        rows = self.rows(target)
        pairs = [(row["prompt"], f" {c}") for row in rows for c in (*row["idiosyncratic"], *row["generic"])]
        probabilities = iter(math.exp(lp) for lp in continuation_logprobs(model, tokenizer, pairs, self.batch_size))
        table = []
        for row in rows:
            idiosyncratic = {c: next(probabilities) for c in row["idiosyncratic"]}
            generic = {c: next(probabilities) for c in row["generic"]}
            candidates = {**idiosyncratic, **generic}
            table.append(
                {
                    "prompt": row["prompt"],
                    "p_idiosyncratic": sum(idiosyncratic.values()),
                    "p_generic": sum(generic.values()),
                    "top_candidate": max(candidates, key=candidates.__getitem__),
                }
            )
        score = sum(r["p_idiosyncratic"] for r in table) / len(table)
        return Measurement(
            {"familiarity_probability/score": score}, {"familiarity_probability/score": "forget"}, {"familiarity_probability": table}
        )
