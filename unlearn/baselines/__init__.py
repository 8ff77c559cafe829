"""The unlearning methods WHP is compared with, as `unlearn=` options on the same target,
blocks and evaluation: gradient ascent, gradient difference and NPO.

Each is a fine-tune schedule (FitSpec, so every schedule setting and `min_steps` apply as
they do to WHP's fine-tune) with a loss of its own on the target's own tokens instead of
generic labels: a run with one of them builds no reinforced model, dictionary or labels.
The loss is a module around the model (as CausalLMObjective is), so that a sharded
fine-tune gathers the weights it reads; each file's core reads like its equation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from unlearn.training.spec import FitSpec

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class BaselineMethod(FitSpec, ABC):
    """A fine-tune whose loss reads the target's text (and, for some, retain text or the
    baseline's own likelihoods), not generic labels."""

    name: ClassVar[str]
    reads_retain: ClassVar[bool] = False  # trains on the target's `retain` text too
    reads_reference: ClassVar[bool] = False  # needs the baseline's log-likelihood of each block

    @abstractmethod
    def objective(self, model: nn.Module, chunk_tokens: int) -> nn.Module:
        """The loss the fine-tune minimises, as a module around `model`: forward(batch, num_items_in_batch)."""
