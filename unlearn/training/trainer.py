"""Building a Lightning Trainer for a stage from the `trainer` and `logger` config groups."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedModel

from unlearn.training.data import collate_trimmed
from unlearn.training.module import CausalLMModule, FitSpec


@dataclass
class TrainerFactory:
    """Hardware and strategy come from `trainer`, tracking from `logger`, duration from the stage."""

    trainer: DictConfig
    logger: DictConfig | None

    def __call__(self, stage: str, spec: FitSpec) -> pl.Trainer:
        logger = instantiate(self.logger, name=stage) if self.logger else False
        return instantiate(
            self.trainer,
            max_epochs=spec.epochs,
            accumulate_grad_batches=spec.accumulate_grad_batches,
            logger=logger,
        )


def _quiet_lightning() -> None:
    """Keep the console to progress bars and our own log: drop Lightning's banners and tips."""
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")


def fit(model: PreTrainedModel, dataset: Dataset, spec: FitSpec, make_trainer: TrainerFactory, stage: str, seed: int) -> None:
    """Train `model` in place on `dataset` with shuffled batches drawn from `seed`."""
    _quiet_lightning()
    pl.seed_everything(seed, verbose=False)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=spec.batch_size, shuffle=True, generator=generator, collate_fn=collate_trimmed)
    model.train()
    make_trainer(stage, spec).fit(CausalLMModule(model, spec), loader)
    model.eval()
