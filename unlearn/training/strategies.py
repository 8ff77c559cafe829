"""Lightning strategies that depend on the model being trained (config: `trainer.strategy`).

A strategy option with `_partial_: true` is called with the model when a fine-tune
starts, so that what it wraps comes from the model, not from a class name in a config:
the decoder layer is the class the model names in `_no_split_modules` (LlamaDecoderLayer
for Llama, MistralDecoderLayer for Mistral, ...).
"""

from __future__ import annotations

import importlib.util

import torch
from pytorch_lightning.strategies import DeepSpeedStrategy, FSDPStrategy
from torch import nn

from unlearn.errors import UserError


def decoder_layer_classes(model: nn.Module) -> set[type[nn.Module]]:
    """The classes of the model's repeated blocks: the units FSDP shards and checkpoints."""
    names = set(getattr(model, "_no_split_modules", None) or [])
    classes = {type(module) for module in model.modules() if type(module).__name__ in names}
    if not classes:
        raise UserError(
            f"trainer.strategy: {type(model).__name__} names no decoder layer class (_no_split_modules) to wrap; "
            "use trainer=ddp, or a model from transformers that names its layers"
        )
    return classes


def fsdp(
    model: nn.Module,
    sharding_strategy: str,
    activation_checkpointing: bool,
    cpu_offload: bool,
    param_dtype: str,
    reduce_dtype: str,
    state_dict_type: str = "full",
) -> FSDPStrategy:
    """FSDP with one unit per decoder layer, and mixed precision chosen here rather than by
    Lightning's `precision` flag (see conf/trainer/fsdp.yaml for why)."""
    from torch.distributed.fsdp import MixedPrecision

    layers = decoder_layer_classes(model)
    precision = MixedPrecision(
        param_dtype=getattr(torch, param_dtype), reduce_dtype=getattr(torch, reduce_dtype), buffer_dtype=getattr(torch, reduce_dtype)
    )
    return FSDPStrategy(
        auto_wrap_policy=layers,
        activation_checkpointing_policy=layers if activation_checkpointing else None,
        sharding_strategy=sharding_strategy,
        cpu_offload=cpu_offload,
        mixed_precision=precision,
        state_dict_type=state_dict_type,
    )


def deepspeed(
    model: nn.Module, stage: int, offload_optimizer: bool, offload_parameters: bool, activation_checkpointing: bool
) -> DeepSpeedStrategy:
    """DeepSpeed ZeRO stage 2 (optimizer state and gradients sharded) or 3 (weights too)."""
    if importlib.util.find_spec("deepspeed") is None:
        raise UserError("trainer=deepspeed needs DeepSpeed: `pip install deepspeed` on a machine with CUDA, or use trainer=fsdp")
    if activation_checkpointing and hasattr(model, "gradient_checkpointing_enable"):
        model.gradient_checkpointing_enable()
    return DeepSpeedStrategy(stage=stage, offload_optimizer=offload_optimizer, offload_parameters=offload_parameters)
