"""Bad input stops the run with one line naming the key or file, and leaves the cache clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY, compose_config
from unlearn.anchors.dictionary import load_dictionary
from unlearn.errors import UserError
from unlearn.pipeline import run
from unlearn.tokenization import train_bpe_tokenizer
from unlearn.training.data import make_blocks


def _run(tiny_run, tmp_path, *overrides):
    cfg, _ = tiny_run
    return run(compose_config([*TINY, f"paths.cache_dir={cfg.paths.cache_dir}", *overrides], tmp_path), tmp_path / "run")


def _no_partial_entries(cache: Path) -> None:
    assert not list(cache.glob("*/.building-*"))


def test_context_length_beyond_the_model(tiny_run, tmp_path):
    with pytest.raises(UserError, match=r"context_length=4096 exceeds the model's 64 positions"):
        _run(tiny_run, tmp_path, "context_length=4096")
    _no_partial_entries(Path(tiny_run[0].paths.cache_dir))


def test_reinforced_model_with_another_tokenizer(tiny_run, tmp_path):
    other = tmp_path / "other"
    train_bpe_tokenizer(["completely different text"] * 20, vocab_size=280, min_frequency=1, model_max_length=64).save_pretrained(other)
    with pytest.raises(UserError, match=r"tokenizer that differs from the baseline's.*reinforce\.path"):
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


def test_labels_needing_a_reinforced_model_without_one(tmp_path):
    with pytest.raises(UserError, match="reinforce=none"):
        run(compose_config([*TINY, "reinforce=none"], tmp_path), tmp_path / "run")


def test_anchored_only_runs_without_a_reinforced_model(tiny_run, tmp_path):
    report = _run(tiny_run, tmp_path, "reinforce=none", "labels=anchored_only", "stages=[labels]")
    assert "reinforce" not in report["cache"] and report["cache"]["labels"]["hit"] is False


def test_empty_corpus(tiny_run):
    from unlearn.models import load_tokenizer

    cfg, report = tiny_run
    tokenizer = load_tokenizer(str(Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"]))
    with pytest.raises(UserError, match="corpus has no text"):
        make_blocks(tokenizer, ["", ""], 64)


def test_unknown_stage_names_the_key(tmp_path):
    with pytest.raises(UserError, match=r"stages=.*'unlern'"):
        run(compose_config([*TINY, "stages=[unlern]"], tmp_path), tmp_path / "run")
