"""Sharding strategies as settings (config: `trainer.strategy`), checked when the run starts and
turned into a Lightning strategy for each model a fine-tune trains.

What a strategy wraps comes from the model, not from a class name in a config: the decoder
layer is the class the model names in `_no_split_modules` (LlamaDecoderLayer for Llama,
MistralDecoderLayer for Mistral, ...). Lightning is imported only when a strategy is made,
so that a run checks these settings in the first seconds.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import nn

from unlearn.errors import SettingError, UserError

if TYPE_CHECKING:
    from pytorch_lightning.strategies import Strategy


@runtime_checkable
class ModelStrategy(Protocol):
    """A strategy that shards what it trains, so it is made for each model."""

    def strategy(self, model: nn.Module) -> Strategy: ...


def decoder_layer_classes(model: nn.Module) -> frozenset[type[nn.Module]]:
    """The classes of the model's repeated blocks: the units FSDP shards and checkpoints."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    classes = frozenset(type(module) for module in model.modules() if type(module).__name__ in names)
    if not classes:
        raise UserError(
            f"trainer.strategy: {type(model).__name__} names no decoder layer class (_no_split_modules) to wrap; "
            "use trainer=ddp, or a model from transformers that names its layers"
        )
    return classes


def recompute_activations(model: nn.Module) -> None:
    """Activation checkpointing per decoder layer, non-reentrant (the form PyTorch recommends,
    and the one that works with FSDP2's hooks); transformers renamed the switch in 5.x."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


@dataclass(frozen=True)
class ShardingPlan:
    """How FSDP2 shards a fine-tune: one `fully_shard` unit per decoder layer, then the root (the
    module whose forward computes the loss: the embeddings, final norm and output layer),
    each gathered for its own forward and backward.

    `fully_shard` keeps each process's shard of the weights in the dtype they were loaded in
    (fp32 for a fine-tune), and the optimizer updates those: the fp32 master weights. Only
    the all-gathered copy used in compute is cast to `param_dtype`; gradients are reduced
    across processes in `reduce_dtype` and land on the fp32 shards."""

    layer_classes: frozenset[type[nn.Module]]
    param_dtype: torch.dtype
    reduce_dtype: torch.dtype
    reshard_after_forward: bool
    cpu_offload: bool

    def apply(self, root: nn.Module, mesh) -> None:
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

        settings = {
            "mesh": mesh,
            "reshard_after_forward": self.reshard_after_forward,
            "mp_policy": MixedPrecisionPolicy(param_dtype=self.param_dtype, reduce_dtype=self.reduce_dtype),
            "offload_policy": CPUOffloadPolicy() if self.cpu_offload else OffloadPolicy(),
        }
        for module in root.modules():
            if isinstance(module, tuple(self.layer_classes)):
                fully_shard(module, **settings)
        fully_shard(root, **settings)


def _floating_dtype(field: str, name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise SettingError(field, name, "is not a floating-point torch dtype; use bfloat16, float16 or float32")
    return dtype


@dataclass(frozen=True)
class FullySharded:
    """FSDP2 (`fully_shard`) through Lightning's ModelParallelStrategy; conf/trainer/fsdp.yaml
    says what each setting does and why mixed precision is set here, not by `precision`."""

    reshard_after_forward: bool = True
    cpu_offload: bool = False
    param_dtype: str = "bfloat16"
    reduce_dtype: str = "float32"

    def __post_init__(self) -> None:
        _floating_dtype("param_dtype", self.param_dtype)
        _floating_dtype("reduce_dtype", self.reduce_dtype)

    def plan(self, model: nn.Module) -> ShardingPlan:
        return ShardingPlan(
            decoder_layer_classes(model),
            param_dtype=_floating_dtype("param_dtype", self.param_dtype),
            reduce_dtype=_floating_dtype("reduce_dtype", self.reduce_dtype),
            reshard_after_forward=self.reshard_after_forward,
            cpu_offload=self.cpu_offload,
        )

    def strategy(self, model: nn.Module) -> Strategy:
        from unlearn.training.strategies import FullyShardedStrategy

        return FullyShardedStrategy(self.plan(model))


@dataclass(frozen=True)
class DeepSpeed:
    """DeepSpeed ZeRO stage 2 (optimizer state and gradients sharded) or 3 (weights too)."""

    stage: int = 2
    offload_optimizer: bool = False
    offload_parameters: bool = False

    def __post_init__(self) -> None:
        if self.stage not in (1, 2, 3):
            raise SettingError("stage", self.stage, "is not a ZeRO stage; use 1, 2 or 3")
        if importlib.util.find_spec("deepspeed") is None:
            raise UserError("trainer=deepspeed needs DeepSpeed: `pip install deepspeed` on a machine with CUDA, or use trainer=fsdp")

    def strategy(self, model: nn.Module) -> Strategy:
        from pytorch_lightning.strategies import DeepSpeedStrategy

        return DeepSpeedStrategy(stage=self.stage, offload_optimizer=self.offload_optimizer, offload_parameters=self.offload_parameters)
