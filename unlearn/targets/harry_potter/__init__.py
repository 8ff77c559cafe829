"""The paper's target: the Harry Potter books, which this project does not ship (the user
gives a copy, or a hub dataset such as MUSE-Books' forget split), with this project's
anchored-term dictionary and evaluation prompts (in English, and in Spanish for leakage
across languages)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unlearn.errors import SettingError, UserError
from unlearn.targets import TargetFiles
from unlearn.targets.hub import DatasetTarget
from unlearn.targets.text_files import TextFilesTarget

SHIPPED = Path(__file__).resolve().parent
LANGUAGES = ("en", "es")


@dataclass
class HarryPotterTarget:
    name: str
    title: str
    corpus: list[str] = field(default_factory=list)
    dataset: dict[str, Any] | None = None
    text_field: str = "text"
    heldout_fraction: float = 0.0
    seed: int = 0
    prompt_language: str = "en"

    def __post_init__(self) -> None:
        if self.prompt_language not in LANGUAGES:
            raise SettingError("prompt_language", self.prompt_language, f"has no prompt set; choose one of {list(LANGUAGES)}")
        if self.corpus and self.dataset:
            raise UserError("target=harry_potter takes the books from target.corpus or target.dataset, not both; set the other to null")
        if not self.corpus and not self.dataset:
            raise UserError(
                "target=harry_potter needs the books, which this project does not ship: give your copy with "
                "target.corpus=[<.txt/.md/.jsonl files or globs>], or a hub dataset with "
                "target.dataset='{path: muse-bench/MUSE-Books, name: raw, split: forget, text: \"{text}\"}'"
            )

        self.books = (
            TextFilesTarget(self.name, self.corpus, self.text_field, heldout_fraction=self.heldout_fraction, seed=self.seed)
            if self.corpus
            else DatasetTarget(self.name, corpus=self.dataset)
        )

    def settings(self) -> dict:
        return self.books.settings()

    def write(self, folder: Path) -> None:
        self.books.write(folder)

    def files(self, folder: Path) -> TargetFiles:
        suffix = "" if self.prompt_language == "en" else f"_{self.prompt_language}"
        return replace(
            self.books.files(folder),
            anchors=SHIPPED / "anchors.yaml",
            completion_prompts=SHIPPED / f"completion_prompts{suffix}.jsonl",
            next_token_prompts=SHIPPED / "next_token_prompts.jsonl",
        )
