"""How the reinforced model is obtained (config group `reinforce`): fine-tuned here from the
baseline (all weights, or low-rank adapters merged back), given as a folder or hub id, or
none (`reinforce=none`, for labels with alpha = 0). The reinforce stage (unlearn/stages.py)
does the work; these say what it is."""

from __future__ import annotations

from dataclasses import dataclass, fields

from unlearn.training.adapter import LoraAdapter
from unlearn.training.spec import FitSpec


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
    length_group_batches: int
    min_steps: int = 0
    adapter: LoraAdapter | None = None

    def __post_init__(self) -> None:
        self.fit_spec()

    def fit_spec(self) -> FitSpec:
        return FitSpec(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass
class ReinforcedFromPath:
    """An existing reinforced checkpoint: a folder saved with save_pretrained, or a hub id."""

    path: str


def no_reinforcement() -> None:
    """`reinforce=none`: no reinforced model (labels with alpha = 0, e.g. labels=anchored_only)."""
    return None


Reinforcement = FinetuneReinforcement | ReinforcedFromPath | None
