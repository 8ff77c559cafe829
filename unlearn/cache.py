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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from unlearn.distributed import Processes
from unlearn.errors import UserError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_FORMAT_VERSION = 1


def cache_key(stage: str, spec: Mapping, inputs: Sequence[str] = ()) -> str:
    """A short stable hash of a stage's configuration and the keys of its inputs."""
    payload = json.dumps(
        {"stage": stage, "spec": spec, "inputs": list(inputs), "format": _FORMAT_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _write_manifest(folder: Path) -> None:
    entries = {str(p.relative_to(folder)): _checksum(p) for p in _files(folder)}
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
        if _checksum(folder / name) != digest:
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

    def fetch(self, stage: str, key: str, build: Callable[[Path], None], collective: bool = False) -> Path:
        """The folder holding the stage output for this key, built by `build(folder)` if absent;
        with `collective`, every process calls `build` and only rank 0 may write."""
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
        self.used[stage] = {"key": key, "hit": hit}
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
