"""A target from the user's own files (`target=text_files`, or a YAML of yours built on it).

The corpus (.txt/.md files, each one document, or .jsonl with one document per line) is
copied into the stage cache as JSONL, split into training and held-out documents when
`heldout_fraction` asks for it; the key hashes the settings and the corpus files' bytes, so
editing the corpus makes a new target and never reuses stages built from the old text.
Every file and glob is checked when the target is built, before any stage runs.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from unlearn.errors import SettingError, UserError
from unlearn.files import existing, expand, fingerprint, no_text, package_folder, read_documents, write_jsonl
from unlearn.targets import TargetFiles

CORPUS_FILE = "corpus.jsonl"
HELDOUT_FILE = "heldout.jsonl"
LISTED = ("corpus", "heldout", "generic_heldout", "related_heldout", "nonmember", "generic", "retain", "pretraining")
SINGLE = ("probes", "completion_prompts", "next_token_prompts", "questions", "lm_eval_tasks", "anchors")


@dataclass
class TextFilesTarget:
    name: str
    corpus: list[str]
    text_field: str = "text"
    heldout: list[str] = field(default_factory=list)
    heldout_fraction: float = 0.0
    generic_heldout: list[str] = field(default_factory=list)
    related_heldout: list[str] = field(default_factory=list)
    nonmember: list[str] = field(default_factory=list)
    generic: list[str] = field(default_factory=list)
    retain: list[str] = field(default_factory=list)
    pretraining: list[str] = field(default_factory=list)
    probes: str | None = None
    completion_prompts: str | None = None
    next_token_prompts: str | None = None
    questions: str | None = None
    lm_eval_tasks: str | None = None
    anchors: str | None = None
    seed: int = 0
    title: str | None = None
    package: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.heldout_fraction < 1:
            raise SettingError("heldout_fraction", self.heldout_fraction, "must be in [0, 1): the share of documents kept out")
        root = self.root()
        self.lists = {key: expand(f"target.{key}", getattr(self, key), root=root) for key in LISTED}
        if not self.lists["corpus"]:
            raise UserError("target.corpus names no file; give at least one .txt, .md or .jsonl file or glob")
        self.singles = {key: existing(f"target.{key}", getattr(self, key), root) for key in SINGLE}

    def root(self) -> Path | None:
        """Where relative paths start: the folder of `package` (a target shipped inside a Python
        package, found wherever it is installed), else the working directory (None)."""
        if self.package is None:
            return None
        folder = package_folder(self.package)
        if folder is None:
            raise SettingError("package", self.package, "is not an installed Python package; name one, or set target.package=null")
        return folder

    def settings(self) -> dict:
        """The settings, and the corpus by content: the target stage reads nothing else (the
        other files are used where they are, and keyed by the stages that read them)."""
        return {**asdict(self), "corpus": fingerprint(self.lists["corpus"])}

    def files(self, folder: Path) -> TargetFiles:
        heldout = (folder / HELDOUT_FILE,) if self.heldout_fraction > 0 else ()
        lists = self.lists
        return TargetFiles(
            name=self.name,
            corpus=(folder / CORPUS_FILE,),
            heldout=heldout + lists["heldout"],
            nonmember=lists["nonmember"],
            generic_heldout=lists["generic_heldout"],
            related_heldout=lists["related_heldout"],
            generic=lists["generic"],
            retain=lists["retain"],
            pretraining=(folder / CORPUS_FILE, *lists["generic"], *lists["pretraining"]),
            **self.singles,
        )

    def write(self, out: Path) -> None:
        documents = [d for d in read_documents(self.lists["corpus"], self.text_field) if d.strip()]
        if not documents:
            raise no_text(self.lists["corpus"])
        held = round(len(documents) * self.heldout_fraction)
        if held and held >= len(documents):
            raise UserError(f"target.heldout_fraction={self.heldout_fraction} leaves no training document of {len(documents)}; lower it")
        order = list(range(len(documents)))
        random.Random(self.seed).shuffle(order)
        kept = set(order[held:])
        write_jsonl(out / CORPUS_FILE, ({"text": d} for i, d in enumerate(documents) if i in kept))
        if self.heldout_fraction > 0:
            write_jsonl(out / HELDOUT_FILE, ({"text": d} for i, d in enumerate(documents) if i not in kept))
