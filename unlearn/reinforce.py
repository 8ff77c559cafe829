"""How the reinforced model is obtained (config group `reinforce`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar, Protocol

from unlearn.training.module import FitSpec


class TargetFinetuner(Protocol):
    """What the pipeline offers a reinforcement strategy: fine-tune the baseline on the target."""

    def finetune_on_target(self, stage: str, spec: FitSpec, settings: dict) -> str:
        """Fine-tune the baseline on the target's blocks with the next-token loss; cached by
        `settings`; returns the folder of the saved model."""
        ...


class Reinforcement(Protocol):
    provides_model: ClassVar[bool]

    def reinforced(self, finetuner: TargetFinetuner) -> str | None:
        """A hub id or folder of the reinforced model, or None for no reinforced model."""
        ...


@dataclass
class FinetuneReinforcement:
    """The paper's reinforced model: the baseline trained further on the target text."""

    epochs: int
    lr: float
    batch_size: int
    accumulate_grad_batches: int
    betas: tuple[float, float]
    weight_decay: float
    warmup_ratio: float
    provides_model: ClassVar[bool] = True

    def reinforced(self, finetuner: TargetFinetuner) -> str:
        return finetuner.finetune_on_target("reinforce", FitSpec(**asdict(self)), asdict(self))


@dataclass
class NoReinforcement:
    """No reinforced model: only label generators that do not need one (labels=anchored_only)."""

    provides_model: ClassVar[bool] = False

    def reinforced(self, finetuner: TargetFinetuner) -> None:
        return None


@dataclass
class ReinforcedFromPath:
    """An existing reinforced checkpoint: a folder saved with save_pretrained, or a hub id."""

    path: str
    provides_model: ClassVar[bool] = True

    def reinforced(self, finetuner: TargetFinetuner) -> str:
        return self.path
