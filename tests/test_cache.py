"""The stage cache: reuse by key, atomic builds, corruption detected and rebuilt."""

from __future__ import annotations

import os

import pytest

from unlearn.cache import StageCache, cache_key
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
