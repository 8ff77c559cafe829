"""Token blocks: the one data path every stage reads (pretraining, reinforcement, labels, unlearning)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset
from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Blocks:
    """Non-overlapping blocks of token ids; the last block is padded and masked."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())


def make_blocks(tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], context_length: int) -> Blocks:
    """Tokenize documents (BOS ... EOS each), concatenate them and cut into blocks."""
    encoded = tokenizer(list(documents), add_special_tokens=True, verbose=False)["input_ids"]
    stream = torch.tensor([token for ids in encoded for token in [*ids, tokenizer.eos_token_id]], dtype=torch.long)
    n_blocks = -(-len(stream) // context_length)
    input_ids = torch.full((n_blocks * context_length,), tokenizer.pad_token_id, dtype=torch.long)
    input_ids[: len(stream)] = stream
    attention_mask = torch.zeros_like(input_ids)
    attention_mask[: len(stream)] = 1
    return Blocks(input_ids.view(n_blocks, context_length), attention_mask.view(n_blocks, context_length))


class CausalLMDataset(Dataset):
    """Blocks as training examples; labels are the inputs (the model shifts them), padding ignored."""

    def __init__(self, blocks: Blocks):
        self.blocks = blocks
        self.labels = blocks.input_ids.masked_fill(blocks.attention_mask == 0, -100)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "input_ids": self.blocks.input_ids[index],
            "attention_mask": self.blocks.attention_mask[index],
            "labels": self.labels[index],
        }
