"""Low-rank adapters in either fine-tune: trained, merged and saved as a plain model that
differs from the baseline by an update of the adapters' rank and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.conftest import TINY, compose_config
from unlearn.evaluation.perplexity import perplexity
from unlearn.files import read_documents
from unlearn.models import load_causal_lm
from unlearn.pipeline import run

RANK = 2


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


def test_lora_unlearning_moves_each_adapted_weight_by_an_update_of_the_adapters_rank_and_nothing_else(tiny_run, tmp_path):
    """unlearn=lora on the tiny run's labels: the unlearned checkpoint is a plain model whose
    attention and MLP weights each differ from the baseline's by a matrix of rank at most
    unlearn.adapter.rank, and whose embeddings and norms are the baseline's exactly."""
    cfg, report = tiny_run
    cache = Path(cfg.paths.cache_dir)
    overrides = [*TINY, f"paths.cache_dir={cache}", "unlearn=lora", f"unlearn.adapter.rank={RANK}", "unlearn.lr=3e-3", "stages=[unlearn]"]
    lora = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert lora["cache"]["labels"]["key"] == report["cache"]["labels"]["key"]
    assert lora["cache"]["unlearn"]["key"] != report["cache"]["unlearn"]["key"]
    folder = cache / "unlearn" / lora["cache"]["unlearn"]["key"]
    assert not (folder / "adapter_config.json").exists()

    baseline = AutoModelForCausalLM.from_pretrained(cache / "baseline" / report["cache"]["baseline"]["key"]).state_dict()
    unlearned = AutoModelForCausalLM.from_pretrained(folder).state_dict()
    assert unlearned.keys() == baseline.keys()
    adapted = {name for name in baseline if name.endswith("proj.weight")}
    assert len(adapted) == 7 * 2
    for name in adapted:
        rank = int(torch.linalg.matrix_rank(unlearned[name] - baseline[name], rtol=1e-4))
        assert 1 <= rank <= RANK, name
    for name in baseline.keys() - adapted:
        assert torch.equal(unlearned[name], baseline[name]), name


@pytest.mark.parametrize("group", ["reinforce", "unlearn"])
def test_an_adapter_composes_for_each_fine_tune(group, tmp_path):
    from hydra.utils import instantiate

    node = instantiate(compose_config([f"{group}=lora", f"{group}.adapter.rank=4"], tmp_path)[group])
    spec = node.fit_spec() if hasattr(node, "fit_spec") else node
    assert spec.adapter.rank == 4
    assert spec.settings()["adapter"]["rank"] == 4
    default = instantiate(compose_config([], tmp_path)[group])
    assert "adapter" not in (default.fit_spec() if hasattr(default, "fit_spec") else default).settings()
