"""`python -m unlearn` as a user runs it: outputs, reuse of the cache, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY, TINY_WORLD

ROOT = Path(__file__).resolve().parents[1]


def _cli(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "unlearn", f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", *overrides]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    return folder, _cli(folder, *TINY)


def test_run_writes_the_report(first_run):
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
    assert set(report["losses"]) == {"baseline", "reinforced", "unlearned"}
    assert (folder / "run" / "metrics.png").is_file() and (folder / "run" / "losses.png").is_file()
    assert set(report["timings_s"]) == {"target", "baseline", "blocks", "reinforce", "candidates", "labels", "unlearn", "evaluate"}
    assert set(report["cache"]) == {"target", "baseline", "reinforce", "candidates", "labels", "unlearn"}
    assert 0.3 < report["labels"]["labelled_fraction"] <= 1.0
    assert (folder / "run" / "report.md").read_text().startswith("# unlearn report")
    assert (folder / "run" / ".hydra" / "config.yaml").is_file()
    assert f"run folder: {folder / 'run'}" in result.stdout
    assert "probe/forget_recall" in result.stdout


def test_second_run_reuses_the_cached_baseline(first_run, tmp_path):
    folder, _ = first_run
    again = _cli(folder, *TINY, f"hydra.run.dir={tmp_path / 'again'}")
    assert again.returncode == 0, again.stderr
    before = json.loads((folder / "run" / "report.json").read_text())
    after = json.loads((tmp_path / "again" / "report.json").read_text())
    assert after["cache"]["baseline"] == {"key": before["cache"]["baseline"]["key"], "hit": True}
    assert after["models"] == before["models"]


def test_changing_alpha_reuses_the_reinforced_model(first_run, tmp_path):
    folder, _ = first_run
    result = _cli(folder, *TINY, "labels.alpha=2.5", f"hydra.run.dir={tmp_path / 'alpha'}")
    assert result.returncode == 0, result.stderr
    before = json.loads((folder / "run" / "report.json").read_text())["cache"]
    after = json.loads((tmp_path / "alpha" / "report.json").read_text())["cache"]
    assert after["reinforce"] == {"key": before["reinforce"]["key"], "hit": True}
    assert after["candidates"] == {"key": before["candidates"]["key"], "hit": True}
    assert after["labels"]["hit"] is False and after["labels"]["key"] != before["labels"]["key"]
    assert after["unlearn"]["hit"] is False and after["unlearn"]["key"] != before["unlearn"]["key"]


def test_negative_alpha_fails_before_any_work(tmp_path):
    result = _cli(tmp_path, "labels.alpha=-1")
    assert result.returncode == 2
    assert "labels.alpha=-1" in _error_line(result)
    assert not (tmp_path / "cache" / "baseline").exists()


def test_corrupted_cached_baseline_is_rebuilt(first_run, tmp_path):
    folder, _ = first_run
    report = json.loads((folder / "run" / "report.json").read_text())
    weights = folder / "cache" / "baseline" / report["cache"]["baseline"]["key"] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = _cli(folder, *TINY, f"hydra.run.dir={tmp_path / 'rebuilt'}")
    assert result.returncode == 0, result.stderr
    assert "corrupted" in result.stdout + result.stderr
    rebuilt = json.loads((tmp_path / "rebuilt" / "report.json").read_text())
    assert rebuilt["cache"]["baseline"] == {"key": report["cache"]["baseline"]["key"], "hit": False}
    assert rebuilt["models"] == report["models"]


def test_unknown_option_names_the_group(tmp_path):
    result = _cli(tmp_path, "model=no_such_model")
    assert result.returncode != 0
    assert "model/no_such_model" in result.stderr and "toy_llama" in result.stderr


def test_missing_mandatory_value_names_the_key(tmp_path):
    result = _cli(tmp_path, "model=hf")
    assert result.returncode == 2
    assert "model.name_or_path" in _error_line(result)
    assert not (tmp_path / "run" / "report.json").exists()


def test_unwritable_cache_names_the_key(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _cli(tmp_path, f"paths.cache_dir={blocker / 'cache'}")
    assert result.returncode == 2
    assert "paths.cache_dir" in _error_line(result)


def test_unreachable_hub_model_says_what_to_do(tmp_path):
    result = _cli(tmp_path, *TINY_WORLD, "model=hf", "model.name_or_path=no-such-org/no-such-model")
    assert result.returncode == 2
    line = _error_line(result)
    assert "model.name_or_path=no-such-org/no-such-model" in line and "local folder" in line
