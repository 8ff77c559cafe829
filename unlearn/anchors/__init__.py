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
from unlearn.anchors.discovery import Discovered, TermCounts, case_variants, discover_terms, names_in, propose_alternatives
from unlearn.anchors.model_reference import (
    ModelReading,
    alternatives_of,
    candidate_terms,
    out_of_context_logprob,
    rarity_of,
    rate_terms,
)
from unlearn.errors import SettingError, UserError
from unlearn.files import expand, fingerprint, read_documents, read_text
from unlearn.targets import TargetFiles

log = logging.getLogger(__name__)


class AnchorSource(Protocol):
    review_copy: str | None

    @property
    def gain_terms(self) -> int:
        """How many terms the reinforced model's gain (anchors/gain.py) may add; 0: none."""
        ...

    @property
    def reads_reinforced(self) -> bool:
        """Whether the source may read the reinforced model's gain if the run can build one."""
        ...

    def reads_baseline(self, target: TargetFiles) -> bool:
        """Whether the baseline stands in for reference text (model_reference.py): then the
        stage lends it, and the reinforced model's gain when the run builds one."""
        ...


class ReadsNoModel:
    """For sources whose dictionary is written from text alone."""

    gain_terms: ClassVar[int] = 0
    reads_reinforced: ClassVar[bool] = False

    def reads_baseline(self, target: TargetFiles) -> bool:
        return False

    def check(self, target: TargetFiles) -> None: ...

    def settings(self, target: TargetFiles) -> dict: ...

    def write(self, target: TargetFiles, reading: ModelReading | None) -> str:
        """The dictionary file's text (YAML: term -> alternatives)."""
        ...


@dataclass
class TargetAnchors(ReadsNoModel):
    """The dictionary that ships with the target (the toy world's is exact ground truth)."""

    review_copy: ClassVar[None] = None

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

    def write(self, target: TargetFiles, reading: ModelReading | None) -> str:
        return read_text(self.path(target), "target.anchors")


@dataclass
class FileAnchors(ReadsNoModel):
    """A dictionary file the user wrote or reviewed (YAML or JSON: term -> alternatives)."""

    path: str
    review_copy: ClassVar[None] = None

    def __post_init__(self) -> None:
        if not Path(self.path).expanduser().is_file():
            raise SettingError("path", self.path, f"is not a file (looked from {Path.cwd()}); point it at a YAML or JSON dictionary")
        load_dictionary(Path(self.path).expanduser())

    def check(self, target: TargetFiles) -> None:
        """Checked when built: the file is the user's, not the target's."""

    def settings(self, target: TargetFiles) -> dict:
        return {"source": "file", "content": fingerprint([Path(self.path).expanduser()])}

    def write(self, target: TargetFiles, reading: ModelReading | None) -> str:
        return read_text(Path(self.path).expanduser(), "anchors.path")


@dataclass
class AutoAnchors:
    """Anchored terms and alternatives discovered from the target, written as a dictionary
    file to review and edit: against ordinary reference text (unlearn/anchors/discovery.py),
    or, with none and `baseline_reference`, against what the pretrained baseline expects
    (unlearn/anchors/model_reference.py)."""

    min_z: float
    min_rate_ratio: float
    min_contexts: int
    prior: float
    alternatives: int
    reference: list[str] = field(default_factory=list)
    review_copy: str | None = None
    reinforced_terms: int = 0
    baseline_reference: bool = True
    min_rarity: float = 12.0
    min_gain: float = 1.0
    min_count: int = 3
    occurrences: int = 8
    batch_size: int = 16
    case_variants: bool = True
    names: bool = True
    min_mid_sentence: float = 0.5

    def __post_init__(self) -> None:
        if self.reinforced_terms < 0:
            raise SettingError("reinforced_terms", self.reinforced_terms, "must be >= 0 (0: no terms added from the reinforced model)")
        for name in ("alternatives", "min_count", "occurrences", "batch_size"):
            if getattr(self, name) < 1:
                raise SettingError(name, getattr(self, name), "must be at least 1")
        if not 0 < self.min_mid_sentence <= 1:
            raise SettingError("min_mid_sentence", self.min_mid_sentence, "must be in (0, 1] (a share of a name's occurrences)")
        if self.reference:
            expand("anchors.reference", self.reference)

    @property
    def gain_terms(self) -> int:
        return self.reinforced_terms

    @property
    def reads_reinforced(self) -> bool:
        """Against the baseline (no `reference` given), the gain sharpens what rarity finds."""
        return self.reinforced_terms > 0 or (self.baseline_reference and not self.reference)

    def reference_files(self, target: TargetFiles) -> tuple[Path, ...]:
        return expand("anchors.reference", self.reference) if self.reference else target.generic

    def reads_baseline(self, target: TargetFiles) -> bool:
        return not self.reference_files(target)

    def check(self, target: TargetFiles) -> None:
        if not self.reference_files(target) and not self.baseline_reference:
            raise UserError(
                f"anchors=auto needs ordinary text to compare target={target.name} with: set anchors.reference=[<files or globs>], "
                "give the target generic text (target.generic), or set anchors.baseline_reference=true to read a pretrained baseline"
            )

    def settings(self, target: TargetFiles) -> dict:
        settings = {k: v for k, v in asdict(self).items() if k not in ("reference", "review_copy")}
        return {"source": "auto", **settings, "reference": fingerprint(self.reference_files(target))}

    def write(self, target: TargetFiles, reading: ModelReading | None) -> str:
        documents = read_documents(target.corpus)
        counts = TermCounts.of(documents)
        reference = self.reference_files(target)
        if reference:
            found, alternatives = self._against_text(counts, reference, reading)
            against, measures = f"{len(reference)} reference file(s)", "z-score, count in target / in reference, contexts"
        else:
            found, alternatives = self._against_baseline(counts, documents, reading)
            against, measures = "the baseline", "rarity (log target rate / baseline probability), reinforced gain, count, contexts"
        if not alternatives:
            raise UserError(
                f"anchors=auto found no anchored term with alternatives in target={target.name}; lower "
                + ("anchors.min_z or anchors.min_rate_ratio, or give a reference closer in style (anchors.reference)"
                   if reference else "anchors.min_rarity or anchors.min_gain")
            )  # fmt: skip
        lines = [
            f"# Anchored terms of target {target.name}, discovered by anchors=auto against {against}.",
            "# Review and edit (remove what is not idiosyncratic, fix alternatives), then run with",
            f"# anchors=from_file anchors.path=<this file>. Each comment: {measures}.",
        ]
        for d in found:
            if d.term in alternatives:
                lines.append(f"{json.dumps(d.term)}: {json.dumps(alternatives[d.term])}  # {_measures(d, bool(reference))}")
        variants = case_variants(alternatives, counts) if self.case_variants else {}
        for variant, (term, casing, spelt) in variants.items():
            lines.append(f"{json.dumps(variant)}: {json.dumps(spelt)}  # {term} in {casing}, as the target also spells it")
        skipped = [d.term for d in found if d.term not in alternatives]
        if skipped:
            lines.append(f"# Found but without alternatives (left out): {', '.join(skipped)}")
        log.info("anchors=auto: %d terms, %d with alternatives, %d more spellings of them", len(found), len(alternatives), len(variants))
        return "\n".join(lines) + "\n"

    def _against_text(self, counts: TermCounts, reference: tuple[Path, ...], reading: ModelReading | None):
        reference_counts = TermCounts.of(read_documents(reference, key="anchors.reference"))
        gain = reading.gain.of_terms if reading is not None and reading.gain is not None else None
        found = discover_terms(
            counts, reference_counts, self.min_z, self.min_rate_ratio, self.min_contexts, self.prior, self.reinforced_terms, gain
        )
        return found, propose_alternatives([d.term for d in found], counts, reference_counts, self.alternatives)

    def _against_baseline(self, counts: TermCounts, documents: list[str], reading: ModelReading | None):
        if reading is None or reading.baseline is None:
            raise ValueError("anchors=auto against the baseline needs the baseline: the dictionary stage lends it when reads_baseline")
        model, tokenizer = reading.baseline, reading.tokenizer
        terms = candidate_terms(counts, self.min_count, self.min_contexts)
        rarity = rarity_of(counts, out_of_context_logprob(model, tokenizer, terms, self.batch_size))
        gain = reading.gain.of_terms if reading.gain is not None else None
        found = rate_terms(counts, rarity, gain, self.min_rarity, self.min_gain, self.min_contexts)
        if self.names:
            rated = {d.term for d in found}
            names = names_in(documents, counts, self.min_count, self.min_contexts, self.min_mid_sentence)
            found += [
                Discovered(t, rarity[t], counts.counts[t], 0, len(counts.contexts[t]), mid_sentence=share)
                for t, share in names.items()
                if t not in rated
            ]
        # Words the target itself over-uses (half the rarity of a term) are no generic alternative.
        peculiar = {t.lower() for t, r in rarity.items() if r >= self.min_rarity / 2}
        alternatives = alternatives_of(
            model, tokenizer, documents, [d.term for d in found], peculiar, self.alternatives, self.occurrences, self.batch_size
        )
        return found, alternatives


def _measures(d, against_text: bool) -> str:
    if against_text:
        return f"z={d.z:.1f}, {d.target_count}/{d.reference_count}, {d.contexts} contexts" + (
            f", added by the reinforced model's gain {d.gain:.3f}" if d.gain is not None else ""
        )
    gain = f"gain {d.gain:.2f}, " if d.gain is not None else ""
    name = f"a name by its capitals ({d.mid_sentence:.0%} mid-sentence), " if d.mid_sentence is not None else ""
    return f"{name}rarity {d.z:.1f}, {gain}{d.target_count} times, {d.contexts} contexts"
