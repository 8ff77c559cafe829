"""Batched greedy completion, shared by every evaluator that reads what a model writes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@torch.inference_mode()
def greedy_completions(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], max_new_tokens: int, batch_size: int, desc: str
) -> list[str]:
    """The text each prompt is continued with, decoding greedily; prompts are left-padded."""
    tokenizer.padding_side = "left"
    completions: list[str] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = tokenizer(list(prompts[start : start + batch_size]), return_tensors="pt", padding=True).to(model.device)
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        completions.extend(tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True))
    return completions
