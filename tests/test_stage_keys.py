"""Each stage's cache key covers what that stage reads, nothing else (unlearn/stages.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import compose_config
from unlearn.cache import StageCache
from unlearn.clock import StageClock
from unlearn.distributed import Processes
from unlearn.evaluation import Measurement
from unlearn.pipeline import run
from unlearn.stages import ModelArtifact, StageRunner
from unlearn.targets import TargetArtifact, TargetFiles

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


@dataclass
class _ScoreSource:
    """A model source whose 'models' are their scores, so that a measurement shows which model it read."""

    dtype: str = "float32"

    def load(self, ref: str) -> tuple[dict, None]:
        return {"score": float(ref)}, None


@dataclass
class _CountingEvaluator:
    measured: list[float] = field(default_factory=list)

    def check(self, target: TargetFiles) -> None:
        pass

    def evaluate(self, model: dict, tokenizer: None, target: TargetFiles) -> Measurement:
        self.measured.append(model["score"])
        score = model["score"]
        return Measurement({"probe/forget_recall": score}, {"probe/forget_recall": "forget"}, {"rows": [{"score": score}]})


def test_a_models_measurement_is_reused_until_its_weights_files_loading_or_any_evaluator_changes(tmp_path):
    runner = StageRunner(StageCache(tmp_path / "cache"), None, 0, Processes(), StageClock())
    counting = _CountingEvaluator()
    target = TargetArtifact(TargetFiles(name="t", corpus=()), "corpus", "files")
    models = {"baseline": ModelArtifact("0.9", "weights-a"), "unlearned": ModelArtifact("0.1", "weights-b")}

    run_with = {"models": models, "settings": {"probes": {"max_new_tokens": 8}}, "source": _ScoreSource(), "target": target}

    def measure(**changed) -> dict:
        given = {**run_with, **changed}
        return runner.evaluate({"probes": counting}, given["settings"], given["source"], given["models"], given["target"], {})

    first = measure()
    assert counting.measured == [0.9, 0.1] and set(first["evaluator_timings_s"]) == {"probes"}
    assert first["models"] == {"baseline": {"probe/forget_recall": 0.9}, "unlearned": {"probe/forget_recall": 0.1}}
    assert first["details"]["unlearned"] == {"rows": [{"score": 0.1}]} and first["sides"] == {"probe/forget_recall": "forget"}
    again = measure()
    assert counting.measured == [0.9, 0.1] and {k: again[k] for k in first if k != "evaluator_timings_s"} == {
        k: first[k] for k in first if k != "evaluator_timings_s"
    }
    assert again["evaluator_timings_s"] == {} and runner.cache.used["evaluate.baseline"]["hit"] is True
    measure(models={**models, "unlearned": ModelArtifact("0.2", "weights-c")})  # a new unlearned model: the baseline's measurement stands
    assert counting.measured == [0.9, 0.1, 0.2]
    for changed in ({"settings": {"probes": {"max_new_tokens": 4}}}, {"source": _ScoreSource("bfloat16")},
                    {"target": TargetArtifact(target.files, "corpus", "files-with-a-new-probe")}):  # fmt: skip
        before = len(counting.measured)
        measure(**changed)
        assert counting.measured[before:] == [0.9, 0.1], changed
