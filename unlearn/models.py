"""Baseline models: trained here from scratch (the toy Llama) or loaded from the hub or a folder."""

from __future__ import annotations

import gc
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from unlearn.cache import StageCache, cache_key
from unlearn.errors import UserError
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_documents
from unlearn.tokenization import train_bpe_tokenizer
from unlearn.training.data import BlockDataset, Blocks, make_blocks
from unlearn.training.module import FitSpec
from unlearn.training.trainer import TrainerFactory, fit, save_trained


class BaselineSource(Protocol):
    def baseline(self, target: TargetFiles, cache: StageCache, make_trainer: TrainerFactory, seed: int) -> str:
        """A hub id or folder holding the baseline model and tokenizer."""
        ...

    def load(self, name_or_path: str, training: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """Load the baseline, or a model derived from it, for inference, or with the weights'
        dtype a fine-tune keeps (`training`)."""
        ...

    def load_tokenizer(self, name_or_path: str) -> PreTrainedTokenizerBase: ...

    def max_positions(self, name_or_path: str) -> int:
        """The longest sequence the model accepts."""
        ...


@dataclass
class ToyLlama:
    """A tiny LlamaForCausalLM pretrained here on a synthetic target's pretraining text.

    The same architecture class as Llama-2, so every later stage runs the code path a
    7B model runs; only the sizes in `architecture` differ.
    """

    tokenizer: dict[str, int]
    architecture: dict[str, Any]
    pretrain: dict[str, Any]
    context_length: int = 128
    name: str = "toy_llama"
    dtype: str = "float32"

    def baseline(self, target: TargetFiles, cache: StageCache, make_trainer: TrainerFactory, seed: int) -> str:
        if not target.pretraining:
            raise UserError(
                f"model=toy_llama pretrains on a synthetic target's world text, and target={target.name} has none; "
                "use target=toy_world, or a pretrained model: model=hf model.name_or_path=<hub id or folder>"
            )
        key = cache_key("baseline", {"model": asdict(self), "seed": seed}, [target.key])
        checkpoints = cache.progress_dir("baseline", key)
        return str(cache.fetch("baseline", key, lambda out: self.train(target, out, make_trainer, seed, checkpoints), collective=True))

    def pretraining_blocks(self, target: TargetFiles, seed: int) -> tuple[PreTrainedTokenizerBase, Blocks]:
        """The tokenizer trained on the target's pretraining text, and that text's blocks."""
        documents = read_documents(target.pretraining)
        random.Random(seed).shuffle(documents)
        tokenizer = train_bpe_tokenizer(documents, model_max_length=self.context_length, **self.tokenizer)
        return tokenizer, make_blocks(tokenizer, documents, self.context_length)

    def train(self, target: TargetFiles, out: Path, make_trainer: TrainerFactory, seed: int, checkpoints: Path) -> None:
        tokenizer, blocks = self.pretraining_blocks(target, seed)
        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=self.context_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **self.architecture,
        )
        model = LlamaForCausalLM(config)
        result = fit(model, BlockDataset.next_tokens(blocks), FitSpec(**self.pretrain), make_trainer, "pretrain", seed, checkpoints)
        save_trained(result, model, tokenizer, out)

    def load(self, name_or_path: str, training: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        return load_causal_lm(name_or_path, self.dtype)

    def load_tokenizer(self, name_or_path: str) -> PreTrainedTokenizerBase:
        return load_tokenizer(name_or_path)

    def max_positions(self, name_or_path: str) -> int:
        return max_positions(name_or_path)


@dataclass
class PretrainedModel:
    """Any causal LM from the Hugging Face hub (an id) or a local folder saved with save_pretrained."""

    name_or_path: str
    name: str = "hf"
    dtype: str = "auto"
    train_dtype: str = "float32"
    revision: str | None = None
    trust_remote_code: bool = False

    def baseline(self, target: TargetFiles, cache: StageCache, make_trainer: TrainerFactory, seed: int) -> str:
        return self.name_or_path

    def load(self, name_or_path: str, training: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        return load_causal_lm(name_or_path, self.train_dtype if training else self.dtype, self.revision, self.trust_remote_code)

    def load_tokenizer(self, name_or_path: str) -> PreTrainedTokenizerBase:
        return load_tokenizer(name_or_path, self.revision, self.trust_remote_code)

    def max_positions(self, name_or_path: str) -> int:
        return max_positions(name_or_path, self.revision, self.trust_remote_code)


def release_memory() -> None:
    """Return the memory of models the caller has just dropped (GPU memory included)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _unreachable(name_or_path: str, err: OSError) -> UserError:
    return UserError(
        f"model.name_or_path={name_or_path} could not be loaded ({str(err).splitlines()[0]}); "
        "for a gated hub model run `hf auth login` and accept its licence, "
        "without internet point model.name_or_path at a local folder saved with save_pretrained"
    )


def load_tokenizer(name_or_path: str, revision: str | None = None, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise _unreachable(name_or_path, err) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def max_positions(name_or_path: str, revision: str | None = None, trust_remote_code: bool = False) -> int:
    try:
        config = AutoConfig.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as err:
        raise _unreachable(name_or_path, err) from err
    return config.max_position_embeddings


def load_causal_lm(
    name_or_path: str, dtype: str = "auto", revision: str | None = None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load model and tokenizer for inference, with one clear line when that is impossible."""
    tokenizer = load_tokenizer(name_or_path, revision, trust_remote_code)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, revision=revision, dtype=dtype, attn_implementation="sdpa", trust_remote_code=trust_remote_code
        )
    except OSError as err:
        raise _unreachable(name_or_path, err) from err
    return model.to(device()).eval(), tokenizer
