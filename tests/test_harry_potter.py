"""target=harry_potter: the shipped dictionary and prompt sets, the paper's recipe, the
clear error without books, and the pipeline on a small text with a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import HANG_GUARD_S, TINY, TINY_WORLD, compose_config, target_files
from unlearn.anchors.dictionary import AnchorDictionary, load_dictionary
from unlearn.errors import UserError
from unlearn.files import read_jsonl, read_records
from unlearn.pipeline import run
from unlearn.settings import build
from unlearn.targets.harry_potter import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
# The toy model instead of the paper's Llama-2, which the target brings by default.
TINY_MODEL = ["model=toy_llama", *(o for o in TINY if o not in TINY_WORLD)]
BOOK = (
    "Harry Potter walked into the Great Hall at Hogwarts with Ron and Hermione. Dumbledore stood to speak. "
    "Hagrid waved from the staff table, and Snape watched Harry with cold eyes. "
) * 4


def test_shipped_dictionary_and_prompts_are_the_sizes_promised():
    raw = load_dictionary(SHIPPED / "anchors.yaml")
    merged = AnchorDictionary.from_file(SHIPPED / "anchors.yaml").terms
    assert len(merged) >= 300 and "Harry Potter" in raw and "Harry Potter" not in merged  # docs/method.md's merge rule
    assert all(len(alternatives) >= 2 for alternatives in merged.values())
    english = read_records(SHIPPED / "completion_prompts.jsonl", ("prompt", "references", "subtlety"), "")
    spanish = read_records(SHIPPED / "completion_prompts_es.jsonl", ("prompt", "references", "subtlety"), "")
    assert len(english) >= 150 and len(spanish) == len(english)
    assert [r["subtlety"] for r in spanish] == [r["subtlety"] for r in english] and {r["subtlety"] for r in english} <= set(range(1, 11))
    assert all(r["references"] for r in english)
    next_token = read_jsonl(SHIPPED / "next_token_prompts.jsonl")
    assert len(next_token) >= 40 and all(r["idiosyncratic"] and r["generic"] for r in next_token)


def test_the_papers_command_brings_the_papers_setup(tmp_path):
    """`python -m unlearn target=harry_potter trainer=a100x4`, as users start the paper's experiment."""
    done = subprocess.run(
        [sys.executable, "-m", "unlearn", "target=harry_potter", "trainer=a100x4", "--cfg", "job"],
        cwd=tmp_path, capture_output=True, text=True, timeout=HANG_GUARD_S, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cfg = OmegaConf.create(done.stdout)
    assert cfg.model.name_or_path == "meta-llama/Llama-2-7b-chat-hf" and cfg.model.dtype == "bfloat16"
    assert cfg.trainer.devices == 4 and cfg.trainer.strategy._target_.endswith("sharding.FullySharded")
    assert cfg.context_length == 512 and cfg.labels.alpha == 5.0
    assert cfg.reinforce.lr == 3e-6 and cfg.unlearn.lr == 1e-6 and len(cfg.evaluator.lm_eval.tasks) == 7


def test_the_command_line_still_wins_and_the_old_recipe_is_an_alias(tmp_path):
    chosen = compose_config(["target=harry_potter", "model=llama2_7b", "labels.alpha=2"], tmp_path)
    assert chosen.model.name_or_path == "meta-llama/Llama-2-7b-hf" and chosen.labels.alpha == 2
    toy = compose_config(["target=harry_potter", "model=toy_llama"], tmp_path)
    assert toy.model.name == "toy_llama" and toy.context_length == 128 and toy.reinforce.lr == 1e-3
    alias = compose_config(["experiment=whp_paper"], tmp_path)
    assert OmegaConf.to_container(alias) == OmegaConf.to_container(compose_config(["target=harry_potter"], tmp_path))


def test_without_books_one_line_says_how_to_give_them(tmp_path):
    cfg = compose_config(["target=harry_potter"], tmp_path)
    with pytest.raises(UserError, match=r"^target=harry_potter needs the books.*target\.corpus=.*target\.dataset="):
        run(cfg, tmp_path / "run")


def test_an_unknown_prompt_language_names_the_key(tmp_path):
    with pytest.raises(UserError, match=r"target\.prompt_language=fr"):
        build(compose_config(["target=harry_potter", "target.corpus=[a.txt]", "target.prompt_language=fr"], tmp_path).target, "target")


def test_pipeline_runs_on_a_small_text_with_the_shipped_dictionary(tmp_path):
    (tmp_path / "book.txt").write_text(BOOK)
    overrides = ["target=harry_potter", f"target.corpus=[{tmp_path / 'book.txt'}]", "target.prompt_language=es", "stages=[labels]"]
    cfg = compose_config([*overrides, *TINY_MODEL], tmp_path)
    report = run(cfg, tmp_path / "run")
    assert report["target"] == "harry_potter" and report["labels"]["changed_fraction"] > 0
    files = target_files(cfg.target, Path(cfg.paths.cache_dir))
    assert files.completion_prompts.name == "completion_prompts_es.jsonl"
    assert json.loads(files.completion_prompts.read_text().splitlines()[0])["prompt"].startswith("Los dos mejores amigos")
