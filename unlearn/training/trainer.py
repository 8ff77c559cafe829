"""Building a Lightning Trainer for a stage from the `trainer` config group and the run's tracker."""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.strategies import DeepSpeedStrategy, Strategy
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.blocks import BlockDataset
from unlearn.distributed import Processes
from unlearn.models import plain_model
from unlearn.settings import build
from unlearn.tracking import Tracker
from unlearn.training.module import CausalLMModule, FitSpec
from unlearn.training.sampling import ShardedBatches, collate_trimmed
from unlearn.training.sharding import ModelStrategy, recompute_activations
from unlearn.training.strategies import FullyShardedStrategy

log = logging.getLogger(__name__)


PROJECT_KEYS = (
    "checkpoint_every_n_epochs", "activation_checkpointing", "loss_chunk_tokens", "micro_batch_tokens", "strategy", "flush_denormal",
)  # fmt: skip


@dataclass
class TrainerFactory:
    """Hardware and strategy come from `trainer`, tracking from the run's tracker, duration from the stage.

    Some keys of `trainer` are this project's, not Lightning's: `checkpoint_every_n_epochs`
    (how often a fine-tune saves a checkpoint to resume from; 0 never), `activation_checkpointing`
    (recompute each decoder layer's activations in the backward pass instead of keeping them),
    `loss_chunk_tokens` (labelled positions projected onto the vocabulary at a time; 0: the
    model's own loss), `micro_batch_tokens` (tokens per forward and backward pass, the batch's
    gradients accumulated over its pieces; 0: each process's share of a batch in one pass),
    a `strategy` that shards the model (sharding.py), made for each model a fine-tune trains,
    and `flush_denormal` (flush_denormals)."""

    trainer: DictConfig
    tracker: Tracker | None
    processes: Processes = field(default_factory=Processes)

    @property
    def checkpoint_every_n_epochs(self) -> int:
        return int(self.trainer.get("checkpoint_every_n_epochs", 0))

    @property
    def activation_checkpointing(self) -> bool:
        return bool(self.trainer.get("activation_checkpointing", False))

    @property
    def loss_chunk_tokens(self) -> int:
        return int(self.trainer.get("loss_chunk_tokens", 0))

    def micro_batch_size(self, block_length: int) -> int:
        """Blocks of `block_length` tokens per forward and backward pass (at least one); 0: a whole share."""
        tokens = int(self.trainer.get("micro_batch_tokens", 0))
        return max(1, tokens // block_length) if tokens > 0 else 0

    def strategy(self, model: PreTrainedModel) -> Strategy | str:
        strategy = self.trainer.get("strategy", "auto")
        if not isinstance(strategy, DictConfig):
            return strategy
        built = build(strategy, "trainer.strategy")
        return built.strategy(model) if isinstance(built, ModelStrategy) else built

    def __call__(self, stage: str, spec: FitSpec, model: PreTrainedModel, pieces: int = 1) -> pl.Trainer:
        """The stage's Trainer; a batch trained in `pieces` passes accumulates them too."""
        settings = OmegaConf.to_container(self.trainer, resolve=True)
        for key in PROJECT_KEYS:
            settings.pop(key, None)
        return instantiate(
            settings,
            strategy=self.strategy(model),
            max_epochs=spec.epochs,
            accumulate_grad_batches=spec.accumulate_grad_batches * pieces,
            use_distributed_sampler=False,
            logger=self.tracker.stage_logger(stage) if self.tracker else False,
        )


def flush_denormals(trainer: DictConfig) -> None:
    """`trainer.flush_denormal`: the CPU computes on floats too small for full precision
    (below 1.2e-38) as zeros. A loss that saturates makes its gradients that small (NPO's
    weight sigmoid(beta * log ratio) once a block's likelihood has fallen far below the
    reference's; a collapsing gradient ascent), and the CPU computes on them tens of times
    slower (a SmolLM2 backward pass: 141 s instead of 2 s), for updates too small to move a
    weight. The setting holds for the whole process; it does nothing to CUDA kernels."""
    torch.set_flush_denormal(bool(trainer.get("flush_denormal", False)))


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
    until training ends (or a checkpoint holds it), so that recording it never waits for the
    accelerator. Lightning hands each pass's loss divided by the passes it accumulates; a
    batch's loss is the mean of its `pieces` passes' losses, undivided."""

    def __init__(self, pieces: int = 1) -> None:
        self.pieces = pieces
        self.losses: list[torch.Tensor] = []
        self._batch: torch.Tensor | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx: int) -> None:
        piece = outputs["loss"].detach() * (trainer.accumulate_grad_batches / self.pieces)
        self._batch = piece if self._batch is None else self._batch + piece
        if (batch_idx + 1) % self.pieces == 0:
            self.losses.append(self._batch)
            self._batch = None

    def values(self) -> list[float]:
        return torch.stack(self.losses).float().tolist() if self.losses else []

    def state_dict(self) -> dict[str, list[float]]:
        return {"losses": self.values()}

    def load_state_dict(self, state_dict: dict[str, list[float]]) -> None:
        self.losses = [torch.tensor(value) for value in state_dict["losses"]]


LATEST = "latest"


class EpochCheckpoints(pl.Callback):
    """A checkpoint every `every` epochs in `folder`, named in `folder/latest` once it is
    complete (a file or, with DeepSpeed, a folder), so an interrupted save is never resumed from."""

    def __init__(self, folder: Path, every: int, is_main: bool):
        self.folder, self.every, self.is_main = folder, every, is_main

    @staticmethod
    def latest(folder: Path) -> Path | None:
        pointer = folder / LATEST
        if not pointer.is_file():
            return None
        checkpoint = folder / pointer.read_text().strip()
        return checkpoint if checkpoint.exists() else None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch % self.every or epoch == trainer.max_epochs:
            return
        previous = self.latest(self.folder)
        name = f"epoch-{epoch}.ckpt"
        trainer.save_checkpoint(self.folder / name, weights_only=False)
        if self.is_main:
            pending = self.folder / f".{LATEST}.pending"
            pending.write_text(name)
            os.replace(pending, self.folder / LATEST)
            if previous is not None and previous.name != name:
                shutil.rmtree(previous) if previous.is_dir() else previous.unlink()
        log.info("checkpoint after epoch %d: %s", epoch, self.folder / name)


class FullWeights(pl.Callback):
    """The whole model's weights on rank 0 at the end of training, gathered from the
    processes when the strategy shards them (FSDP2, DeepSpeed ZeRO-3); None when every
    process holds them whole already (one device, DDP, ZeRO-2)."""

    def __init__(self) -> None:
        self.gathered: dict[str, torch.Tensor] | None = None

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        strategy = trainer.strategy
        if isinstance(strategy, FullyShardedStrategy):
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            state = {key.removeprefix("model."): value for key, value in get_model_state_dict(pl_module.objective, options=options).items()}
        elif isinstance(strategy, DeepSpeedStrategy) and strategy.zero_stage_3:
            consolidated = strategy.deepspeed_engine._zero3_consolidated_16bit_state_dict()
            state = {key.removeprefix("objective.model."): value for key, value in consolidated.items()}
        else:
            return
        self.gathered = state if trainer.is_global_zero else None


@dataclass
class FitResult:
    losses: list[float]
    is_main: bool
    state_dict: dict[str, torch.Tensor] | None = None


def fit(
    model: PreTrainedModel,
    dataset: BlockDataset,
    spec: FitSpec,
    make_trainer: TrainerFactory,
    stage: str,
    seed: int,
    checkpoints: Path | None = None,
) -> FitResult:
    """Train `model` in place on `dataset` in batches shuffled from `seed`, resuming from the
    latest checkpoint in `checkpoints` if an earlier attempt left one."""
    _quiet_lightning()
    pl.seed_everything(seed, verbose=False)
    processes = make_trainer.processes
    spec, fitted = spec.for_corpus(len(dataset))
    if fitted is not None and processes.is_main:
        log.warning("%s: %s", stage, fitted)
    lengths = dataset.attention_mask.sum(dim=1).tolist() if spec.length_group_batches else ()
    labelled = (dataset.labels[:, 1:] != -100).sum(dim=1).tolist()
    batches = ShardedBatches(len(dataset), spec.batch_size, seed, processes.rank, processes.world_size, lengths,
                             spec.length_group_batches, make_trainer.micro_batch_size(dataset.input_ids.shape[1]), labelled)  # fmt: skip
    loader = DataLoader(dataset, batch_sampler=batches, collate_fn=collate_trimmed)
    model.train()
    if make_trainer.activation_checkpointing:
        recompute_activations(model)
    trainer = make_trainer(stage, spec, model, batches.pieces)
    history, weights = LossHistory(batches.pieces), FullWeights()
    trainer.callbacks.extend([history, weights])
    resume = None
    if checkpoints is not None and make_trainer.checkpoint_every_n_epochs:
        checkpoints.mkdir(parents=True, exist_ok=True)
        trainer.callbacks.append(EpochCheckpoints(checkpoints, make_trainer.checkpoint_every_n_epochs, processes.is_main))
        resume = EpochCheckpoints.latest(checkpoints)
        if resume is not None:
            log.info("%s: resuming from %s", stage, resume)
    sharding = trainer.strategy.plan if isinstance(trainer.strategy, FullyShardedStrategy) else None
    piece_items = batches.piece_items if batches.pieces * processes.world_size > 1 else None
    trainer.fit(CausalLMModule(model, spec, make_trainer.loss_chunk_tokens, sharding, piece_items), loader, ckpt_path=resume)
    model.eval()
    return FitResult(history.values(), trainer.is_global_zero, weights.gathered)


def save_trained(result: FitResult, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    """Rank 0 saves the trained model, loss curve and tokenizer. Weights gathered from a
    sharded fine-tune are saved through a plain model of the same config given the gathered
    tensors, so the folder holds no trace of the sharding (names, wrapper classes)."""
    if not result.is_main:
        return
    if result.state_dict is not None:
        model = plain_model(model.config, result.state_dict)
    model.save_pretrained(out)
    write_losses(out, result.losses)
    tokenizer.save_pretrained(out)
