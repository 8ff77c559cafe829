"""Token blocks: the one data path every stage reads (pretraining, reinforcement, labels, unlearning, evaluation).

Each document is cut into non-overlapping blocks of at most `context_length` tokens, each
starting with BOS; the document's last block ends with EOS when it fits. A block never
spans two documents, so its text is one contiguous span of one document, which the
anchored translation rewrites and aligns back through character offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

from unlearn.errors import UserError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

NO_OFFSET = -1
IGNORE = -100  # a label position that no loss reads (PyTorch's cross-entropy ignore_index)
# The index of a block that holds no labels: a process's share of a batch smaller than the
# number of processes (training/sampling.py) still runs one forward and backward pass.
WEIGHTLESS = -1


@dataclass(frozen=True)
class Blocks:
    """Blocks of token ids, right-padded; `offsets[b, t]` is the (start, end) of token t in
    `texts[b]`, or NO_OFFSET for BOS, EOS and padding."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    offsets: torch.Tensor
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def tokens(self) -> int:
        return int(self.attention_mask.sum())

    def first(self, count: int) -> Blocks:
        return Blocks(self.input_ids[:count], self.attention_mask[:count], self.offsets[:count], self.texts[:count])


def make_blocks(tokenizer: PreTrainedTokenizerBase, documents: Sequence[str], context_length: int) -> Blocks:
    if context_length < 2:
        raise UserError(f"context_length={context_length} leaves no room for text after BOS; use a context of at least 2 tokens")
    encoded = tokenizer(list(documents), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    body = context_length - 1
    rows, spans, texts = [], [], []
    for document, ids, offsets in zip(documents, encoded["input_ids"], encoded["offset_mapping"], strict=True):
        for start in range(0, len(ids), body):
            chunk, chunk_offsets = ids[start : start + body], offsets[start : start + body]
            first_char, last_char = chunk_offsets[0][0], chunk_offsets[-1][1]
            row = [tokenizer.bos_token_id, *chunk]
            row_offsets = [(NO_OFFSET, NO_OFFSET), *((a - first_char, b - first_char) for a, b in chunk_offsets)]
            if start + body >= len(ids) and len(row) < context_length:
                row.append(tokenizer.eos_token_id)
                row_offsets.append((NO_OFFSET, NO_OFFSET))
            rows.append(row)
            spans.append(row_offsets)
            texts.append(document[first_char:last_char])
    if not rows:
        raise UserError("the target's corpus has no text: check target.corpus (files empty, or a wrong text field?)")
    input_ids = torch.full((len(rows), context_length), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    offsets = torch.full((len(rows), context_length, 2), NO_OFFSET, dtype=torch.long)
    for index, (row, row_offsets) in enumerate(zip(rows, spans, strict=True)):
        input_ids[index, : len(row)] = torch.tensor(row)
        attention_mask[index, : len(row)] = 1
        offsets[index, : len(row)] = torch.tensor(row_offsets)
    return Blocks(input_ids, attention_mask, offsets, tuple(texts))


class BlockDataset(Dataset):
    """Blocks with their labels: the next tokens themselves (pretraining, reinforcement) or
    generic labels (unlearning); -100 where there is nothing to learn, and everywhere in the
    WEIGHTLESS block (see ShardedBatches). `extra` holds more per-block tensors a loss reads,
    by name: soft targets (labels/soft.py), retain blocks or reference likelihoods (unlearn/baselines/)."""

    def __init__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor, extra: dict[str, torch.Tensor] | None = None
    ):
        self.input_ids, self.attention_mask, self.labels, self.extra = input_ids, attention_mask, labels, extra or {}

    @classmethod
    def next_tokens(cls, blocks: Blocks, extra: dict[str, torch.Tensor] | None = None) -> BlockDataset:
        return cls(blocks.input_ids, blocks.attention_mask, next_token_labels(blocks), extra)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = {"input_ids": self.input_ids[index], "attention_mask": self.attention_mask[index], "labels": self.labels[index]}
        row |= {name: tensor[index] for name, tensor in self.extra.items()}
        if index == WEIGHTLESS:
            row |= {name: torch.full_like(tensor, -100) for name, tensor in row.items() if name.endswith("labels")}
        return row


def next_token_labels(blocks: Blocks) -> torch.Tensor:
    """Each block's own tokens as its labels (a causal LM's loss shifts them), -100 on padding."""
    return blocks.input_ids.masked_fill(blocks.attention_mask == 0, IGNORE)
