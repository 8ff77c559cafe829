"""How the reinforced model is obtained (config group `reinforce`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar, Protocol

from transformers import PreTrainedModel

from unlearn.training.module import FitSpec


class ModelAdapter(Protocol):
    """Changes what is trained (e.g. adapters instead of all weights) and folds it back."""

    def wrap(self, model: PreTrainedModel) -> PreTrainedModel: ...

    def unwrap(self, model: PreTrainedModel) -> PreTrainedModel: ...


class TargetFinetuner(Protocol):
    """What the pipeline offers a reinforcement strategy: fine-tune the baseline on the target."""

    def finetune_on_target(self, stage: str, spec: FitSpec, settings: dict, adapter: ModelAdapter | None = None) -> str:
        """Fine-tune the baseline on the target's blocks with the next-token loss; cached by
        `settings`; returns the folder of the saved (plain, unwrapped) model."""
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
    length_group_batches: int
    provides_model: ClassVar[bool] = True

    def fit_spec(self) -> FitSpec:
        return FitSpec(**{f.name: getattr(self, f.name) for f in fields(FitSpec)})

    def reinforced(self, finetuner: TargetFinetuner) -> str:
        return finetuner.finetune_on_target("reinforce", self.fit_spec(), asdict(self))


@dataclass
class LoraReinforcement(FinetuneReinforcement):
    """The reinforced model trained as low-rank adapters (peft), merged into the weights
    before label generation, so it loads and runs like any other checkpoint."""

    rank: int
    lora_alpha: float
    dropout: float
    target_modules: list[str]

    def wrap(self, model: PreTrainedModel) -> PreTrainedModel:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=self.rank, lora_alpha=self.lora_alpha, lora_dropout=self.dropout, target_modules=self.target_modules, task_type="CAUSAL_LM"
        )
        return get_peft_model(model, config)

    def unwrap(self, model: PreTrainedModel) -> PreTrainedModel:
        return model.merge_and_unload()

    def reinforced(self, finetuner: TargetFinetuner) -> str:
        return finetuner.finetune_on_target("reinforce", self.fit_spec(), asdict(self), adapter=self)


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
