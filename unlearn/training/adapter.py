"""What a fine-tune trains when it does not train every weight: low-rank adapters (peft),
merged back into the weights once trained, so that the model it leaves loads and runs like
any other checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class LoraAdapter:
    """Adapters of rank `rank` on `target_modules`, scaled by `lora_alpha / rank`. A low-rank
    update moves a model less far from its weights than a full fine-tune does at the same
    loss (Biderman et al. 2024, "LoRA Learns Less and Forgets Less"): for unlearning, the
    knowledge off the target is what should not move."""

    rank: int
    lora_alpha: float
    dropout: float
    target_modules: list[str]

    def wrap(self, model: PreTrainedModel) -> PreTrainedModel:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(
            r=self.rank,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            task_type="CAUSAL_LM",
        )
        return get_peft_model(model, config)

    def unwrap(self, model: PreTrainedModel) -> PreTrainedModel:
        return model.merge_and_unload()
