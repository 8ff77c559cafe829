"""Negative preference optimization (Zhang et al. 2024, "Negative Preference Optimization:
From Catastrophic Collapse to Effective Unlearning"): DPO's loss with the target's text as
the rejected answer and no preferred one, against the baseline as reference model.

    L(theta) = - (2 / beta) * mean_blocks log sigmoid( - beta * log( p_theta(block) / p_ref(block) ) )

log p(block) is the sum of the block's next-token log-likelihoods. The reference's are
computed once, before the fine-tune, from the baseline (which the fine-tune starts from),
and travel with each block as `reference_logprob`. As beta -> 0 the loss becomes gradient
ascent; for finite beta each block's push weakens as its likelihood falls below the
reference's, which is what keeps NPO from collapsing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from unlearn.baselines import BaselineMethod
from unlearn.blocks import IGNORE
from unlearn.errors import SettingError
from unlearn.training.loss import CausalLMObjective, sequence_logprobs


class NPOLoss(CausalLMObjective):
    def __init__(self, model: nn.Module, chunk_tokens: int, beta: float):
        super().__init__(model, chunk_tokens)
        self.beta = beta

    def forward(self, batch: dict[str, torch.Tensor], num_items_in_batch: torch.Tensor | None = None) -> torch.Tensor:
        log_ratio = sequence_logprobs(self.model, batch, self.chunk_tokens) - batch["reference_logprob"]
        per_block = -(2 / self.beta) * F.logsigmoid(-self.beta * log_ratio)
        # A block with no labelled token (a process's empty share of the batch) adds nothing.
        counted = (batch["labels"][:, 1:] != IGNORE).any(dim=1)
        return torch.where(counted, per_block, 0.0).sum() / counted.sum().clamp(min=1)


@dataclass(frozen=True)
class NPO(BaselineMethod):
    """`beta`: the inverse temperature of the preference loss (0.1 in the paper's and MUSE's runs)."""

    beta: float = 0.1
    name = "npo"
    reads_reference = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.beta > 0:
            raise SettingError("beta", self.beta, "must be > 0 (NPO's inverse temperature; the paper uses 0.1)")

    def objective(self, model: nn.Module, chunk_tokens: int) -> nn.Module:
        return NPOLoss(model, chunk_tokens, self.beta)
