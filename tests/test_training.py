"""The toy baseline learns its worlds: loss falls and probes are answered far above chance."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from transformers import AutoModelForCausalLM

from unlearn.targets.toy_world.world import RELATIONS


def _chance(target_folder: Path) -> float:
    """Expected recall of guessing uniformly among a world's values for each relation."""
    facts = json.loads((target_folder / "facts.json").read_text())["target"]
    values = {relation: {f["answer"] for f in facts if f["relation"] == relation} for relation in RELATIONS}
    return sum(1 / len(values[f["relation"]]) for f in facts) / len(facts)


def test_pretraining_loss_falls(tiny_run):
    cfg, _ = tiny_run
    rows = list(csv.DictReader((Path(cfg.paths.output_dir) / "logs/pretrain/version_0/metrics.csv").open()))
    losses = [float(row["train/loss"]) for row in rows if row.get("train/loss")]
    assert len(losses) >= 10
    assert losses[-1] < 0.5 * losses[0]


def test_tiny_baseline_recalls_facts_above_chance(tiny_run):
    cfg, report = tiny_run
    target_folder = Path(cfg.paths.cache_dir) / "target" / report["cache"]["target"]["key"]
    chance = _chance(target_folder)
    metrics = report["models"]["baseline"]
    assert metrics["probe/forget_recall"] > chance + 0.15
    assert metrics["probe/retain_recall"] > chance + 0.15


def test_baseline_is_saved_for_from_pretrained(tiny_run):
    cfg, report = tiny_run
    folder = Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"]
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (folder / "tokenizer.json").is_file()


def test_hf_option_loads_a_saved_folder(tiny_run, tmp_path):
    from tests.conftest import TINY_WORLD, compose_config
    from unlearn.pipeline import run

    cfg, report = tiny_run
    folder = Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"]
    overrides = [
        *TINY_WORLD,
        "model=hf",
        f"model.name_or_path={folder}",
        f"paths.cache_dir={cfg.paths.cache_dir}",
        "context_length=64",
        "stages=[evaluate]",
    ]
    loaded = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert loaded["models"]["baseline"] == report["models"]["baseline"]
