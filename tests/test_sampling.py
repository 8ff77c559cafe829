"""Length-grouped batches: every block once per epoch, in batches of similar length, drawn afresh each epoch."""

from __future__ import annotations

import re

import pytest
import torch

from unlearn.errors import UserError
from unlearn.training.sampling import ShardedBatches
from unlearn.training.spec import FitSpec

LENGTHS = torch.randint(10, 129, (203,), generator=torch.Generator().manual_seed(0)).tolist()


def _epoch(sampler: ShardedBatches, epoch: int) -> list[list[int]]:
    sampler.sampler.set_epoch(epoch)
    return list(sampler)


def _positions(batches: list[list[int]]) -> int:
    """What a batch trimmed to its longest block computes."""
    return sum(len(batch) * max(LENGTHS[i] for i in batch) for batch in batches)


def test_grouped_batches_hold_every_block_once_with_a_fraction_of_the_padding():
    grouped = ShardedBatches(len(LENGTHS), 8, seed=1, lengths=LENGTHS, length_group_batches=8)
    plain = ShardedBatches(len(LENGTHS), 8, seed=1)
    for epoch in range(3):
        batches = _epoch(grouped, epoch)
        assert sorted(i for batch in batches for i in batch) == list(range(len(LENGTHS)))
        assert len(batches) == len(grouped) == len(_epoch(plain, epoch))
        padding = _positions(batches) - sum(LENGTHS)
        assert padding < 0.25 * (_positions(_epoch(plain, epoch)) - sum(LENGTHS))


def test_grouped_batches_are_drawn_afresh_each_epoch_and_reproduced_from_the_seed():
    def batches(seed: int, epoch: int) -> list[list[int]]:
        return _epoch(ShardedBatches(len(LENGTHS), 8, seed=seed, lengths=LENGTHS, length_group_batches=4), epoch)

    assert batches(0, 2) == batches(0, 2)
    assert batches(0, 2) != batches(0, 3) and batches(0, 2) != batches(1, 2)
    firsts = {tuple(sorted(batches(0, epoch)[0])) for epoch in range(5)}
    assert len(firsts) == 5, "the first batch (and which blocks share a batch) changes between epochs"


def test_processes_split_the_grouped_batches_of_one_process():
    one = _epoch(ShardedBatches(len(LENGTHS), 8, seed=2, lengths=LENGTHS, length_group_batches=8), 1)
    ranks = [_epoch(ShardedBatches(len(LENGTHS), 8, 2, r, 2, LENGTHS, 8), 1) for r in range(2)]
    for whole, first, second in zip(one, *ranks, strict=True):
        assert sorted(first + second) == sorted(whole)


@pytest.mark.parametrize("group", ["reinforce", "unlearn", "model.pretrain"])
def test_a_negative_length_group_is_refused_naming_the_key(group, tmp_path):
    from tests.conftest import compose_config
    from unlearn.settings import build

    cfg = compose_config([f"{group}.length_group_batches=-1"], tmp_path)
    with pytest.raises(UserError, match=re.escape(f"{group}.length_group_batches=-1 must be >= 0")):
        build(cfg[group.split(".")[0]], group.split(".")[0])


def test_every_fine_tune_takes_length_grouping_from_its_config(tmp_path):
    from hydra.utils import instantiate

    from tests.conftest import compose_config

    cfg = compose_config(["reinforce.length_group_batches=4", "unlearn.length_group_batches=2"], tmp_path)
    assert FitSpec(**cfg.model.pretrain).length_group_batches == 8
    assert instantiate(cfg.reinforce).fit_spec().length_group_batches == 4
    assert instantiate(cfg.unlearn).length_group_batches == 2
    default = compose_config([], tmp_path)
    assert instantiate(default.reinforce).fit_spec().length_group_batches == 0 == instantiate(default.unlearn).length_group_batches
