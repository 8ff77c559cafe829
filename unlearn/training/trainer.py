"""Building a Lightning Trainer for a stage from the `trainer` config group and the run's tracker."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedModel

from unlearn.tracking import Tracker
from unlearn.training.data import collate_trimmed
from unlearn.training.module import CausalLMModule, FitSpec


@dataclass
class TrainerFactory:
    """Hardware and strategy come from `trainer`, tracking from the run's tracker, duration from the stage."""

    trainer: DictConfig
    tracker: Tracker | None

    def __call__(self, stage: str, spec: FitSpec) -> pl.Trainer:
        return instantiate(
            self.trainer,
            max_epochs=spec.epochs,
            accumulate_grad_batches=spec.accumulate_grad_batches,
            logger=self.tracker.stage_logger(stage) if self.tracker else False,
        )


def _quiet_lightning() -> None:
    """Keep the console to progress bars and our own log: drop Lightning's banners and tips."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")


LOSSES_FILE = "losses.json"


def write_losses(folder: Path, losses: list[float]) -> None:
    (folder / LOSSES_FILE).write_text(json.dumps([round(x, 5) for x in losses]))


def read_losses(folder: str | Path) -> list[float] | None:
    """The loss curve saved beside a trained model, if it was trained by this project."""
    path = Path(folder) / LOSSES_FILE
    return json.loads(path.read_text()) if path.is_file() else None


class LossHistory(pl.Callback):
    """The training loss of every batch, for the report's loss curves; kept on the device
    until training ends, so that recording it never waits for the accelerator."""

    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        self.losses.append(outputs["loss"].detach())


def fit(model: PreTrainedModel, dataset: Dataset, spec: FitSpec, make_trainer: TrainerFactory, stage: str, seed: int) -> list[float]:
    """Train `model` in place on `dataset` with shuffled batches drawn from `seed`; returns the loss per batch."""
    _quiet_lightning()
    pl.seed_everything(seed, verbose=False)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=spec.batch_size, shuffle=True, generator=generator, collate_fn=collate_trimmed)
    model.train()
    trainer = make_trainer(stage, spec)
    history = LossHistory()
    trainer.callbacks.append(history)
    trainer.fit(CausalLMModule(model, spec), loader)
    model.eval()
    return torch.stack(history.losses).float().tolist() if history.losses else []
