"""Reading the file formats a target is made of (the same for generated and hand-written targets)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from unlearn.errors import UserError


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: not valid JSON ({err.msg}); each line must be one JSON object") from err
    return rows


def read_records(path: Path, fields: tuple[str, ...], hint: str) -> list[dict]:
    """JSONL rows that each hold `fields`; a row without them stops the run naming file, line and fields."""
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        missing = [field for field in fields if field not in row]
        if missing:
            raise UserError(f"{path}:{number}: lacks {', '.join(missing)}; {hint}")
    return rows


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with Path(path).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_documents(paths: Iterable[Path], text_field: str = "text") -> list[str]:
    """Documents from .jsonl (one object per line with a text field) or plain .txt/.md files."""
    documents = []
    for path in paths:
        path = Path(path)
        if path.suffix == ".jsonl":
            for number, row in enumerate(read_jsonl(path), start=1):
                if text_field not in row:
                    raise UserError(f"{path}:{number}: no '{text_field}' field; set the target's text_field to the field holding the text")
                documents.append(row[text_field])
        else:
            documents.append(path.read_text(encoding="utf-8"))
    return documents


@dataclass(frozen=True)
class Probe:
    """A cloze prompt with its known answer; `split` is forget or retain, `kind` recall or paraphrase."""

    prompt: str
    answer: str
    kind: str
    split: str


def read_probes(path: Path) -> list[Probe]:
    fields = ("prompt", "answer", "kind", "split")
    return [Probe(*(row[f] for f in fields)) for row in read_records(path, fields, "each probe needs prompt, answer, kind and split")]
