"""A batch trained in pieces (trainer.micro_batch_tokens) makes the update of the whole batch in
one pass, and records its loss, whatever the pieces' shares of labelled tokens."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests.conftest import compose_config
from unlearn.blocks import WEIGHTLESS, BlockDataset
from unlearn.training.sampling import ShardedBatches
from unlearn.training.spec import FitSpec
from unlearn.training.trainer import TrainerFactory, fit

BLOCKS, LENGTH = 10, 12


def _model() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=32)  # fmt: skip
    return LlamaForCausalLM(config)


def _dataset() -> BlockDataset:
    """Blocks with very different numbers of labelled tokens (1 to 11), so that a mean of the
    pieces' means would differ from the batch's mean."""
    ids = torch.randint(3, 64, (BLOCKS, LENGTH), generator=torch.Generator().manual_seed(1))
    labels = ids.clone()
    for row in range(BLOCKS):
        labels[row, 2 + row :] = -100
    return BlockDataset(ids, torch.ones_like(ids), labels)


def _fit(tmp_path, micro_batch_blocks: int, accumulate: int) -> tuple[dict[str, torch.Tensor], list[float]]:
    cfg = compose_config(["+trainer.enable_progress_bar=false", f"trainer.micro_batch_tokens={micro_batch_blocks * LENGTH}"], tmp_path)
    model = _model()
    spec = FitSpec(epochs=2, lr=1e-2, batch_size=4, accumulate_grad_batches=accumulate)
    result = fit(model, _dataset(), spec, TrainerFactory(cfg.trainer, None), "test", seed=0)
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}, result.losses


def test_pieces_cover_each_share_and_count_the_whole_batch():
    labelled = list(range(1, BLOCKS + 1))
    whole = list(ShardedBatches(BLOCKS, 4, seed=0))
    pieces = ShardedBatches(BLOCKS, 4, seed=0, micro_batch_size=3, labelled=labelled)
    drawn = list(pieces)
    assert pieces.pieces == 2 and len(drawn) == len(pieces) == 2 * len(whole)
    assert [a + b for a, b in zip(drawn[::2], drawn[1::2], strict=True)][:-1] == whole[:-1]
    assert drawn[-2:] == [whole[-1], [WEIGHTLESS]], "the last batch holds 2 blocks: its second piece is empty"
    for index in range(len(drawn)):
        assert pieces.piece_items(index) == sum(labelled[i] for i in whole[index // 2]) / 2


@pytest.mark.parametrize("micro_batch_blocks", [1, 3])
def test_a_batch_in_pieces_makes_the_whole_batchs_update(micro_batch_blocks, tmp_path):
    weights, losses = _fit(tmp_path, 0, accumulate=2)
    pieced, pieced_losses = _fit(tmp_path, micro_batch_blocks, accumulate=2)
    assert len(pieced_losses) == len(losses) == 6, "one loss a batch: 3 batches an epoch, 2 epochs"
    assert pieced_losses == pytest.approx(losses, rel=1e-5)
    difference = max(float((pieced[k] - weights[k]).norm() / weights[k].norm()) for k in weights)
    assert difference < 1e-5, f"weights after pieces of {micro_batch_blocks} blocks differ from whole batches' by {difference:.1e}"


def test_recorded_loss_is_the_batchs_mean_not_divided_by_accumulation(tmp_path):
    """The first batch's recorded loss is the untrained model's mean loss on that batch,
    with 2 batches accumulated a step (Lightning hands the loss divided by 2)."""
    dataset = _dataset()
    first = next(iter(ShardedBatches(BLOCKS, 4, seed=0)))
    expected = _model()(input_ids=dataset.input_ids[first], labels=dataset.labels[first]).loss.item()
    for micro_batch_blocks in (0, 1):
        _, losses = _fit(tmp_path, micro_batch_blocks, accumulate=2)
        assert losses[0] == pytest.approx(expected, rel=1e-5)
