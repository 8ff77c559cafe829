"""Reading and naming the files a run is made of: documents, JSONL records, globs, content hashes.

Every reader turns what a user can get wrong (a missing, unreadable, binary or malformed
file) into a UserError naming the file, so that the check that runs before any stage
(unlearn/components.py) and the stage that reads the file later report it the same way.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from unlearn.errors import UserError

TEXT_SUFFIXES = (".txt", ".md", ".jsonl")


def read_text(path: Path, key: str) -> str:
    """A UTF-8 text file; `key` is the configuration key that named it, for the error."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{key}: {path} is not UTF-8 text (byte {err.start} cannot be decoded); give a text file") from None
    except IsADirectoryError:
        raise UserError(f"{key}: {path} is a folder, not a file; name the file, or a glob such as {path}/*.txt") from None
    except OSError as err:
        raise UserError(f"{key}: {path} cannot be read ({err.strerror}); fix the path or its permissions") from None


def read_jsonl(path: Path, key: str = "file") -> list[dict]:
    rows = []
    for number, line in enumerate(read_text(path, key).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{number}: not valid JSON ({err.msg}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{number}: a {type(row).__name__}, not a JSON object; each line must be one JSON object")
        rows.append(row)
    return rows


def read_records(path: Path, fields: tuple[str, ...], hint: str, key: str = "file") -> list[dict]:
    """JSONL rows that each hold `fields`; a row without them stops the run naming file, line and fields."""
    rows = read_jsonl(path, key)
    for number, row in enumerate(rows, start=1):
        missing = [field for field in fields if field not in row]
        if missing:
            raise UserError(f"{path}:{number}: lacks {', '.join(missing)}; {hint}")
    if not rows:
        raise UserError(f"{key}: {path} holds no record; {hint}")
    return rows


def no_text(paths: Iterable[Path]) -> UserError:
    """The error for a corpus whose documents are all empty or whitespace."""
    named = ", ".join(map(str, paths))
    return UserError(f"target.corpus: {named} hold no text (empty or whitespace only); give the text to forget")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_documents(paths: Iterable[Path], text_field: str = "text", key: str = "target.corpus") -> list[str]:
    """Documents from .jsonl (one object per line with a text field) or plain .txt/.md files."""
    documents = []
    for path in map(Path, paths):
        if path.suffix == ".jsonl":
            for number, row in enumerate(read_jsonl(path, key), start=1):
                if not isinstance(row.get(text_field), str):
                    raise UserError(f"{path}:{number}: no '{text_field}' text field; set the target's text_field to the text's field")
                documents.append(row[text_field])
        else:
            documents.append(read_text(path, key))
    return documents


def expand(key: str, patterns: Sequence[str], suffixes: tuple[str, ...] = TEXT_SUFFIXES, root: Path | None = None) -> tuple[Path, ...]:
    """Files named by `patterns` (paths or globs, relative to `root`, by default the working directory), in a stable order."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(rooted(pattern, root)), recursive=True))
        if not matches:
            raise UserError(
                f"{key}: {pattern!r} matches no file (looked from {root or Path.cwd()}); give paths or globs relative to where you run, "
                "or absolute ones"
            )
        for match in map(Path, matches):
            if match.is_dir():
                continue
            if match.suffix not in suffixes:
                raise UserError(f"{key}: {match} is not one of {', '.join(suffixes)}; convert it or leave it out")
            files.append(match)
    return tuple(dict.fromkeys(files))


def existing(key: str, path: str | None, root: Path | None = None) -> Path | None:
    if path is None:
        return None
    resolved = rooted(path, root)
    if not resolved.exists():
        raise UserError(f"{key}={path} does not exist (looked from {root or Path.cwd()}); fix the path or set {key}=null")
    return resolved


def rooted(path: str, root: Path | None) -> Path:
    """`path` with `~` expanded, relative to `root` when it is relative and a root is given."""
    expanded = Path(path).expanduser()
    return root / expanded if root is not None else expanded


def package_folder(package: str) -> Path | None:
    """An installed package's folder, found without importing it (its imports may need what is not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def sha256(path: Path) -> str:
    """A file's content hash, read in chunks (model weights do not fit in memory twice)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(paths: Iterable[Path], memo: Path | None = None) -> list[str]:
    """The content hash of each file, in order (a folder: each file under it, by relative name).

    Where a file lives does not enter it, so that the same text or model folder gives the
    same key wherever it is. With `memo` (a folder), a file's hash is remembered by its path,
    size and modification time, so that a 13 GB model folder is hashed once, not every run."""
    hashes = []
    for path in map(Path, paths):
        files = [(path, "")] if path.is_file() else [(f, str(f.relative_to(path))) for f in sorted(path.rglob("*")) if f.is_file()]
        for file, name in files:
            hashes.append(f"{name}:{_remembered(file, memo)}" if name else _remembered(file, memo))
    return hashes


def _remembered(file: Path, memo: Path | None) -> str:
    if memo is None:
        return sha256(file)
    stat = file.stat()
    entry = memo / hashlib.sha256(f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    if entry.is_file():
        return entry.read_text()
    digest = sha256(file)
    memo.mkdir(parents=True, exist_ok=True)
    pending = entry.with_suffix(f".{os.getpid()}")
    pending.write_text(digest)
    os.replace(pending, entry)
    return digest
