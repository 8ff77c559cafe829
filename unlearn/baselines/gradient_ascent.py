"""Gradient ascent (Jang et al. 2023; the simplest baseline of TOFU and MUSE): raise the
model's loss on the target's own next tokens.

    L(theta) = - (1/N) sum_t -log p_theta(x_t | x_<t)      over the target's tokens
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from unlearn.baselines import BaselineMethod
from unlearn.training.loss import CausalLMObjective


class GradientAscentLoss(CausalLMObjective):
    def forward(self, batch: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None = None) -> torch.Tensor:
        return -super().forward(batch, num_items_in_batch)


@dataclass(frozen=True)
class GradientAscent(BaselineMethod):
    name = "gradient_ascent"

    def objective(self, model: nn.Module, chunk_tokens: int) -> nn.Module:
        return GradientAscentLoss(model, chunk_tokens)
