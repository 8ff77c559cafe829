"""A content-keyed store of stage outputs, shared by every run and sweep job.

A stage's output lives in `<root>/<stage>/<key>/`, where the key hashes everything the
output depends on. It is built in a temporary folder and renamed into place only once
complete, with a manifest of checksums, so an interrupted or corrupted build is never
trusted: it is detected, removed and rebuilt.

In a multi-process run, rank 0 alone decides whether an output is cached, names the
folder it is built in and moves it into place; a build is either rank 0's alone (the
others wait) or `collective` (every rank takes part, e.g. a fine-tune, and rank 0 writes).
A build may keep resumable progress (checkpoints) in `progress_dir(stage, key)`, which
survives an interrupted build and is removed once the output is in place.

Runs that share a cache (parallel sweep jobs) build each key under a file lock: the
second run waits for the first and then reuses its output. Holding a key's lock also
proves that nobody else is building it, so what a killed process left for that key (a
half-built `.building-*` folder, progress of a stage already in place) is removed then,
and, for every key nobody holds, when a run opens the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from unlearn.distributed import Processes
from unlearn.errors import UserError
from unlearn.files import fingerprint, sha256

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_FORMAT_VERSION = 1
LOCKS = ".locks"
FINGERPRINTS = ".fingerprints"
_LEFTOVER = re.compile(r"^\.(building|progress)-([0-9a-f]{16})(-[0-9a-f]+)?$")


def cache_key(stage: str, spec: Mapping, inputs: Sequence[str] = ()) -> str:
    """A short stable hash of a stage's configuration and the keys of its inputs."""
    payload = json.dumps(
        {"stage": stage, "spec": spec, "inputs": list(inputs), "format": _FORMAT_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def content_key(kind: str, paths: Sequence[Path], memo: Path | None = None) -> str:
    """A key of files by their content alone (files.fingerprint), wherever they are."""
    return cache_key(kind, {"content": fingerprint(paths, memo)})


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _write_manifest(folder: Path) -> None:
    entries = {str(p.relative_to(folder)): sha256(p) for p in _files(folder)}
    (folder / MANIFEST).write_text(json.dumps(entries, indent=1, sort_keys=True))


def _problem(folder: Path) -> str | None:
    """Why a cached folder cannot be trusted, or None when every file matches its manifest."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return "no manifest (the build never finished)"
    try:
        expected = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "unreadable manifest"
    present = {str(p.relative_to(folder)) for p in _files(folder)}
    if present != set(expected):
        return f"files differ from the manifest ({sorted(present ^ set(expected))[:3]})"
    for name, digest in expected.items():
        if sha256(folder / name) != digest:
            return f"{name} does not match its checksum"
    return None


@dataclass
class StageCache:
    root: Path
    processes: Processes = field(default_factory=Processes)
    used: dict[str, dict[str, object]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-test-{uuid.uuid4().hex}"
            probe.write_text("")
            probe.unlink()
        except OSError as err:
            raise UserError(
                f"paths.cache_dir={self.root} is not writable ({err.strerror}); "
                "point it at a folder you can write, e.g. paths.cache_dir=/tmp/unlearn-cache"
            ) from err
        if self.processes.is_main:
            self.reclaim()

    @property
    def fingerprints(self) -> Path:
        """Where content hashes of large files (model folders) are remembered (files.fingerprint)."""
        return self.root / FINGERPRINTS

    def _lock(self, stage: str, key: str) -> FileLock:
        (self.root / LOCKS).mkdir(exist_ok=True)
        return FileLock(self.root / LOCKS / f"{stage}-{key}.lock")

    @contextmanager
    def _building(self, stage: str, key: str) -> Iterator[None]:
        """Rank 0 holds the key's lock (waiting for another run that holds it); then anything
        left under the key's names is a dead process's, and goes."""
        if not self.processes.is_main:
            yield
            return
        with self._lock(stage, key):
            self._remove_leftovers(stage, key)
            yield

    def _remove_leftovers(self, stage: str, key: str) -> None:
        folder = self.root / stage
        for leftover in folder.glob(f".building-{key}-*"):
            log.info("removing %s, left by a build that did not finish", leftover)
            shutil.rmtree(leftover, ignore_errors=True)
        if (folder / key).exists():
            shutil.rmtree(self.progress_dir(stage, key), ignore_errors=True)

    def reclaim(self) -> None:
        """Remove what killed runs left for keys nobody is building now; progress towards a
        stage not yet in place stays, for the next build of that key to resume from."""
        for leftover in sorted(self.root.glob("*/.*-*")):
            match = _LEFTOVER.match(leftover.name)
            if not match:
                continue
            stage, key = leftover.parent.name, match.group(2)
            try:
                with self._lock(stage, key).acquire(timeout=0):
                    self._remove_leftovers(stage, key)
            except Timeout:
                continue

    def progress_dir(self, stage: str, key: str) -> Path:
        return self.root / stage / f".progress-{key}"

    def _cached(self, final: Path, stage: str, key: str) -> bool:
        if not final.exists():
            return False
        problem = _problem(final)
        if problem is None:
            return True
        log.warning("cached %s %s is corrupted (%s): rebuilding it", stage, key, problem)
        shutil.rmtree(final)
        return False

    def has(self, stage: str, key: str) -> bool:
        """Whether the output is cached and sound, as rank 0 finds it."""
        return self.processes.broadcast(self._cached(self.root / stage / key, stage, key) if self.processes.is_main else None)

    def fetch(self, stage: str, key: str, build: Callable[[Path], None], collective: bool = False, record: str | None = None) -> Path:
        """The folder holding the stage output for this key, built by `build(folder)` if absent;
        with `collective`, every process calls `build` and only rank 0 may write. `record`
        names the entry of `used` (default: the stage) for a stage that caches more than one artifact."""
        with self._building(stage, key):
            return self._fetch(stage, key, build, collective, record or stage)

    def _fetch(self, stage: str, key: str, build: Callable[[Path], None], collective: bool, record: str) -> Path:
        final = self.root / stage / key
        processes = self.processes
        hit = self.has(stage, key)
        if not hit:
            staging = processes.broadcast(self.root / stage / f".building-{key}-{uuid.uuid4().hex[:8]}")
            if processes.is_main:
                staging.mkdir(parents=True)
            processes.barrier()
            try:
                if collective or processes.is_main:
                    build(staging)
                if processes.is_main:
                    self._move_into_place(staging, final, stage, key)
            finally:
                if processes.is_main:
                    shutil.rmtree(staging, ignore_errors=True)
            processes.barrier()
        self.used[record] = {"key": key, "hit": hit}
        return final

    def _move_into_place(self, staging: Path, final: Path, stage: str, key: str) -> None:
        _write_manifest(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.exists():
                raise
            log.info("another job finished %s %s first; using its output", stage, key)
        shutil.rmtree(self.progress_dir(stage, key), ignore_errors=True)
