"""The fine-tunes' cross-entropy without a batch's full-vocabulary logits in memory at once.

A causal LM's own loss computes the logits of every position of the batch, upcasts them to
fp32 and keeps what the backward pass needs: for 8 blocks of 512 tokens and a 49,152-token
vocabulary that is 0.8 GB a copy, several copies, more than the 135M model's weights,
gradients and AdamW state together. Here the decoder's last hidden states are projected
onto the vocabulary a chunk of labelled positions at a time, each chunk's logits recomputed
in the backward pass instead of kept (activation checkpointing of the output layer), so at
most one chunk's logits exist at a time. The result is the model's own loss: the sum of the
labelled positions' cross-entropy over `num_items_in_batch` (the batch's labelled tokens,
or all processes' share of them), labels shifted as the model shifts them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel

IGNORE = -100
# Models whose output layer does more than a linear projection: their logits come from their own forward.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier_scale")


def projects_linearly(model: nn.Module) -> bool:
    """Whether the model's logits are its output layer applied to its decoder's last hidden
    states (Llama, Mistral, Qwen, GPT-2, ...), which chunking reproduces; not for a model
    that caps or scales them, nor for a wrapper (a PEFT adapter) around one."""
    if not isinstance(model, PreTrainedModel) or model.get_output_embeddings() is None:
        return False
    return all(getattr(model.config, name, None) in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS)


def _chunk_loss(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="sum")


def chunked_causal_lm_loss(
    model: PreTrainedModel, batch: dict[str, torch.Tensor], chunk_tokens: int, num_items_in_batch: torch.Tensor | None = None
) -> torch.Tensor:
    """The model's next-token cross-entropy on `batch["labels"]` (-100: unlabelled), its output
    layer applied to `chunk_tokens` labelled positions at a time."""
    labels = batch["labels"]
    hidden = model.base_model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).last_hidden_state
    targets = labels[:, 1:]
    labelled = targets != IGNORE
    hidden, targets = hidden[:, :-1][labelled], targets[labelled]
    weight = model.get_output_embeddings().weight
    # Starts from the empty chunk, so that the loss depends on every weight even where a process's
    # share of the batch has no labelled position (data-parallel strategies reduce every gradient).
    total = _chunk_loss(hidden[:0], weight, targets[:0])
    for start in range(0, len(targets), chunk_tokens):
        piece = slice(start, start + chunk_tokens)
        total = total + checkpoint(_chunk_loss, hidden[piece], weight, targets[piece], use_reentrant=False)
    items = num_items_in_batch if num_items_in_batch is not None else labelled.sum()
    return total / items


class CausalLMObjective(nn.Module):
    """The loss a fine-tune minimises, as a module around the model, so that a sharded
    fine-tune gathers the weights the loss reads in this module's forward (the FSDP2 root).
    `chunk_tokens` labelled positions at a time, or 0 (and for models the chunks cannot
    reproduce) the model's own loss."""

    def __init__(self, model: nn.Module, chunk_tokens: int):
        super().__init__()
        self.model = model
        self.chunk_tokens = chunk_tokens if projects_linearly(model) else 0

    def forward(self, batch: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None = None) -> torch.Tensor:
        if self.chunk_tokens:
            return chunked_causal_lm_loss(self.model, batch, self.chunk_tokens, num_items_in_batch)
        if num_items_in_batch is None:
            return self.model(**batch).loss
        return self.model(**batch, num_items_in_batch=num_items_in_batch).loss
