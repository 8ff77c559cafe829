"""A fine-tune's schedule, apart from the code that trains, so that a run checks it without importing Lightning."""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.errors import SettingError


@dataclass(frozen=True)
class FitSpec:
    """How long and how hard to train; `batch_size * accumulate_grad_batches` blocks per step;
    `length_group_batches` batches blocks of similar length together (see ShardedBatches)."""

    epochs: int
    lr: float
    batch_size: int
    accumulate_grad_batches: int = 1
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    length_group_batches: int = 0

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
        if self.length_group_batches < 0:
            raise SettingError(
                "length_group_batches", self.length_group_batches, "must be >= 0: 0 draws batches at random, N > 0 groups similar lengths"
            )
