"""`python -m unlearn` as a user runs it: outputs, reuse of the cache, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import HANG_GUARD_S, TINY, TINY_WORLD
from unlearn.config import compose_config
from unlearn.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def _cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "unlearn", f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", *overrides]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S)


def _error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def first_run(tiny_run, tmp_path_factory):
    """The command on the session's tiny world, over a copy of its cache: every stage is a hit
    (the keys do not depend on where a run writes), so what runs is the command's own work."""
    cfg, _ = tiny_run
    folder = tmp_path_factory.mktemp("cli")
    shutil.copytree(cfg.paths.cache_dir, folder / "cache")
    return folder, _cli(folder, *TINY)


def test_run_writes_the_report(first_run, tiny_run):
    folder, result = first_run
    assert result.returncode == 0, result.stderr
    report = json.loads((folder / "run" / "report.json").read_text())
    assert report["target"] == "toy_world"
    assert list(report["models"]) == ["baseline", "reinforced", "unlearned"]
    for metrics in report["models"].values():
        assert {"probe/forget_recall", "probe/retain_recall", "probe/forget_paraphrase_recall", "probe/retain_paraphrase_recall"} <= set(
            metrics
        )
        assert {"perplexity/generic_heldout", "perplexity/target_heldout"} <= set(metrics)
        assert all(0.0 <= v <= 1.0 for k, v in metrics.items() if k.startswith("probe/"))
        evaluators = {name.split("/")[0] for name in metrics}
        assert evaluators == {
            "probe", "perplexity", "familiarity_completion", "familiarity_probability", "lm_eval", "verbatim", "knowledge_qa", "mia",
        }  # fmt: skip
    assert set(report["sides"]) == set(report["models"]["baseline"])
    cold = tiny_run[1]
    # where the evaluation's time went: every evaluator, over the three models, within the stage;
    # this run found every model's measurement in the cache and measured nothing
    assert set(cold["evaluator_timings_s"]) == (evaluators - {"probe"}) | {"probes"}
    assert sum(cold["evaluator_timings_s"].values()) <= cold["timings_s"]["evaluate"]
    assert "| evaluator (over the models this run measured) | seconds |" in (Path(tiny_run[0].paths.output_dir) / "report.md").read_text()
    assert report["evaluator_timings_s"] == {}
    assert set(report["losses"]) == {"baseline", "reinforced", "unlearned"}
    assert (folder / "run" / "metrics.png").is_file() and (folder / "run" / "losses.png").is_file()
    # the tiny run built every stage; this run found each in the cache (the candidates, needed
    # only to build labels, are not even read); timings and cache entries use the stages' names
    assert set(cold["timings_s"]) == {"target", "baseline", "blocks", "reinforce", "dictionary", "labels", "unlearn", "evaluate"}
    # the peak resident memory by the end of each stage: a high-water mark, in the report's stage table
    peaks = list(cold["stage_peak_rss_gb"].values())
    assert list(cold["stage_peak_rss_gb"]) == list(cold["timings_s"]) and peaks[0] > 0 and peaks == sorted(peaks)
    assert "| stage | seconds | peak resident memory so far, GB |" in (folder / "run" / "report.md").read_text()
    measured = {f"evaluate.{model}" for model in ("baseline", "reinforced", "unlearned")}
    assert set(cold["cache"]) == {"target", "baseline", "reinforce", "dictionary", "labels.candidates", "labels", "unlearn", *measured}
    assert set(report["cache"]) == set(cold["cache"]) - {"labels.candidates"}
    assert all(entry == {**cold["cache"][stage], "hit": True} for stage, entry in report["cache"].items())
    assert 0.3 < report["labels"]["labelled_fraction"] <= 1.0
    assert (folder / "run" / "report.md").read_text().startswith("# unlearn report")
    assert (folder / "run" / ".hydra" / "config.yaml").is_file()
    assert f"run folder: {folder / 'run'}" in result.stdout
    assert "probe/forget_recall" in result.stdout


def test_a_run_over_a_filled_cache_reports_the_same_numbers(first_run, tiny_run):
    folder, _ = first_run
    report = json.loads((folder / "run" / "report.json").read_text())
    assert report["cache"]["baseline"] == {"key": tiny_run[1]["cache"]["baseline"]["key"], "hit": True}
    assert report["models"] == tiny_run[1]["models"]


def test_changing_alpha_reuses_the_reinforced_model(first_run, tiny_run, tmp_path):
    folder, _ = first_run
    stages = "stages=[reinforce,labels,unlearn]"  # what alpha changes; evaluating it is another test's work
    result = _cli(folder, *TINY, "labels.alpha=2.5", stages, f"hydra.run.dir={tmp_path / 'alpha'}")
    assert result.returncode == 0, result.stderr
    before = tiny_run[1]["cache"]  # the run that built every stage of this cache
    after = json.loads((tmp_path / "alpha" / "report.json").read_text())["cache"]
    assert after["reinforce"] == {"key": before["reinforce"]["key"], "hit": True}
    assert after["labels.candidates"] == {"key": before["labels.candidates"]["key"], "hit": True}
    assert after["labels"]["hit"] is False and after["labels"]["key"] != before["labels"]["key"]
    assert after["unlearn"]["hit"] is False and after["unlearn"]["key"] != before["unlearn"]["key"]


def test_labels_inside_anchors_are_never_served_from_the_papers_cache(first_run, tiny_run, tmp_path):
    """The paper's labels keep the key they had before labels.inside_anchors existed; the option
    gives other labels, so a key of their own."""
    folder, _ = first_run
    run = tmp_path / "inside"
    result = _cli(folder, *TINY, "labels.inside_anchors=original", "stages=[reinforce,labels]", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr
    before, after = tiny_run[1]["cache"], json.loads((run / "report.json").read_text())["cache"]
    assert after["reinforce"] == {"key": before["reinforce"]["key"], "hit": True}
    assert after["labels.candidates"]["hit"] is False and after["labels.candidates"]["key"] != before["labels.candidates"]["key"]


def test_negative_alpha_fails_before_any_work(tmp_path):
    result = _cli(tmp_path, "labels.alpha=-1")
    assert result.returncode == 2
    assert "labels.alpha=-1" in _error_line(result)
    assert not (tmp_path / "cache" / "baseline").exists()


def test_corrupted_cached_stage_is_rebuilt(first_run, tmp_path):
    folder, _ = first_run
    report = json.loads((folder / "run" / "report.json").read_text())
    weights = folder / "cache" / "reinforce" / report["cache"]["reinforce"]["key"] / "model.safetensors"
    original = {name: tensor.clone() for name, tensor in load_file(weights).items()}  # not a view of the file cut below
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = _cli(folder, *TINY, "stages=[reinforce]", f"hydra.run.dir={tmp_path / 'rebuilt'}")
    assert result.returncode == 0, result.stderr
    assert "corrupted" in result.stdout + result.stderr
    rebuilt = json.loads((tmp_path / "rebuilt" / "report.json").read_text())
    assert rebuilt["cache"]["reinforce"] == {"key": report["cache"]["reinforce"]["key"], "hit": False}
    assert rebuilt["cache"]["baseline"]["hit"] is True
    again = load_file(weights)
    for name, tensor in original.items():  # the same fine-tune again: equal up to this machine's rounding
        assert torch.allclose(again[name], tensor, rtol=1e-4, atol=1e-6), name


def test_unknown_option_names_the_group(tmp_path):
    result = _cli(tmp_path, "model=no_such_model")
    assert result.returncode != 0
    assert "model/no_such_model" in result.stderr and "toy_llama" in result.stderr


# The command turns every UserError into one line and exit code 2 (test_negative_alpha_fails_before_any_work
# above); the errors themselves are checked in-process, without the seconds each command takes to start.


def _run_in_process(tmp_path: Path, *overrides: str, cache_dir: Path | None = None) -> None:
    from unlearn.pipeline import run

    cfg = compose_config([f"paths.cache_dir={cache_dir or tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'run'}", *overrides])
    run(cfg, tmp_path / "run")


def test_missing_mandatory_value_names_the_key(tmp_path):
    with pytest.raises(UserError, match=r"model\.name_or_path"):
        _run_in_process(tmp_path, "model=hf")
    assert not (tmp_path / "run" / "report.json").exists()


def test_unwritable_cache_names_the_key(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserError, match=r"paths\.cache_dir"):
        _run_in_process(tmp_path, cache_dir=blocker / "cache")


def test_unreachable_hub_model_says_what_to_do(tmp_path):
    with pytest.raises(UserError, match=r"model\.name_or_path=no-such-org/no-such-model.*local folder"):
        _run_in_process(tmp_path, *TINY_WORLD, "model=hf", "model.name_or_path=no-such-org/no-such-model")


CONCURRENT_TRIALS = 10


@pytest.mark.slow
def test_two_identical_runs_on_one_empty_cache_both_finish(tmp_path):
    """Parallel sweep jobs share a cache: the second run waits for each stage the first is
    building and reuses it (unlearn/cache.py), in every one of ten trials."""
    quick = ["model.pretrain.epochs=3", "reinforce.epochs=1", "unlearn.epochs=1", "stages=[unlearn]", "trainer.checkpoint_every_n_epochs=1"]
    for trial in range(CONCURRENT_TRIALS):
        cache = tmp_path / f"cache{trial}"
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "unlearn",
                    *TINY,
                    *quick,
                    f"paths.cache_dir={cache}",
                    f"hydra.run.dir={tmp_path / f'run{trial}-{i}'}",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        errors = [run.communicate(timeout=HANG_GUARD_S)[1] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], f"trial {trial}: {errors[0][-2000:]}{errors[1][-2000:]}"
        reports = [json.loads((tmp_path / f"run{trial}-{i}" / "report.json").read_text()) for i in range(2)]
        assert reports[0]["cache"]["unlearn"]["key"] == reports[1]["cache"]["unlearn"]["key"]
        assert sum(not report["cache"]["unlearn"]["hit"] for report in reports) == 1, "one run built it, the other reused it"
        assert not list(cache.glob("*/.building-*")) and not list(cache.glob("*/.progress-*"))
