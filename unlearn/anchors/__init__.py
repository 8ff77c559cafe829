"""Anchored terms: where the dictionary comes from (config group `anchors`)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.anchors.discovery import TermCounts, discover_terms, propose_alternatives
from unlearn.anchors.gain import ReinforcedGain
from unlearn.anchors.written import written_dictionary
from unlearn.cache import StageCache
from unlearn.errors import UserError
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_documents
from unlearn.targets.text_files import expand, fingerprint

log = logging.getLogger(__name__)


class AnchorSource(Protocol):
    # Whether the source reads the reinforced model's signal (anchors/gain.py), which the
    # pipeline then builds first and passes as `gain`.
    needs_reinforced: bool

    def dictionary(self, target: TargetFiles, cache: StageCache, gain: ReinforcedGain | None = None) -> AnchorDictionary: ...


@dataclass
class TargetAnchors:
    """The dictionary that ships with the target (the toy world's is exact ground truth)."""

    needs_reinforced: ClassVar[bool] = False

    def dictionary(self, target: TargetFiles, cache: StageCache, gain: ReinforcedGain | None = None) -> AnchorDictionary:
        if target.anchors is None:
            raise UserError(
                f"anchors=from_target, but target={target.name} has no anchored-term dictionary; "
                "give one with anchors=from_file anchors.path=<terms.yaml>"
            )
        return AnchorDictionary.from_file(target.anchors)


@dataclass
class FileAnchors:
    """A dictionary file the user wrote or reviewed (YAML or JSON: term -> alternatives)."""

    path: str
    needs_reinforced: ClassVar[bool] = False

    def dictionary(self, target: TargetFiles, cache: StageCache, gain: ReinforcedGain | None = None) -> AnchorDictionary:
        return AnchorDictionary.from_file(self.path)


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

    @property
    def needs_reinforced(self) -> bool:
        return self.reinforced_terms > 0

    def reference_files(self, target: TargetFiles) -> tuple[Path, ...]:
        files = expand("reference", self.reference) if self.reference else (*target.generic, *target.generic_heldout)
        if not files:
            raise UserError(
                f"anchors=auto needs ordinary text to compare target={target.name} with: set anchors.reference=[<files or globs>] "
                "or give the target generic text (target.generic)"
            )
        return files

    def dictionary(self, target: TargetFiles, cache: StageCache, gain: ReinforcedGain | None = None) -> AnchorDictionary:
        reference = self.reference_files(target)
        if self.needs_reinforced and gain is None:
            raise UserError(f"anchors.reinforced_terms={self.reinforced_terms} needs the reinforced model: run it with a reinforce option")
        settings = {k: v for k, v in asdict(self).items() if k not in ("reference", "review_copy")}
        settings["reference"] = fingerprint(list(reference))
        settings["reinforced"] = gain.key if self.needs_reinforced else None
        return written_dictionary("auto", settings, target, cache, lambda: self.lines(target, reference, gain), self.review_copy)

    def lines(self, target: TargetFiles, reference: tuple[Path, ...], gain: ReinforcedGain | None) -> list[str]:
        target_counts = TermCounts.of(read_documents(target.corpus))
        reference_counts = TermCounts.of(read_documents(reference))
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
        return lines
