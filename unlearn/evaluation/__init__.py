"""Evaluators: each measures one property of a model and returns named metrics."""

from __future__ import annotations

from typing import Protocol

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.targets import TargetFiles


class Evaluator(Protocol):
    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> dict[str, float]:
        """Metrics named `<evaluator>/<metric>`, computed on `model`."""
        ...
