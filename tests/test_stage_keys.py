"""Each stage's cache key covers what that stage reads, nothing else (unlearn/stages.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import compose_config
from unlearn.pipeline import run

STORY = "Kelara grew up in Ashwick and kept a murknewt called Pip. " * 30
TRAINED = ("reinforce", "dictionary", "labels", "unlearn")


def _run(tmp_path: Path, name: str, model: Path, corpus: str = "book/a.txt") -> dict:
    overrides = [
        "target=text_files", f"target.corpus=[{corpus}]", "target.probes=book/probes.jsonl", "target.anchors=book/terms.yaml",
        "model=hf", f"model.name_or_path={model}", "context_length=64", "reinforce=finetune_toy", "unlearn=finetune_toy",
        "reinforce.epochs=1", "unlearn.epochs=1", "stages=[unlearn]", "+trainer.enable_progress_bar=false",
    ]  # fmt: skip
    return run(compose_config(overrides, tmp_path), tmp_path / name)


def test_a_new_probe_or_a_moved_model_rebuilds_nothing_and_new_text_rebuilds_training(tiny_run, tmp_path, monkeypatch):
    cfg, report = tiny_run
    model = tmp_path / "models" / "baseline"
    shutil.copytree(Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"], model)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.txt").write_text(STORY)
    (tmp_path / "book" / "terms.yaml").write_text("Kelara: [John]\nAshwick: [Leeds]\n")
    probe = {"prompt": "Kelara grew up in", "answer": "Ashwick", "kind": "recall", "split": "forget"}
    (tmp_path / "book" / "probes.jsonl").write_text(json.dumps(probe) + "\n")
    first = _run(tmp_path, "first", model)
    assert not any(first["cache"][stage]["hit"] for stage in TRAINED)

    (tmp_path / "book" / "probes.jsonl").write_text(json.dumps(probe) + "\n" + json.dumps({**probe, "split": "retain"}) + "\n")
    model.rename(tmp_path / "models" / "moved")
    again = _run(tmp_path, "again", tmp_path / "models" / "moved")
    assert all(again["cache"][stage] == {**first["cache"][stage], "hit": True} for stage in TRAINED), again["cache"]

    (tmp_path / "book" / "b.txt").write_text(STORY.replace("Pip", "Tam"))
    edited = _run(tmp_path, "edited", tmp_path / "models" / "moved", corpus="book/*.txt")
    assert not any(edited["cache"][stage]["hit"] for stage in TRAINED)
