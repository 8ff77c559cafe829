"""A fine-tune's schedule (and what it trains), apart from the code that trains, so that a run checks it without importing Lightning."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from unlearn.errors import SettingError
from unlearn.training.adapter import LoraAdapter

# Fewer optimizer steps than this in a whole fine-tune, with no min_steps asked for, get a
# warning: the paper's schedules on a small corpus make one or two, at learning rates that
# move nothing in so few (a higher one may: SmolLM2's unlearning forgets a scene in 4).
FEW_STEPS = 10


@dataclass(frozen=True)
class FitSpec:
    """How long and how hard to train; `batch_size * accumulate_grad_batches` blocks per step;
    `length_group_batches` batches blocks of similar length together (see ShardedBatches).

    `min_steps` is what carries across corpus sizes: the paper's 128 blocks a step made 61
    optimizer steps an epoch of its 4M-token corpus, and make one of a 40-block play. A
    schedule that would make fewer steps than `min_steps` on the corpus it is given is
    fitted to it (`for_corpus`): accumulation is lowered first, since large steps exist to
    average many blocks and a small corpus has few to average, then epochs are raised. The
    learning rate is kept, so the per-step update stays what was tuned.

    `adapter`: low-rank adapters trained instead of every weight and merged back after
    training (None: every weight).

    `train_embeddings=False` keeps the input embeddings and the output layer (one matrix when
    they are tied, as in SmolLM2) as they are: a change to a token's row there moves that
    token's probability after every context, on the target and off it, where a change in the
    decoder layers can depend on the context."""

    epochs: int
    lr: float
    batch_size: int
    accumulate_grad_batches: int = 1
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    length_group_batches: int = 0
    min_steps: int = 0
    adapter: LoraAdapter | None = None
    train_embeddings: bool = True

    def __post_init__(self) -> None:
        at_least_one = {"epochs": self.epochs, "batch_size": self.batch_size, "accumulate_grad_batches": self.accumulate_grad_batches}
        for name, value in at_least_one.items():
            if value < 1:
                raise SettingError(name, value, "must be at least 1")
        if not self.lr > 0:
            raise SettingError("lr", self.lr, "must be > 0 (the peak learning rate of AdamW)")
        if not all(0 <= beta < 1 for beta in self.betas):
            raise SettingError("betas", list(self.betas), "must each be in [0, 1) (AdamW's moment decays)")
        if self.weight_decay < 0:
            raise SettingError("weight_decay", self.weight_decay, "must be >= 0")
        if not 0 <= self.warmup_ratio < 1:
            raise SettingError("warmup_ratio", self.warmup_ratio, "must be in [0, 1) (the share of steps spent warming up)")
        if self.min_steps < 0:
            raise SettingError("min_steps", self.min_steps, "must be >= 0 (0: the schedule as given, whatever the corpus size)")
        if self.length_group_batches < 0:
            raise SettingError(
                "length_group_batches", self.length_group_batches, "must be >= 0: 0 draws batches at random, N > 0 groups similar lengths"
            )

    def settings(self) -> dict[str, Any]:
        """The spec as a cache key reads it: without `adapter` when every weight is trained, nor
        `train_embeddings` when they are, so that the fine-tunes cached before either existed
        keep their keys."""
        settings = asdict(self)
        if self.adapter is None:
            settings.pop("adapter")
        if self.train_embeddings:
            settings.pop("train_embeddings")
        return settings

    def steps(self, blocks: int) -> int:
        """Optimizer steps over `blocks` blocks: an epoch's last step takes what accumulated."""
        return self.epochs * math.ceil(math.ceil(blocks / self.batch_size) / self.accumulate_grad_batches)

    def for_corpus(self, blocks: int) -> tuple[FitSpec, str | None]:
        """This schedule fitted to a corpus of `blocks` blocks, and a line for the log saying
        what changed and why (or, when the schedule makes very few steps and no `min_steps`
        was asked for, how to fix it); None when there is nothing to say."""
        planned = self.steps(blocks)
        shape = (
            f"{blocks} blocks make {planned} optimizer steps at {self.batch_size} x {self.accumulate_grad_batches} blocks a step "
            f"over {self.epochs} epochs"
        )
        if planned >= self.min_steps:
            if self.min_steps == 0 and planned < FEW_STEPS:
                return self, f"{shape}: few; if nothing is learnt, set min_steps (e.g. min_steps=50) or lower accumulate_grad_batches"
            return self, None
        batches = math.ceil(blocks / self.batch_size)
        lowered = (replace(self, accumulate_grad_batches=a) for a in range(self.accumulate_grad_batches, 0, -1))
        longer = replace(self, accumulate_grad_batches=1, epochs=math.ceil(self.min_steps / batches))
        fitted = next((spec for spec in lowered if spec.steps(blocks) >= self.min_steps), longer)
        return fitted, (
            f"{shape}, fewer than min_steps={self.min_steps}: training {fitted.batch_size} x {fitted.accumulate_grad_batches} "
            f"blocks a step for {fitted.epochs} epochs ({fitted.steps(blocks)} steps)"
        )
