"""Membership inference (the attack behind MUSE's PrivLeak): can min-k% probability tell the
target's training text from text of the same kind that the model never saw?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.evaluation import Measurement, require
from unlearn.evaluation.likelihood import token_logprobs
from unlearn.evaluation.scoring import roc_auc
from unlearn.files import read_documents
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class MinKMembership:
    """AUC of min-k% scores (mean log-probability of a text's `k_percent` least likely tokens),
    target corpus (members) against the target's non-member text, or its held-out text if it
    has none; documents are cut to `max_tokens` and at most `max_documents` of each are used.

    0.5 is no leakage; MUSE compares it with a model retrained without the target, which
    this reports the raw AUC for, per model.
    """

    k_percent: float
    max_tokens: int
    max_documents: int
    batch_size: int

    def scores(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, documents: list[str]) -> list[float]:
        sequences = [
            tokenizer(d, truncation=True, max_length=self.max_tokens)["input_ids"] for d in documents[: self.max_documents] if d.strip()
        ]
        result = []
        for logprobs in token_logprobs(model, sequences, tokenizer.pad_token_id, self.batch_size):
            k = max(1, int(len(logprobs) * self.k_percent / 100))
            result.append(float(logprobs.sort().values[:k].mean()))
        return result

    def check(self, target: TargetFiles) -> None:
        read_documents(require(target.nonmember or target.heldout, "mia", "nonmember (or heldout)", target), key="target.nonmember")

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        nonmember_paths = require(target.nonmember or target.heldout, "mia", "nonmember (or heldout)", target)
        members = self.scores(model, tokenizer, read_documents(target.corpus))
        nonmembers = self.scores(model, tokenizer, read_documents(nonmember_paths))
        return Measurement({"mia/min_k_auc": roc_auc(members, nonmembers)}, {"mia/min_k_auc": "forget"})
