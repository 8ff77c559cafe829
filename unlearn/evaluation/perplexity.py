"""Perplexity on held-out text: does the model still model language (generic) and the target?"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.evaluation import Measurement
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_documents
from unlearn.training.data import make_blocks


@torch.inference_mode()
def perplexity(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, documents: list[str], context_length: int, batch_size: int
) -> float:
    """exp of the mean next-token loss over every token of the documents."""
    blocks = make_blocks(tokenizer, documents, context_length)
    total_loss, total_tokens = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        input_ids = blocks.input_ids[start : start + batch_size].to(model.device)
        attention_mask = blocks.attention_mask[start : start + batch_size].to(model.device)
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
        targets = input_ids[:, 1:].masked_fill(attention_mask[:, 1:] == 0, -100)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100, reduction="sum")
        total_loss += float(loss)
        total_tokens += int((targets != -100).sum())
    return math.exp(total_loss / total_tokens)


@dataclass
class Perplexity:
    """perplexity/generic_heldout and perplexity/target_heldout, for the texts the target provides."""

    context_length: int
    batch_size: int

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        texts = {"generic_heldout": (target.generic_heldout, "utility"), "target_heldout": (target.heldout, "forget")}
        metrics, sides = {}, {}
        for name, (paths, side) in texts.items():
            if paths:
                metrics[f"perplexity/{name}"] = perplexity(model, tokenizer, read_documents(paths), self.context_length, self.batch_size)
                sides[f"perplexity/{name}"] = side
        return Measurement(metrics, sides)
