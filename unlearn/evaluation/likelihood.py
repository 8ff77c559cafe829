"""Per-token log-probabilities of given text under a model, in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


# Positions projected onto the vocabulary at a time: a batch of 32 windows of 512 tokens
# would otherwise hold 3.2 GB of fp32 logits of a 49k-token vocabulary, twice.
CHUNK_TOKENS = 2048


@torch.inference_mode()
def token_logprobs(model: PreTrainedModel, sequences: Sequence[list[int]], pad_id: int, batch_size: int) -> list[torch.Tensor]:
    """log p(token t | tokens < t) for t >= 1 of each sequence (right-padded batches). A model
    whose logits are a projection of its last hidden states is projected CHUNK_TOKENS positions
    at a time (training/loss.py, projects_linearly); any other through its own logits."""
    results: list[torch.Tensor] = []
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start : start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        logprobs = _next_token_logprobs(model, input_ids.to(model.device), attention_mask.to(model.device)).cpu()
        results.extend(logprobs[row, : len(ids) - 1] for row, ids in enumerate(batch))
    return results


def _next_token_logprobs(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[rows, width - 1]: log p(input_ids[:, t + 1] | input_ids[:, :t + 1])."""
    from unlearn.training.loss import projects_linearly  # imports transformers' models: not before a run is checked

    targets = input_ids[:, 1:]
    if not projects_linearly(model):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
        return torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[:, :-1].flatten(0, 1)
    weight, flat = model.get_output_embeddings().weight, targets.flatten()
    pieces = []
    for at in range(0, len(flat), CHUNK_TOKENS):
        logits = F.linear(hidden[at : at + CHUNK_TOKENS], weight).float()
        pieces.append(torch.log_softmax(logits, dim=-1).gather(-1, flat[at : at + CHUNK_TOKENS, None])[:, 0])
    return torch.cat(pieces).view_as(targets)


def continuation_logprobs(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs: Sequence[tuple[str, str]], batch_size: int
) -> list[float]:
    """log p(continuation | context) of each (context, continuation), summed over its tokens.

    The pair is tokenized as one string and the continuation is what follows the
    context's tokens, so the boundary tokenizes the way the text would.
    """
    sequences, context_lengths = [], []
    for context, continuation in pairs:
        context_ids = tokenizer(context)["input_ids"]
        sequences.append(tokenizer(context + continuation)["input_ids"])
        context_lengths.append(len(context_ids))
    logprobs = token_logprobs(model, sequences, tokenizer.pad_token_id, batch_size)
    return [float(row[length - 1 :].sum()) for row, length in zip(logprobs, context_lengths, strict=True)]
