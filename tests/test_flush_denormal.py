"""trainer.flush_denormal: the CPU trainers compute on subnormal floats as zeros, since a
saturating loss's gradients slow the CPU tens of times for nothing (flush_denormals)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import compose_config
from unlearn.training.trainer import TrainerFactory, flush_denormals

SUBNORMAL = 1e-39  # below float32's smallest normal, 1.2e-38


@pytest.fixture(autouse=True)
def _restore():
    yield
    torch.set_flush_denormal(False)


def _kept(value: float) -> float:
    return float(torch.tensor([value]) * 1.0)


@pytest.mark.parametrize(("overrides", "flushed"), [
    ([], True),
    (["trainer=ddp_cpu"], True),
    (["trainer=fsdp_cpu"], True),
    (["trainer.flush_denormal=false"], False),
])  # fmt: skip
def test_cpu_trainers_flush_subnormal_floats(tmp_path, overrides, flushed):
    cfg = compose_config(overrides, tmp_path)
    torch.set_flush_denormal(False)
    assert _kept(SUBNORMAL) > 0
    flush_denormals(cfg.trainer)
    assert (_kept(SUBNORMAL) == 0) == flushed
    assert _kept(1e-30) == pytest.approx(1e-30)  # normal floats, however small, are computed as ever


def test_the_setting_is_not_handed_to_lightning(tmp_path):
    """It is the project's key: the Trainer a stage builds takes the rest."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from unlearn.training.spec import FitSpec

    cfg = compose_config(["+trainer.enable_progress_bar=false"], tmp_path)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))  # fmt: skip
    trainer = TrainerFactory(cfg.trainer, None)("test", FitSpec(epochs=1, lr=1e-3, batch_size=2, accumulate_grad_batches=1), model)
    assert trainer.max_epochs == 1
