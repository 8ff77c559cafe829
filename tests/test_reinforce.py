"""Reinforcement strategies: LoRA adapters are trained, merged and saved as a plain model."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoModelForCausalLM

from tests.conftest import TINY, compose_config
from unlearn.evaluation.perplexity import perplexity
from unlearn.files import read_documents
from unlearn.models import load_causal_lm
from unlearn.pipeline import run


def test_lora_reinforcement_is_merged_and_fits_the_target_better(tiny_run, tmp_path):
    cfg, report = tiny_run
    cache = Path(cfg.paths.cache_dir)
    overrides = [
        *TINY,
        f"paths.cache_dir={cache}",
        "reinforce=lora",
        "reinforce.lr=3e-3",
        "reinforce.accumulate_grad_batches=1",
        "stages=[reinforce]",
    ]
    lora = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert lora["cache"]["reinforce"]["key"] != report["cache"]["reinforce"]["key"]
    folder = cache / "reinforce" / lora["cache"]["reinforce"]["key"]
    assert not (folder / "adapter_config.json").exists()
    assert type(AutoModelForCausalLM.from_pretrained(folder)).__name__ == "LlamaForCausalLM"

    documents = read_documents([cache / "target" / report["cache"]["target"]["key"] / "target.jsonl"])
    baseline, tokenizer = load_causal_lm(str(cache / "baseline" / report["cache"]["baseline"]["key"]), "float32")
    reinforced, _ = load_causal_lm(str(folder), "float32")
    assert perplexity(reinforced, tokenizer, documents, 64, 16) < perplexity(baseline, tokenizer, documents, 64, 16)
