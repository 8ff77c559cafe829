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


def adamw(parameters: list[torch.nn.Parameter], spec: FitSpec) -> torch.optim.AdamW:
    """AdamW with the spec's settings, its update fused into one kernel where every weight is
    a plain CUDA tensor (not sharded): on a 7B model the default update, a series of
    kernels over lists of tensors, reads and writes the fp32 weights and moments several
    times a step (experiments/perf)."""
    fused = bool(parameters) and all(p.is_cuda and type(p.data) is torch.Tensor for p in parameters)
    return torch.optim.AdamW(parameters, lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay, fused=fused or None)


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
        if not spec.train_embeddings:
            for embeddings in (model.get_input_embeddings(), model.get_output_embeddings()):
                if embeddings is not None:
                    embeddings.requires_grad_(False)
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
        optimizer = adamw([p for p in self.model.parameters() if p.requires_grad], self.spec)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(total * self.spec.warmup_ratio)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, 1.0 - (step - warmup) / max(1, total - warmup))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
