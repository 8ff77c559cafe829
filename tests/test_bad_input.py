"""Bad input stops the run with one line naming the key or file, and leaves the cache clean."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.bad_inputs import CASES
from tests.conftest import TINY, compose_config
from tests.tokenizer_families import tokenizer as tokenizer_family
from unlearn.anchors.dictionary import load_dictionary
from unlearn.blocks import make_blocks
from unlearn.errors import UserError
from unlearn.pipeline import run
from unlearn.tokenization import train_bpe_tokenizer


def _run(tiny_run, tmp_path, *overrides):
    cfg, _ = tiny_run
    return run(compose_config([*TINY, f"paths.cache_dir={cfg.paths.cache_dir}", *overrides], tmp_path), tmp_path / "run")


def _no_partial_entries(cache: Path) -> None:
    assert not list(cache.glob("*/.building-*"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_stops_before_any_training_naming_the_key(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    case.write_files(tmp_path)
    with pytest.raises(UserError, match=case.expected):
        run(compose_config(case.overrides, tmp_path), tmp_path / "run")
    cache = tmp_path / "cache"
    assert not (cache / "baseline").exists() and not list(cache.glob("*/.progress-*")), "trained before failing"
    _no_partial_entries(cache)


def test_the_catalogue_covers_every_group():
    keys = {override.lstrip("+").split("=")[0].split(".")[0] for case in CASES for override in case.overrides}
    groups = {"target", "model", "anchors", "reinforce", "labels", "unlearn", "evaluator", "trainer"}
    assert groups | {"seed", "context_length", "stages"} <= keys
    assert len(CASES) >= 20


def test_reinforced_model_with_another_tokenizer(tiny_run, tmp_path):
    cfg, report = tiny_run
    other = tmp_path / "other"
    shutil.copytree(Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"], other)
    train_bpe_tokenizer(["completely different text"] * 20, vocab_size=280, min_frequency=1, model_max_length=64).save_pretrained(other)
    with pytest.raises(UserError, match=r"reinforce\.path=.* has a tokenizer that differs from the baseline's"):
        _run(tiny_run, tmp_path, "reinforce=from_path", f"reinforce.path={other}")


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("terms.yaml", "Kelara: [John\nHalwyn: [Tom]\n", r"terms\.yaml:2"),
        ("terms.json", '{"Kelara": ["John"],\n "Halwyn": }', r"terms\.json:2"),
    ],
)
def test_anchor_file_that_does_not_parse_names_file_and_line(tiny_run, tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match=where):
        _run(tiny_run, tmp_path, "anchors=from_file", f"anchors.path={path}")
    _no_partial_entries(Path(tiny_run[0].paths.cache_dir))


def test_anchor_file_with_empty_alternatives(tmp_path):
    path = tmp_path / "terms.yaml"
    path.write_text("Kelara: []\n")
    with pytest.raises(UserError, match="'Kelara' needs a non-empty list"):
        load_dictionary(path)


def test_anchored_only_runs_without_a_reinforced_model(tiny_run, tmp_path):
    report = _run(tiny_run, tmp_path, "reinforce=none", "labels=anchored_only", "stages=[labels]")
    assert "reinforce" not in report["cache"] and report["cache"]["labels"]["hit"] is False


def test_blocks_of_an_empty_corpus_name_the_key():
    tokenizer = tokenizer_family("toy", ["Kelara grew up in Ashwick."] * 10, 300)
    with pytest.raises(UserError, match="corpus has no text"):
        make_blocks(tokenizer, ["", ""], 64)


def test_the_recorded_measurement_covers_the_catalogue():
    """experiments/bad_input/results.json, written by its measure.py, ran every case: each exited 2
    with its one line, nothing trained, within seconds (the catalogue changed: run measure.py again)."""
    recorded = json.loads((Path(__file__).resolve().parents[1] / "experiments" / "bad_input" / "results.json").read_text())
    rows = {row["case"]: row for row in recorded["cases"]}
    assert set(rows) == {case.name for case in CASES}
    for case in CASES:
        row = rows[case.name]
        assert row["exit"] == 2 and re.search(case.expected, row["line"]) and not row["trained"], row
    assert max(row["seconds"] for row in rows.values()) <= 10
