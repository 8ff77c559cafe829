"""Generic-label generators (config group `labels`): how the two views of each position combine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch

from unlearn.errors import UserError


class LabelGenerator(Protocol):
    translates: ClassVar[bool]
    needs_reinforced: ClassVar[bool]
    # Whether labels come through the candidate store (labels/candidates.py), which makes
    # a change of alpha cost no forward pass.
    uses_candidates: ClassVar[bool]
    batch_size: int

    def combine(self, base: torch.Tensor, reinforced: torch.Tensor | None) -> torch.Tensor:
        """Logits whose argmax is the generic label, from the baseline's logits (on the translated
        text when `translates`, else on the original) and the reinforced model's on the original."""
        ...


def whp_combination(base: torch.Tensor, reinforced: torch.Tensor, alpha: float) -> torch.Tensor:
    """v_base - alpha * ReLU(v_reinforced - v_base): push down what reinforcement pushed up."""
    return base - alpha * torch.relu(reinforced - base)


def _check_alpha(alpha: float) -> None:
    if alpha < 0:
        raise UserError(f"labels.alpha={alpha} must be >= 0 (it scales how far reinforced tokens are pushed down; the paper uses 5)")


@dataclass
class WHPLabels:
    """The paper's labels: the baseline on the translated block, corrected by the reinforced model."""

    alpha: float
    batch_size: int
    top_k: int = 8
    translates: ClassVar[bool] = True
    needs_reinforced: ClassVar[bool] = True
    uses_candidates: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_alpha(self.alpha)
        if self.top_k < 1:
            raise UserError(f"labels.top_k={self.top_k} must be >= 1 (baseline candidates kept per position; 8 is plenty)")

    def combine(self, base: torch.Tensor, reinforced: torch.Tensor | None) -> torch.Tensor:
        return whp_combination(base, reinforced, self.alpha)


@dataclass
class ReinforcedOnlyLabels(WHPLabels):
    """Ablation: the same combination with both models on the original text (no anchors)."""

    translates: ClassVar[bool] = False


@dataclass
class AnchoredOnlyLabels:
    """Ablation: the baseline's prediction on the translated block alone (no reinforced model)."""

    batch_size: int
    translates: ClassVar[bool] = True
    needs_reinforced: ClassVar[bool] = False
    uses_candidates: ClassVar[bool] = False

    def combine(self, base: torch.Tensor, reinforced: torch.Tensor | None) -> torch.Tensor:
        return base
