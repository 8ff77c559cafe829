"""Gradient difference (Liu et al. 2022; a baseline of TOFU and MUSE): ascend on the target
while descending on retain text, so that what should be kept is trained to stay.

    L(theta) = - CE_theta(forget batch) + retain_weight * CE_theta(retain batch)

Each batch of target blocks comes with as many retain blocks (the target's `retain` text,
cycled when it has fewer blocks), under the keys `retain_*` (unlearn/blocks.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn.baselines import BaselineMethod
from unlearn.errors import SettingError
from unlearn.training.loss import CausalLMObjective

RETAIN = "retain_"


def retain_part(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key.removeprefix(RETAIN): value for key, value in batch.items() if key.startswith(RETAIN)}


def forget_part(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value for key, value in batch.items() if not key.startswith(RETAIN)}


class GradientDifferenceLoss(CausalLMObjective):
    def __init__(self, model: nn.Module, chunk_tokens: int, retain_weight: float):
        super().__init__(model, chunk_tokens)
        self.retain_weight = retain_weight

    def forward(self, batch: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None = None) -> torch.Tensor:
        forget = super().forward(forget_part(batch), num_items_in_batch)
        retain = super().forward(retain_part(batch))
        return -forget + self.retain_weight * retain


@dataclass(frozen=True)
class GradientDifference(BaselineMethod):
    """`retain_weight` scales the descent on retain text against the ascent on the target."""

    retain_weight: float = 1.0
    name = "gradient_difference"
    reads_retain = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.retain_weight >= 0:
            raise SettingError("retain_weight", self.retain_weight, "must be >= 0 (the weight of the retain text's loss)")

    def objective(self, model: nn.Module, chunk_tokens: int) -> nn.Module:
        return GradientDifferenceLoss(model, chunk_tokens, self.retain_weight)
