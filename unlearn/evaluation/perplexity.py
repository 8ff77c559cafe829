"""Perplexity on held-out text: does the model still model language (generic) and the target?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unlearn.blocks import make_blocks
from unlearn.evaluation import Measurement
from unlearn.evaluation.likelihood import token_logprobs
from unlearn.files import read_documents
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def perplexity(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, documents: list[str], context_length: int, batch_size: int
) -> float:
    """exp of the mean next-token loss over every token of the documents, cut into blocks as the corpus is."""
    blocks = make_blocks(tokenizer, documents, context_length)
    sequences = [ids[mask.bool()].tolist() for ids, mask in zip(blocks.input_ids, blocks.attention_mask, strict=True)]
    logprobs = token_logprobs(model, sequences, tokenizer.pad_token_id, batch_size)
    return math.exp(-sum(float(row.sum()) for row in logprobs) / sum(len(row) for row in logprobs))


@dataclass
class Perplexity:
    """perplexity/generic_heldout, related_heldout and target_heldout, for the texts the target provides."""

    context_length: int
    batch_size: int

    def texts(self, target: TargetFiles) -> dict[str, tuple[tuple[Path, ...], str]]:
        """Per metric: the files (the target's key names them) and the side it measures."""
        return {
            "generic_heldout": (target.generic_heldout, "utility"),
            "related_heldout": (target.related_heldout, "utility"),
            "target_heldout": (target.heldout, "forget"),
        }

    def check(self, target: TargetFiles) -> None:
        for key in ("generic_heldout", "related_heldout", "heldout"):
            read_documents(getattr(target, key), key=f"target.{key}")

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        metrics, sides = {}, {}
        for name, (paths, side) in self.texts(target).items():
            if paths:
                metrics[f"perplexity/{name}"] = perplexity(model, tokenizer, read_documents(paths), self.context_length, self.batch_size)
                sides[f"perplexity/{name}"] = side
        return Measurement(metrics, sides)
