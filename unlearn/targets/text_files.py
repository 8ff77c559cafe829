"""A target from the user's own files (`target=text_files`, or a YAML of yours built on it).

The corpus (.txt/.md files, each one document, or .jsonl with one document per line) is
copied into the stage cache as JSONL, split into training and held-out documents when
`heldout_fraction` asks for it; the key hashes the settings and every file's bytes, so
editing a file makes a new target and never reuses stages built from the old text.
"""

from __future__ import annotations

import glob
import hashlib
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unlearn.cache import StageCache, cache_key
from unlearn.errors import UserError
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_documents, write_jsonl

TEXT_SUFFIXES = (".txt", ".md", ".jsonl")
CORPUS_FILE = "corpus.jsonl"
HELDOUT_FILE = "heldout.jsonl"


def expand(key: str, patterns: list[str], suffixes: tuple[str, ...] = TEXT_SUFFIXES) -> tuple[Path, ...]:
    """Files named by `patterns` (paths or globs, relative to the working directory), in a stable order."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))
        if not matches:
            raise UserError(
                f"target.{key}: {pattern!r} matches no file (looked from {Path.cwd()}); "
                "give paths or globs relative to where you run, or absolute ones"
            )
        for match in map(Path, matches):
            if match.is_dir():
                continue
            if match.suffix not in suffixes:
                raise UserError(f"target.{key}: {match} is not one of {', '.join(suffixes)}; convert it or leave it out")
            files.append(match)
    return tuple(dict.fromkeys(files))


def existing(key: str, path: str | None) -> Path | None:
    if path is None:
        return None
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise UserError(f"target.{key}={path} does not exist (looked from {Path.cwd()}); fix the path or set target.{key}=null")
    return resolved


def fingerprint(paths: list[Path]) -> dict[str, str]:
    """Each file's (or each file under a folder's) content hash, by path."""
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()))]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@dataclass
class TextFilesTarget:
    name: str
    corpus: list[str]
    text_field: str = "text"
    heldout: list[str] = field(default_factory=list)
    heldout_fraction: float = 0.0
    generic_heldout: list[str] = field(default_factory=list)
    nonmember: list[str] = field(default_factory=list)
    generic: list[str] = field(default_factory=list)
    pretraining: list[str] = field(default_factory=list)
    probes: str | None = None
    completion_prompts: str | None = None
    next_token_prompts: str | None = None
    questions: str | None = None
    lm_eval_tasks: str | None = None
    anchors: str | None = None
    seed: int = 0
    title: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.heldout_fraction < 1:
            raise UserError(f"target.heldout_fraction={self.heldout_fraction} must be in [0, 1): the share of documents kept out")

    def files(self, cache: StageCache) -> TargetFiles:
        listed = ("corpus", "heldout", "generic_heldout", "nonmember", "generic", "pretraining")
        lists = {key: expand(key, getattr(self, key)) for key in listed}
        if not lists["corpus"]:
            raise UserError("target.corpus names no file; give at least one .txt, .md or .jsonl file or glob")
        singles = {
            key: existing(key, getattr(self, key))
            for key in ("probes", "completion_prompts", "next_token_prompts", "questions", "lm_eval_tasks", "anchors")
        }
        content = fingerprint([p for paths in lists.values() for p in paths] + [p for p in singles.values() if p])
        key = cache_key("target", {"settings": asdict(self), "content": content})
        folder = cache.fetch("target", key, lambda out: self.write(lists["corpus"], out))
        heldout = (folder / HELDOUT_FILE,) if self.heldout_fraction > 0 else ()
        return TargetFiles(
            name=self.name,
            key=key,
            corpus=(folder / CORPUS_FILE,),
            heldout=heldout + lists["heldout"],
            nonmember=lists["nonmember"],
            generic_heldout=lists["generic_heldout"],
            generic=lists["generic"],
            pretraining=(folder / CORPUS_FILE, *lists["generic"], *lists["pretraining"]),
            **singles,
        )

    def write(self, corpus: tuple[Path, ...], out: Path) -> None:
        documents = [d for d in read_documents(corpus, self.text_field) if d.strip()]
        held = round(len(documents) * self.heldout_fraction)
        if held and held >= len(documents):
            raise UserError(f"target.heldout_fraction={self.heldout_fraction} leaves no training document of {len(documents)}")
        order = list(range(len(documents)))
        random.Random(self.seed).shuffle(order)
        kept = set(order[held:])
        write_jsonl(out / CORPUS_FILE, ({"text": d} for i, d in enumerate(documents) if i in kept))
        if self.heldout_fraction > 0:
            write_jsonl(out / HELDOUT_FILE, ({"text": d} for i, d in enumerate(documents) if i not in kept))
