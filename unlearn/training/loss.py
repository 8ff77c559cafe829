"""The fine-tunes' cross-entropy without a batch's full-vocabulary logits in memory at once.

A causal LM's own loss computes the logits of every position of the batch, upcasts them to
fp32 and keeps what the backward pass needs: for 8 blocks of 512 tokens and a 49,152-token
vocabulary that is 0.8 GB a copy, several copies, more than the 135M model's weights,
gradients and AdamW state together. Here the decoder's last hidden states are projected
onto the vocabulary a chunk of labelled positions at a time, each chunk's logits recomputed
in the backward pass instead of kept (activation checkpointing of the output layer), so at
most one chunk's logits exist at a time. The result is the model's own loss: the sum of the
labelled positions' cross-entropy over `num_items_in_batch` (the batch's labelled tokens,
or all processes' share of them), labels shifted as the model shifts them. Soft generic
labels (labels/soft.py) take the same path with their cross-entropy to the soft targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import PreTrainedModel

from unlearn.blocks import IGNORE
from unlearn.labels.soft import soft_cross_entropy

# Models whose output layer does more than a linear projection: their logits come from their own forward.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier_scale")


def projects_linearly(model: nn.Module) -> bool:
    """Whether the model's logits are its output layer applied to its decoder's last hidden
    states (Llama, Mistral, Qwen, GPT-2, ...), which chunking reproduces; not for a model
    that caps or scales them, a wrapper (a PEFT adapter) around one, or one whose forward
    was replaced on the instance (inference-time WHP)."""
    if not isinstance(model, PreTrainedModel) or model.get_output_embeddings() is None or "forward" in vars(model):
        return False
    return all(getattr(model.config, name, None) in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS)


def _chunk_loss(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, target_ids: torch.Tensor | None, target_probs: torch.Tensor | None
) -> torch.Tensor:
    logits = F.linear(hidden, weight)
    if target_ids is None:
        return F.cross_entropy(logits.float(), targets, reduction="sum")
    return soft_cross_entropy(logits, target_ids, target_probs)


def _labelled(batch: dict[str, torch.Tensor], labelled: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The soft targets of the labelled positions (shifted as the labels are), or None for hard labels."""
    if "target_ids" not in batch:
        return None, None
    return batch["target_ids"][:, 1:][labelled], batch["target_probs"][:, 1:][labelled]


def chunked_causal_lm_loss(
    model: PreTrainedModel, batch: dict[str, torch.Tensor], chunk_tokens: int, num_items_in_batch: torch.Tensor | None = None
) -> torch.Tensor:
    """The model's next-token cross-entropy on `batch["labels"]` (-100: unlabelled), or on the
    soft targets `target_ids` / `target_probs` where the batch has them, its output layer
    applied to `chunk_tokens` labelled positions at a time."""
    labels = batch["labels"]
    hidden = model.base_model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).last_hidden_state
    targets = labels[:, 1:]
    labelled = targets != IGNORE
    hidden, targets = hidden[:, :-1][labelled], targets[labelled]
    target_ids, target_probs = _labelled(batch, labelled)
    weight = model.get_output_embeddings().weight

    def rows(piece: slice) -> tuple[torch.Tensor | None, ...]:
        return tuple(None if tensor is None else tensor[piece] for tensor in (hidden, targets, target_ids, target_probs))

    # Starts from the empty chunk, so that the loss depends on every weight even where a process's
    # share of the batch has no labelled position (data-parallel strategies reduce every gradient).
    first, *rest = rows(slice(0, 0))
    total = _chunk_loss(first, weight, *rest)
    for start in range(0, len(targets), chunk_tokens):
        piece_hidden, *piece_rest = rows(slice(start, start + chunk_tokens))
        total = total + checkpoint(_chunk_loss, piece_hidden, weight, *piece_rest, use_reentrant=False)
    items = num_items_in_batch if num_items_in_batch is not None else labelled.sum()
    return total / items


def _token_logprobs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -F.cross_entropy(F.linear(hidden, weight).float(), targets, reduction="none")


def sequence_logprobs(model: nn.Module, batch: dict[str, torch.Tensor], chunk_tokens: int) -> torch.Tensor:
    """Per row of the batch, the sum of log p(label) over its labelled positions (0 for a row
    with none), `chunk_tokens` positions projected onto the vocabulary at a time, or (0) from
    the model's own logits."""
    labels = batch["labels"]
    targets = labels[:, 1:]
    labelled = targets != IGNORE
    rows = labelled.nonzero()[:, 0]
    if not chunk_tokens:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits[:, :-1]
        per_token = -F.cross_entropy(logits[labelled].float(), targets[labelled], reduction="none")
        return torch.zeros(len(labels), device=per_token.device).index_add(0, rows.to(per_token.device), per_token)
    hidden = model.base_model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).last_hidden_state
    hidden, targets = hidden[:, :-1][labelled], targets[labelled]
    weight = model.get_output_embeddings().weight
    # The empty chunk first, as in chunked_causal_lm_loss: every weight is in the graph.
    pieces = [_token_logprobs(hidden[:0], weight, targets[:0])]
    for start in range(0, len(targets), chunk_tokens):
        piece = slice(start, start + chunk_tokens)
        pieces.append(checkpoint(_token_logprobs, hidden[piece], weight, targets[piece], use_reentrant=False))
    per_token = torch.cat(pieces)
    return torch.zeros(len(labels), device=per_token.device, dtype=per_token.dtype).index_add(0, rows.to(per_token.device), per_token)


def soft_causal_lm_loss(model: nn.Module, batch: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None) -> torch.Tensor:
    """The cross-entropy to the soft targets from the model's own logits, for models the chunks cannot reproduce."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask")).logits[:, :-1]
    labelled = batch["labels"][:, 1:] != IGNORE
    target_ids, target_probs = _labelled(batch, labelled)
    items = num_items_in_batch if num_items_in_batch is not None else labelled.sum()
    return soft_cross_entropy(logits[labelled], target_ids, target_probs) / items


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
        if "target_ids" in batch:
            return soft_causal_lm_loss(self.model, batch, num_items_in_batch)
        if num_items_in_batch is None:
            return self.model(**batch).loss
        return self.model(**batch, num_items_in_batch=num_items_in_batch).loss
