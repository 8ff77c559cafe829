"""The Lightning module for every fine-tune of a causal LM: pretraining, reinforcement, unlearning."""

from __future__ import annotations

from collections.abc import Callable

import pytorch_lightning as pl
import torch
from transformers import PreTrainedModel

from unlearn.baselines import BaselineMethod
from unlearn.training.loss import CausalLMObjective
from unlearn.training.sharding import ShardingPlan
from unlearn.training.spec import FitSpec


class CausalLMModule(pl.LightningModule):
    """Cross-entropy on the `labels` of each batch (CausalLMObjective, `chunk_tokens` labelled
    positions at a time), or a baseline method's own loss (unlearn/baselines/), AdamW, linear
    warm-up then linear decay.

    With several processes each holds a slice of the batch, and a batch may be trained in
    pieces (ShardedBatches): `piece_items` then says what each piece's summed loss is divided
    by, so that the update is the whole batch's (None: one pass per batch, the objective's
    own mean). With FSDP2 the objective is sharded by `sharding` once Lightning has the
    processes' device mesh."""

    def __init__(
        self,
        model: PreTrainedModel,
        spec: FitSpec,
        chunk_tokens: int = 0,
        sharding: ShardingPlan | None = None,
        piece_items: Callable[[int], float] | None = None,
    ):
        super().__init__()
        self.objective = spec.objective(model, chunk_tokens) if isinstance(spec, BaselineMethod) else CausalLMObjective(model, chunk_tokens)
        self.spec = spec
        self.sharding = sharding
        self.piece_items = piece_items

    @property
    def model(self) -> PreTrainedModel:
        return self.objective.model

    def configure_model(self) -> None:
        if self.sharding is not None:
            self.sharding.apply(self.objective, self.device_mesh["data_parallel"])
            self.sharding = None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        items = None if self.piece_items is None else torch.tensor(self.piece_items(batch_idx), device=self.device)
        loss = self.objective(batch, items)
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=batch["input_ids"].shape[0])
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=self.spec.lr, betas=tuple(self.spec.betas), weight_decay=self.spec.weight_decay
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(total * self.spec.warmup_ratio)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, 1.0 - (step - warmup) / max(1, total - warmup))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
