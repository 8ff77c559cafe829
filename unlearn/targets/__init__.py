"""Targets: the body of text to forget, with the probes and prompt files that measure it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from unlearn.cache import StageCache


@dataclass(frozen=True)
class TargetFiles:
    """Where a target's files are; every field but `name`, `key` and `corpus` may be absent.

    `key` identifies the content, so that stages built from it are cached by it.

    `nonmember` is text like the target's that no model was trained on (membership
    inference); `questions` holds question/answer pairs; `lm_eval_tasks` is a folder of
    lm-eval task YAMLs whose relative data paths resolve against the folder.

    `generic` is ordinary text in the target's style, the reference against which
    `anchors=auto` finds what is idiosyncratic to the target.

    `pretraining` is for synthetic targets only: the text a toy baseline learns first
    (target, retain and generic worlds), so that there is something to unlearn.
    """

    name: str
    key: str
    corpus: tuple[Path, ...]
    heldout: tuple[Path, ...] = ()
    nonmember: tuple[Path, ...] = ()
    generic_heldout: tuple[Path, ...] = ()
    generic: tuple[Path, ...] = ()
    pretraining: tuple[Path, ...] = ()
    probes: Path | None = None
    completion_prompts: Path | None = None
    next_token_prompts: Path | None = None
    questions: Path | None = None
    lm_eval_tasks: Path | None = None
    anchors: Path | None = None


class Target(Protocol):
    name: str

    def files(self, cache: StageCache) -> TargetFiles:
        """Locate (or generate into the cache) the target's files."""
        ...
