"""Which blocks each process trains on, batch by batch, so that any number of processes
trains on exactly the batches one process would.

One process draws a new permutation of the blocks every epoch from a generator seeded
with the run's seed, making the draws a shuffled torch DataLoader makes under Lightning
(a base seed for its workers, the permutation, and a second permutation when the sampler
is run to its end, which happens only to complete a last, partial batch), and cuts it into
batches of `batch_size`: the batches the project trained on before it ran on several
processes, so that its recorded results still hold. With N processes every batch is the
same and is split between them: each takes its slice and the gradients are summed over
the whole batch (CausalLMModule), so the update is the one process's update. The permutation of epoch e
depends only on the seed and e, so a run resumed from a checkpoint at epoch e trains on
the batches the uninterrupted run would have.

Blocks of very different lengths in one batch waste compute on padding (a batch is trimmed
to its longest block). With `length_group_batches=N`, every N batches' worth of the
permutation is sorted by length before it is cut into batches, and the epoch's batches are
then shuffled: each batch holds blocks of similar length, drawn at random from N times as many.

A batch too large for memory is trained in pieces (`micro_batch_size` blocks of each
process's share at a time, one forward and backward pass each, gradients accumulated):
every share is cut into the same number of pieces, an empty one holding the WEIGHTLESS
block, so that each optimizer step is exactly one batch. `piece_items` is what each piece's
summed loss is divided by, so that the gradients summed over pieces and averaged over
processes are the gradient of the whole batch's mean loss, as one pass computes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from unlearn.blocks import WEIGHTLESS


class EpochPermutation:
    """The order of the blocks in each epoch; Lightning calls `set_epoch` before each one."""

    def __init__(self, size: int, seed: int, partial_last_batch: bool):
        self.size, self.seed, self.partial_last_batch, self.epoch = size, seed, partial_last_batch, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(self.epoch + 1):
            torch.empty((), dtype=torch.int64).random_(generator=generator)
            order = torch.randperm(self.size, generator=generator).tolist()
            if self.partial_last_batch:
                torch.randperm(self.size, generator=generator)
        return order


class ShardedBatches(Sampler[list[int]]):
    """This process's slice of every batch of the permutation, in `pieces` pieces of at most
    `micro_batch_size` blocks (0: the slice whole). A slice or piece may be empty (the last
    batch, smaller than the number of processes or pieces): it then holds one WEIGHTLESS
    index, a block that the dataset returns with no labels, so every process runs every
    step. `labelled` (each block's labelled tokens) is what `piece_items` counts."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        lengths: Sequence[int] = (),
        length_group_batches: int = 0,
        micro_batch_size: int = 0,
        labelled: Sequence[int] = (),
    ):
        if length_group_batches and len(lengths) != size:
            raise ValueError(f"length grouping needs the length of each of the {size} blocks, got {len(lengths)}")
        self.sampler = EpochPermutation(size, seed, partial_last_batch=size % batch_size != 0)
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.lengths, self.group = list(lengths), length_group_batches * batch_size
        share = -(-batch_size // world_size)
        self.piece_size = min(micro_batch_size, share) if micro_batch_size > 0 else share
        self.pieces = -(-share // self.piece_size)
        self.labelled = list(labelled)
        self._batch_labelled: list[int] = []

    def __len__(self) -> int:
        return -(-self.sampler.size // self.batch_size) * self.pieces

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        if self.labelled:
            self._batch_labelled = [sum(self.labelled[i] for i in batch) for batch in batches]
        for batch in batches:
            share = [batch[i] for i in range(self.rank, len(batch), self.world_size)]
            for start in range(0, self.pieces * self.piece_size, self.piece_size):
                yield share[start : start + self.piece_size] or [WEIGHTLESS]

    def piece_items(self, index: int) -> float:
        """What the summed loss of the epoch's `index`-th piece is divided by: its batch's
        labelled tokens over all processes, divided by the passes that train the batch (its
        pieces times the processes): Lightning divides each piece's loss by the pieces it
        accumulates, and the processes' gradients are averaged."""
        return self._batch_labelled[index // self.pieces] / (self.pieces * self.world_size)

    def _cut(self, order: list[int]) -> list[list[int]]:
        return [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]

    def _batches(self) -> list[list[int]]:
        order = self.sampler.order()
        if not self.group:
            return self._cut(order)
        batches = []
        for start in range(0, len(order), self.group):
            batches += self._cut(sorted(order[start : start + self.group], key=lambda i: -self.lengths[i]))
        shuffle = torch.Generator().manual_seed(self.sampler.seed * 100_003 + self.sampler.epoch)
        return [batches[i] for i in torch.randperm(len(batches), generator=shuffle).tolist()]


def collate_trimmed(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a batch and drop the columns that are padding in every row (short documents).
    Blocks carried under a prefix with a mask of their own (`retain_input_ids` with
    `retain_attention_mask`) are trimmed by it; a value per block (one dimension) is kept whole."""
    batch = {key: torch.stack([row[key] for row in rows]) for key in rows[0]}

    def length(key: str) -> int:
        prefix = key[: key.find("_") + 1]
        mask = batch.get(f"{prefix}attention_mask", batch["attention_mask"])
        return int(mask.sum(dim=1).max())

    return {key: value if value.dim() < 2 else value[:, : length(key)] for key, value in batch.items()}
