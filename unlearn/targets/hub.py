"""Targets from Hugging Face datasets (the field's unlearning benchmarks: MUSE, TOFU, RWKU),
mapped by configuration onto the same files every target has.

Each role (corpus, heldout, nonmember, generic, generic_heldout, and questions per split)
names a dataset source: `path` (hub id, or a builder such as `json` with `data_files`),
`name` (the dataset's config), `split`, optionally `where` (field: value pairs a row must
match, e.g. RWKU's one person among 200), and templates over the row's fields: `text` for
documents, `question` and `answer` for questions. The rows are rendered into the stage
cache once; the datasets themselves are downloaded by `datasets` on the user's machine
into its own cache, and never shipped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unlearn.errors import UserError
from unlearn.files import write_jsonl
from unlearn.targets import TargetFiles

DOCUMENT_ROLES = ("corpus", "heldout", "nonmember", "generic", "generic_heldout")


def load_rows(role: str, source: dict[str, Any]) -> list[dict]:
    """The rows of one dataset source, or a UserError naming the target key and what to do."""
    import datasets

    try:
        rows = datasets.load_dataset(
            source["path"],
            name=source.get("name"),
            split=source["split"],
            data_files=source.get("data_files"),
            revision=source.get("revision"),
        )
    except KeyError as err:
        raise UserError(f"target.{role} needs {err} (path and split at least): a dataset source is path, name, split, templates") from None
    except (OSError, ValueError, ConnectionError) as err:  # missing, gated, unreachable or misnamed: all mean the same here
        raise UserError(
            f"target.{role}: could not load {source['path']} (name={source.get('name')}, split={source['split']}): "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}; check the name and split, "
            "log in with `hf auth login` for gated data, and leave HF_DATASETS_OFFLINE unset to download"
        ) from None
    where = source.get("where") or {}
    kept = [row for row in rows if all(row.get(field) == value for field, value in where.items())]
    if where and not kept:
        raise UserError(f"target.{role}.where={where} matches none of the {len(rows)} rows of {source['path']}; check the value's spelling")
    return kept


def render(role: str, template_key: str, source: dict[str, Any], row: dict) -> str:
    try:
        return source[template_key].format(**row)
    except KeyError as err:
        raise UserError(
            f"target.{role}.{template_key}={source.get(template_key)!r} uses {err}, which rows of {source['path']} "
            f"(split {source['split']}) lack; their fields are {sorted(row)}"
        ) from None


@dataclass
class DatasetTarget:
    name: str
    corpus: dict[str, Any]
    heldout: dict[str, Any] | None = None
    nonmember: dict[str, Any] | None = None
    generic: dict[str, Any] | None = None
    generic_heldout: dict[str, Any] | None = None
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)  # forget / retain -> source
    sets: dict[str, str] = field(default_factory=dict)  # named choices the sources interpolate (TOFU's forget05 ...)
    anchors: str | None = None
    title: str | None = None

    def settings(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("title", "sets")}

    def files(self, folder: Path) -> TargetFiles:
        roles = {role: (folder / f"{role}.jsonl",) for role in DOCUMENT_ROLES if getattr(self, role)}
        return TargetFiles(
            name=self.name,
            corpus=roles["corpus"],
            heldout=roles.get("heldout", ()),
            nonmember=roles.get("nonmember", ()),
            generic=roles.get("generic", ()),
            generic_heldout=roles.get("generic_heldout", ()),
            questions=folder / "questions.jsonl" if self.questions else None,
            anchors=Path(self.anchors) if self.anchors else None,
        )

    def write(self, out: Path) -> None:
        for role in DOCUMENT_ROLES:
            source = getattr(self, role)
            if source:
                rows = load_rows(role, source)
                write_jsonl(out / f"{role}.jsonl", ({"text": render(role, "text", source, row)} for row in rows))
        questions = []
        for split, source in self.questions.items():
            role = f"questions.{split}"
            for row in load_rows(role, source):
                question, answer = render(role, "question", source, row), render(role, "answer", source, row)
                questions.append({"question": question, "answer": answer, "split": split})
        if self.questions:
            write_jsonl(out / "questions.jsonl", questions)
