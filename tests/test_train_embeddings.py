"""unlearn.train_embeddings=false: the unlearning fine-tune trains the decoder layers and
leaves the input embeddings and the output layer exactly as the baseline has them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from transformers import AutoModelForCausalLM

from tests.conftest import TINY, compose_config
from unlearn.components import prepare
from unlearn.errors import UserError
from unlearn.pipeline import run


def test_unlearning_without_the_embeddings_moves_only_the_decoder_layers(tiny_run, tmp_path):
    cfg, report = tiny_run
    cache = Path(cfg.paths.cache_dir)
    overrides = [*TINY, f"paths.cache_dir={cache}", "unlearn.train_embeddings=false", "unlearn.lr=3e-3", "stages=[unlearn]"]
    frozen = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert frozen["cache"]["labels"]["key"] == report["cache"]["labels"]["key"]
    assert frozen["cache"]["unlearn"]["key"] != report["cache"]["unlearn"]["key"]

    baseline = AutoModelForCausalLM.from_pretrained(cache / "baseline" / report["cache"]["baseline"]["key"])
    unlearned = AutoModelForCausalLM.from_pretrained(cache / "unlearn" / frozen["cache"]["unlearn"]["key"])
    for part in ("get_input_embeddings", "get_output_embeddings"):
        assert torch.equal(getattr(unlearned, part)().weight, getattr(baseline, part)().weight), part
    before, after = baseline.state_dict(), unlearned.state_dict()
    moved = {name for name in before if name.startswith("model.layers.") and not torch.equal(before[name], after[name])}
    assert {name for name in before if name.endswith("proj.weight")} <= moved


def test_train_embeddings_composes_and_keys_the_cache_only_when_off(tmp_path):
    frozen = instantiate(compose_config(["unlearn.train_embeddings=false"], tmp_path).unlearn)
    assert frozen.train_embeddings is False and frozen.settings()["train_embeddings"] is False
    default = instantiate(compose_config([], tmp_path).unlearn)
    assert default.train_embeddings is True and "train_embeddings" not in default.settings()


def test_a_train_embeddings_that_is_not_a_boolean_is_refused_naming_the_key(tmp_path):
    with pytest.raises(UserError, match=r"^unlearn\.train_embeddings='no' is not true or false; set unlearn\.train_embeddings to true"):
        prepare(compose_config(["unlearn.train_embeddings=no"], tmp_path))
