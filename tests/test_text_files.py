"""Targets from the user's files: README's walk-through as written, the files' checks, the
held-out split, content-keyed caching, and a multirun over targets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser

from tests.conftest import HANG_GUARD_S, TINY, TINY_WORLD, compose_config, unlearn_cli
from unlearn.cache import StageCache
from unlearn.errors import UserError
from unlearn.files import read_documents
from unlearn.targets import prepare_target
from unlearn.targets.text_files import TextFilesTarget

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = [o for o in TINY if o not in TINY_WORLD]


def walkthrough() -> str:
    blocks = re.findall(r"<!-- walkthrough -->\n```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert len(blocks) >= 5, "README's 'Add your own target' lost its walkthrough blocks"
    return "set -euo pipefail\n" + "".join(blocks)


def repository_copy(tmp_path: Path) -> Path:
    """What a new user has: the package, its conf/ and README, in a folder of their own."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "unlearn", copy / "unlearn", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "conf", copy / "conf")
    shutil.copy(ROOT / "README.md", copy)
    return copy


def test_readme_walkthrough_adds_a_target_that_runs_end_to_end(tmp_path):
    repo = repository_copy(tmp_path)
    env = {**os.environ, "UNLEARN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(repo)}
    result = subprocess.run(["bash", "-c", walkthrough()], cwd=repo, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(next((repo / "outputs" / "runs").glob("*/report.json")).read_text())
    assert report["target"] == "my_story"
    baseline, unlearned = report["models"]["baseline"], report["models"]["unlearned"]
    assert baseline["probe/forget_recall"] >= 0.5 and unlearned["probe/forget_recall"] <= 0.25
    assert unlearned["probe/retain_recall"] >= baseline["probe/retain_recall"] - 0.25
    assert "familiarity_completion" in report["skipped"] and "mia" in report["skipped"]


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_corpus_globs_and_jsonl_become_one_cached_corpus_with_a_heldout_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "book", "a.txt", "Chapter one.")
    _write(tmp_path / "book", "b.md", "Chapter two.")
    _write(tmp_path / "book", "c.jsonl", "\n".join(json.dumps({"body": f"Letter {i}."}) for i in range(8)))
    target = TextFilesTarget(name="book", corpus=["book/*.txt", "book/*.md", "book/c.jsonl"], text_field="body", heldout_fraction=0.2)
    built = prepare_target(target, StageCache(tmp_path / "cache"))
    files = built.files
    kept, held = read_documents(files.corpus), read_documents(files.heldout)
    assert len(kept) == 8 and len(held) == 2
    assert sorted(kept + held) == sorted(["Chapter one.", "Chapter two."] + [f"Letter {i}." for i in range(8)])
    assert files.pretraining[0] == files.corpus[0]
    assert prepare_target(target, StageCache(tmp_path / "cache")).corpus_key == built.corpus_key
    _write(tmp_path / "book", "a.txt", "Chapter one, revised.")
    revised = TextFilesTarget(name="book", corpus=["book/*.txt", "book/*.md", "book/c.jsonl"], text_field="body", heldout_fraction=0.2)
    assert prepare_target(revised, StageCache(tmp_path / "cache")).corpus_key != built.corpus_key


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"corpus": ["nowhere/*.txt"]}, r"target\.corpus: 'nowhere/\*\.txt' matches no file"),
        ({"corpus": ["book/scan.pdf"]}, r"target\.corpus: book/scan\.pdf is not one of \.txt, \.md, \.jsonl"),
        ({"corpus": ["book/a.txt"], "probes": "book/probes.jsonl"}, r"target\.probes=book/probes\.jsonl does not exist"),
        ({"corpus": ["book/a.txt"], "heldout_fraction": 1.0}, r"heldout_fraction=1\.0 must be in \[0, 1\)"),
    ],
)
def test_bad_files_name_the_key(settings, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "book", "a.txt", "Text.")
    _write(tmp_path / "book", "scan.pdf", "%PDF")
    with pytest.raises(UserError, match=message):
        prepare_target(TextFilesTarget(name="book", **settings), StageCache(tmp_path / "cache"))
    assert not list((tmp_path / "cache").glob("target/*"))


def test_a_missing_corpus_is_a_clear_error(tmp_path):
    from unlearn.pipeline import run

    with pytest.raises(UserError, match=r"missing mandatory value target\.corpus"):
        run(compose_config(["target=text_files"], tmp_path), tmp_path / "run")


def test_multirun_over_targets_changes_only_target(tiny_run, tmp_path):
    cfg, _ = tiny_run
    repo = repository_copy(tmp_path)
    subprocess.run(["bash", "-c", walkthrough().rsplit("python -m unlearn", 1)[0]], cwd=repo, check=True, capture_output=True)
    (repo / "conf" / "target" / "my_letters.yaml").write_text(
        "defaults:\n  - text_files\n  - _self_\nname: my_letters\ncorpus: [my_story/generic.jsonl]\n"
        "pretraining: [my_story/story.jsonl]\nanchors: my_story/letters_anchors.yaml\n"
    )
    (repo / "my_story" / "letters_anchors.yaml").write_text("Mary Smith: [Jane Doe]\nOakville: [Hillside]\n")
    world = [o for o in OverridesParser.create().parse_overrides(TINY_WORLD) if o.key_or_group.startswith("target.")]
    tiny_world = {o.key_or_group.removeprefix("target."): o.value() for o in world}
    (repo / "conf" / "target" / "tiny_world.yaml").write_text(
        "# @package _global_\n" + yaml.safe_dump({"defaults": ["toy_world", "_self_"], "target": tiny_world})
    )
    args = ["-m", "target=tiny_world,my_story,my_letters", "stages=[labels]", *TINY_MODEL, f"paths.cache_dir={cfg.paths.cache_dir}"]
    result = unlearn_cli(*args, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads((tmp_path / "sweep" / str(job) / "report.json").read_text()) for job in range(3)]
    assert [r["target"] for r in reports] == ["toy_world", "my_story", "my_letters"]
    assert reports[0]["cache"]["baseline"]["hit"] is True
    assert len({r["cache"]["labels"]["key"] for r in reports}) == 3
