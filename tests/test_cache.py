"""The stage cache: reuse by key, atomic builds, corruption detected and rebuilt."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from unlearn.cache import LOCKS, StageCache, cache_key
from unlearn.errors import UserError


def _writer(calls: list[int]):
    def build(folder):
        calls.append(1)
        (folder / "weights.bin").write_bytes(b"x" * 1000)
        (folder / "config.json").write_text("{}")

    return build


def test_key_depends_on_spec_and_inputs_only():
    assert cache_key("s", {"a": 1, "b": 2}) == cache_key("s", {"b": 2, "a": 1})
    assert cache_key("s", {"a": 1}) != cache_key("s", {"a": 2})
    assert cache_key("s", {"a": 1}, ["k1"]) != cache_key("s", {"a": 1}, ["k2"])
    assert cache_key("s", {"a": 1}) != cache_key("t", {"a": 1})


def test_second_fetch_reuses_the_output(tmp_path):
    cache, calls = StageCache(tmp_path), []
    first = cache.fetch("stage", "k", _writer(calls))
    assert cache.used["stage"] == {"key": "k", "hit": False}
    second = cache.fetch("stage", "k", _writer(calls))
    assert first == second and len(calls) == 1
    assert cache.used["stage"] == {"key": "k", "hit": True}


@pytest.mark.parametrize(
    "damage",
    [
        lambda folder: (folder / "weights.bin").write_bytes(b"x" * 500),
        lambda folder: (folder / "weights.bin").write_bytes(b"y" * 1000),
        lambda folder: (folder / "weights.bin").unlink(),
        lambda folder: (folder / "manifest.json").unlink(),
        lambda folder: (folder / "stray.tmp").write_text("half"),
    ],
    ids=["truncated", "altered", "missing-file", "missing-manifest", "extra-file"],
)
def test_damaged_output_is_detected_and_rebuilt(tmp_path, damage):
    cache, calls = StageCache(tmp_path), []
    folder = cache.fetch("stage", "k", _writer(calls))
    damage(folder)
    again = cache.fetch("stage", "k", _writer(calls))
    assert len(calls) == 2 and cache.used["stage"]["hit"] is False
    assert (again / "weights.bin").read_bytes() == b"x" * 1000


def test_failed_build_leaves_nothing_behind(tmp_path):
    cache = StageCache(tmp_path)

    def broken(folder):
        (folder / "weights.bin").write_bytes(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.fetch("stage", "k", broken)
    assert list((tmp_path / "stage").iterdir()) == []
    calls: list[int] = []
    cache.fetch("stage", "k", _writer(calls))
    assert calls == [1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_root_names_the_key(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UserError, match=r"paths\.cache_dir=.*not writable"):
        StageCache(locked / "cache")


def test_root_that_is_a_file_names_the_key(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match=r"paths\.cache_dir=.*not writable"):
        StageCache(blocker / "cache")


def _build_slowly(root: str, log: str) -> None:
    """One process of the concurrency test: build a key that takes a second to build."""
    import time

    def build(folder):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(1.0)
        (folder / "weights.bin").write_bytes(b"x" * 1000)

    StageCache(Path(root)).fetch("s", "0123456789abcdef", build)


def test_concurrent_runs_on_one_key_build_it_once_and_both_finish(tmp_path):
    log = tmp_path / "builds.log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_build_slowly, args=(str(tmp_path / "cache"), str(log))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert len(log.read_text().split()) == 1, "the second run waited for the first and reused its output"
    assert (tmp_path / "cache" / "s" / "0123456789abcdef" / "weights.bin").is_file()


def test_opening_the_cache_reclaims_what_dead_runs_left(tmp_path):
    done, unfinished, busy = "a" * 16, "b" * 16, "c" * 16
    StageCache(tmp_path).fetch("unlearn", done, _writer([]))
    leftovers = {
        "killed while saving": tmp_path / "unlearn" / f".building-{done}-1234abcd",
        "killed after moving into place": tmp_path / "unlearn" / f".progress-{done}",
        "killed during the build": tmp_path / "unlearn" / f".building-{unfinished}-5678abcd",
    }
    resume = tmp_path / "unlearn" / f".progress-{unfinished}"
    live = tmp_path / "unlearn" / f".building-{busy}-9999abcd"
    for folder in [*leftovers.values(), resume, live]:
        folder.mkdir(parents=True)
        (folder / "epoch-1.ckpt").write_bytes(b"x")
    with FileLock(tmp_path / LOCKS / f"unlearn-{busy}.lock"):  # a live run building that key
        subprocess.run([sys.executable, "-c", f"from unlearn.cache import StageCache; StageCache({str(tmp_path)!r})"], check=True)
    assert not [name for name, folder in leftovers.items() if folder.exists()]
    assert resume.is_dir(), "progress towards a stage not yet built stays, for the next build to resume from"
    assert live.is_dir(), "a key another run is building is left alone"
