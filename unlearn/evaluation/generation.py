"""Batched completion, shared by every evaluator that reads what a model writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class Sampling:
    """Sampled decoding: `count` completions per prompt at `temperature`, reproducible from `seed`."""

    count: int
    temperature: float
    seed: int


@torch.inference_mode()
def complete(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    desc: str,
    sampling: Sampling | None = None,
) -> list[str]:
    """The text each prompt is continued with: greedy, or `sampling.count` samples per prompt
    (prompt-major order); prompts are left-padded."""
    tokenizer.padding_side = "left"
    if sampling is not None:
        torch.manual_seed(sampling.seed)
        prompts = [prompt for prompt in prompts for _ in range(sampling.count)]
        decoding = {"do_sample": True, "temperature": sampling.temperature, "top_k": 0}
    else:
        decoding = {"do_sample": False}
    completions: list[str] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(list(prompts[start : start + batch_size]), return_tensors="pt", padding=True).to(model.device)
        output = model.generate(**batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **decoding)
        completions.extend(tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True))
    return completions
