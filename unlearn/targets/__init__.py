"""Targets: the body of text to forget, with the probes and prompt files that measure it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from unlearn.cache import StageCache, cache_key, content_key


@dataclass(frozen=True)
class TargetFiles:
    """Where a target's files are; every field but `name` and `corpus` may be absent.

    `nonmember` is text like the target's that no model was trained on (membership
    inference); `questions` holds question/answer pairs; `lm_eval_tasks` is a folder of
    lm-eval task YAMLs whose relative data paths resolve against the folder.

    `related_heldout` is text near the target but not of it (other works of the same author):
    its perplexity shows what unlearning costs a related domain (Lynch et al. measure it so).

    `generic` is ordinary text in the target's style, the reference against which
    `anchors=auto` finds what is idiosyncratic to the target.

    `retain` is text to keep that methods training on retain data read (gradient difference):
    never an evaluation set.

    `pretraining` is for synthetic targets only: the text a toy baseline learns first
    (target, retain and generic worlds), so that there is something to unlearn.
    """

    name: str
    corpus: tuple[Path, ...]
    heldout: tuple[Path, ...] = ()
    nonmember: tuple[Path, ...] = ()
    generic_heldout: tuple[Path, ...] = ()
    related_heldout: tuple[Path, ...] = ()
    generic: tuple[Path, ...] = ()
    retain: tuple[Path, ...] = ()
    pretraining: tuple[Path, ...] = ()
    probes: Path | None = None
    completion_prompts: Path | None = None
    next_token_prompts: Path | None = None
    questions: Path | None = None
    lm_eval_tasks: Path | None = None
    anchors: Path | None = None


class Target(Protocol):
    """A target's files are written once into a folder of the stage cache (generated, copied
    from the user's files, or rendered from a dataset) by the target stage, keyed by `settings`."""

    name: str

    def settings(self) -> dict:
        """What `write` reads: settings, and the user's files by content."""
        ...

    def write(self, folder: Path) -> None: ...

    def files(self, folder: Path) -> TargetFiles:
        """Where each file is, given the folder `write` wrote."""
        ...


@dataclass(frozen=True)
class TargetArtifact:
    files: TargetFiles
    corpus_key: str  # the corpus by content: what every stage trained on the target reads
    key: str  # every file of the target (its settings, and the user's files by content): what evaluation reads


def prepare_target(target: Target, cache: StageCache) -> TargetArtifact:
    """The target's files, written into the cache once per settings."""
    key = cache_key("target", target.settings())
    files = target.files(cache.fetch("target", key, target.write))
    return TargetArtifact(files, content_key("corpus", files.corpus), key)
