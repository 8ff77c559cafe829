"""Anchored terms: where the dictionary comes from (config group `anchors`).

A source says what its dictionary depends on (`settings`, files by content) and writes the
dictionary's text; the dictionary stage (unlearn/stages.py) caches that text, copies it
where the user asked to review it, and reads it. `check` runs before any stage that
trains, so that a missing reference or a dictionary that does not parse costs seconds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from unlearn.anchors.dictionary import load_dictionary
from unlearn.anchors.discovery import TermCounts, discover_terms, propose_alternatives
from unlearn.anchors.gain import TermGain
from unlearn.errors import SettingError, UserError
from unlearn.files import expand, fingerprint, read_documents, read_text
from unlearn.targets import TargetFiles

log = logging.getLogger(__name__)


class AnchorSource(Protocol):
    review_copy: str | None

    @property
    def gain_terms(self) -> int:
        """How many terms the reinforced model's gain (anchors/gain.py) may add; 0: the source reads no model."""
        ...

    def check(self, target: TargetFiles) -> None: ...

    def settings(self, target: TargetFiles) -> dict: ...

    def write(self, target: TargetFiles, gain: TermGain | None) -> str:
        """The dictionary file's text (YAML: term -> alternatives)."""
        ...


@dataclass
class TargetAnchors:
    """The dictionary that ships with the target (the toy world's is exact ground truth)."""

    review_copy: ClassVar[None] = None
    gain_terms: ClassVar[int] = 0

    def path(self, target: TargetFiles) -> Path:
        if target.anchors is None:
            raise UserError(
                f"anchors=from_target, but target={target.name} has no anchored-term dictionary; "
                "give one with anchors=from_file anchors.path=<terms.yaml>"
            )
        return target.anchors

    def check(self, target: TargetFiles) -> None:
        load_dictionary(self.path(target))

    def settings(self, target: TargetFiles) -> dict:
        return {"source": "file", "content": fingerprint([self.path(target)])}

    def write(self, target: TargetFiles, gain: TermGain | None) -> str:
        return read_text(self.path(target), "target.anchors")


@dataclass
class FileAnchors:
    """A dictionary file the user wrote or reviewed (YAML or JSON: term -> alternatives)."""

    path: str
    review_copy: ClassVar[None] = None
    gain_terms: ClassVar[int] = 0

    def __post_init__(self) -> None:
        if not Path(self.path).expanduser().is_file():
            raise SettingError("path", self.path, f"is not a file (looked from {Path.cwd()}); point it at a YAML or JSON dictionary")
        load_dictionary(Path(self.path).expanduser())

    def check(self, target: TargetFiles) -> None:
        """Checked when built: the file is the user's, not the target's."""

    def settings(self, target: TargetFiles) -> dict:
        return {"source": "file", "content": fingerprint([Path(self.path).expanduser()])}

    def write(self, target: TargetFiles, gain: TermGain | None) -> str:
        return read_text(Path(self.path).expanduser(), "anchors.path")


@dataclass
class AutoAnchors:
    """Anchored terms and alternatives discovered from the target against ordinary reference
    text (unlearn/anchors/discovery.py), written as a dictionary file to review and edit."""

    min_z: float
    min_rate_ratio: float
    min_contexts: int
    prior: float
    alternatives: int
    reference: list[str] = field(default_factory=list)
    review_copy: str | None = None
    reinforced_terms: int = 0

    def __post_init__(self) -> None:
        if self.reinforced_terms < 0:
            raise SettingError("reinforced_terms", self.reinforced_terms, "must be >= 0 (0: no terms added from the reinforced model)")
        if self.alternatives < 1:
            raise SettingError("alternatives", self.alternatives, "must be at least 1 (alternatives proposed per term)")
        if self.reference:
            expand("anchors.reference", self.reference)

    @property
    def gain_terms(self) -> int:
        return self.reinforced_terms

    def reference_files(self, target: TargetFiles) -> tuple[Path, ...]:
        files = expand("anchors.reference", self.reference) if self.reference else (*target.generic, *target.generic_heldout)
        if not files:
            raise UserError(
                f"anchors=auto needs ordinary text to compare target={target.name} with: set anchors.reference=[<files or globs>] "
                "or give the target generic text (target.generic)"
            )
        return files

    def check(self, target: TargetFiles) -> None:
        self.reference_files(target)

    def settings(self, target: TargetFiles) -> dict:
        settings = {k: v for k, v in asdict(self).items() if k not in ("reference", "review_copy")}
        return {"source": "auto", **settings, "reference": fingerprint(self.reference_files(target))}

    def write(self, target: TargetFiles, gain: TermGain | None) -> str:
        reference = self.reference_files(target)
        target_counts = TermCounts.of(read_documents(target.corpus))
        reference_counts = TermCounts.of(read_documents(reference, key="anchors.reference"))
        found = discover_terms(
            target_counts, reference_counts, self.min_z, self.min_rate_ratio, self.min_contexts, self.prior,
            self.reinforced_terms, gain.of_terms if gain else None,
        )  # fmt: skip
        alternatives = propose_alternatives([d.term for d in found], target_counts, reference_counts, self.alternatives)
        if not alternatives:
            raise UserError(
                f"anchors=auto found no anchored term with alternatives in target={target.name}; "
                "lower anchors.min_z or anchors.min_rate_ratio, or give a reference closer in style (anchors.reference)"
            )
        lines = [
            f"# Anchored terms of target {target.name}, discovered by anchors=auto against {len(reference)} reference file(s).",
            "# Review and edit (remove what is not idiosyncratic, fix alternatives), then run with",
            "# anchors=from_file anchors.path=<this file>. Each comment: z-score, count in target / in reference, contexts.",
        ]
        for d in found:
            if d.term in alternatives:
                lines.append(
                    f"{json.dumps(d.term)}: {json.dumps(alternatives[d.term])}"
                    f"  # z={d.z:.1f}, {d.target_count}/{d.reference_count}, {d.contexts} contexts"
                    + (f", added by the reinforced model's gain {d.gain:.3f}" if d.gain is not None else "")
                )
        skipped = [d.term for d in found if d.term not in alternatives]
        if skipped:
            lines.append(f"# Found but without a reference term in the same contexts (left out): {', '.join(skipped)}")
        log.info("anchors=auto: %d terms, %d with alternatives", len(found), len(alternatives))
        return "\n".join(lines) + "\n"
