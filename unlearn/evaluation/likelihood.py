"""Per-token log-probabilities of given text under a model, in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@torch.inference_mode()
def token_logprobs(model: PreTrainedModel, sequences: Sequence[list[int]], pad_id: int, batch_size: int) -> list[torch.Tensor]:
    """log p(token t | tokens < t) for t >= 1 of each sequence (right-padded batches)."""
    results: list[torch.Tensor] = []
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start : start + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        logits = model(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device)).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, input_ids[:, 1:, None].to(model.device))[..., 0].cpu()
        results.extend(logprobs[row, : len(ids) - 1] for row, ids in enumerate(batch))
    return results


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
