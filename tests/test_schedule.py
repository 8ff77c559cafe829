"""Schedules fitted to the corpus: the paper's 128 blocks a step on a 40-block play would make
one optimizer step an epoch; `min_steps` lowers accumulation, then raises epochs, and a run
with no `min_steps` is told before it trains."""

from __future__ import annotations

import logging

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from tests.conftest import compose_config
from unlearn.errors import SettingError
from unlearn.training.spec import FitSpec

PAPER = {"lr": 3e-6, "batch_size": 8, "accumulate_grad_batches": 16, "epochs": 3}


def test_a_large_corpus_keeps_the_papers_schedule():
    spec = FitSpec(**PAPER, min_steps=50)
    assert spec.steps(7800) == 3 * 61
    assert spec.for_corpus(7800) == (spec, None)


def test_a_small_corpus_lowers_accumulation_first_then_raises_epochs():
    lowered, line = FitSpec(**PAPER, min_steps=12).for_corpus(39)
    assert (lowered.accumulate_grad_batches, lowered.epochs, lowered.lr) == (1, 3, 3e-6)
    assert lowered.steps(39) == 15
    assert "39 blocks make 3 optimizer steps at 8 x 16 blocks a step over 3 epochs, fewer than min_steps=12" in line
    partly, _ = FitSpec(**PAPER, min_steps=6).for_corpus(39)
    assert (partly.accumulate_grad_batches, partly.steps(39)) == (4, 6)
    longer, line = FitSpec(**PAPER, min_steps=50).for_corpus(39)
    assert (longer.accumulate_grad_batches, longer.epochs, longer.steps(39)) == (1, 10, 50)
    assert line.endswith("training 8 x 1 blocks a step for 10 epochs (50 steps)")


def test_without_min_steps_a_schedule_of_a_few_steps_is_warned_with_the_fix():
    spec, line = FitSpec(**PAPER).for_corpus(39)
    assert spec == FitSpec(**PAPER)
    assert "39 blocks make 3 optimizer steps" in line and "set min_steps" in line


@pytest.mark.parametrize(("blocks", "batch_size", "accumulate", "epochs"), [(39, 8, 16, 3), (39, 8, 2, 2), (10, 3, 2, 1), (16, 4, 4, 2)])
def test_steps_are_the_optimizer_steps_lightning_takes(blocks, batch_size, accumulate, epochs):
    class Counting(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    data = torch.utils.data.TensorDataset(torch.zeros(blocks, 2))
    trainer = pl.Trainer(max_epochs=epochs, accumulate_grad_batches=accumulate, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(Counting(), torch.utils.data.DataLoader(data, batch_size=batch_size))
    spec = FitSpec(lr=1e-3, batch_size=batch_size, accumulate_grad_batches=accumulate, epochs=epochs)
    assert spec.steps(blocks) == trainer.global_step


@pytest.mark.parametrize("group", ["reinforce", "unlearn"])
def test_min_steps_composes_for_each_fine_tune_and_a_negative_one_is_refused(group, tmp_path, caplog):
    cfg = compose_config([f"{group}.min_steps=7"], tmp_path)
    node = instantiate(cfg[group])
    spec = node.fit_spec() if hasattr(node, "fit_spec") else node
    assert spec.min_steps == 7
    with pytest.raises(SettingError, match=r"min_steps=-1 must be >= 0"):
        FitSpec(**PAPER, min_steps=-1)


def test_a_fine_tune_logs_the_fitted_schedule_before_it_trains(tmp_path, caplog):
    from transformers import LlamaConfig, LlamaForCausalLM

    from unlearn.blocks import BlockDataset
    from unlearn.training.trainer import TrainerFactory, fit

    cfg = compose_config(["+trainer.enable_progress_bar=false", "trainer.checkpoint_every_n_epochs=0"], tmp_path)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))  # fmt: skip
    ids = torch.randint(0, 32, (10, 8))
    dataset = BlockDataset(ids, torch.ones_like(ids), ids.clone())
    spec = FitSpec(lr=1e-3, batch_size=2, accumulate_grad_batches=8, epochs=1, min_steps=9)
    with caplog.at_level(logging.WARNING, logger="unlearn.training.trainer"):
        result = fit(model, dataset, spec, TrainerFactory(cfg.trainer, None), "unlearn", seed=0)
    assert "unlearn: 10 blocks make 1 optimizer steps at 2 x 8 blocks a step over 1 epochs, fewer than min_steps=9" in caplog.text
    assert len(result.losses) == 10  # 2 epochs of 5 batches, one step each
