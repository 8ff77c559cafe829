"""Anchored terms: where the dictionary comes from (config group `anchors`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.errors import UserError
from unlearn.targets import TargetFiles


class AnchorSource(Protocol):
    def dictionary(self, target: TargetFiles) -> AnchorDictionary: ...


@dataclass
class TargetAnchors:
    """The dictionary that ships with the target (the toy world's is exact ground truth)."""

    def dictionary(self, target: TargetFiles) -> AnchorDictionary:
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

    def dictionary(self, target: TargetFiles) -> AnchorDictionary:
        return AnchorDictionary.from_file(self.path)
