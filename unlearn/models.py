"""Baseline models: described here and pretrained by the baseline stage (the toy Llama), or loaded from the hub or a folder.

transformers is imported where a model is loaded or made, not when this module is: a run
builds and checks every component before any stage, and that should take a second, not the
seconds transformers' import takes."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib.util
import logging
import random
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch

from unlearn.blocks import Blocks, make_blocks
from unlearn.errors import SettingError, UserError
from unlearn.files import package_folder
from unlearn.settings import check_node
from unlearn.training.spec import FitSpec

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM, PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


class BaselineSource(Protocol):
    """Where the baseline comes from: a model given by `name_or_path` (with `gguf_file`, a
    GGUF checkpoint in it, which the baseline stage converts once), or (None) one this
    project pretrains on the target's pretraining text."""

    name: str
    name_or_path: str | None
    gguf_file: str | None
    revision: str | None

    def positions(self) -> int:
        """The longest sequence the model accepts, read from its configuration, not its weights."""
        ...

    def load(self, name_or_path: str, training: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        """Load the baseline, or a model derived from it, for inference, or with the weights'
        dtype a fine-tune keeps (`training`)."""
        ...

    def load_tokenizer(self, name_or_path: str) -> PreTrainedTokenizerBase: ...

    def config(self, name_or_path: str, key: str) -> PretrainedConfig:
        """The model's configuration; `key` is the setting that named it, for the error."""
        ...


@dataclass(kw_only=True)
class ModelLoading:
    """How every model of a run is loaded: inference and training dtypes, hub revision, remote code."""

    dtype: str = "auto"
    train_dtype: str = "float32"
    revision: str | None = None
    trust_remote_code: bool = False

    def load(self, name_or_path: str, training: bool = False) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
        return load_causal_lm(name_or_path, self.train_dtype if training else self.dtype, self.revision, self.trust_remote_code)

    def load_tokenizer(self, name_or_path: str) -> PreTrainedTokenizerBase:
        return load_tokenizer(name_or_path, self.revision, self.trust_remote_code)

    def config(self, name_or_path: str, key: str) -> PretrainedConfig:
        return load_config(name_or_path, key, self.revision, self.trust_remote_code)


@dataclass(kw_only=True)
class ToyLlama(ModelLoading):
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
    name_or_path: ClassVar[None] = None
    gguf_file: ClassVar[None] = None

    def __post_init__(self) -> None:
        check_node(self.pretrain, FitSpec, "model.pretrain")
        try:
            FitSpec(**self.pretrain)
        except SettingError as err:
            raise SettingError(f"pretrain.{err.field}", err.value, err.why) from None

    @property
    def pretrain_spec(self) -> FitSpec:
        return FitSpec(**self.pretrain)

    def positions(self) -> int:
        return self.context_length

    def pretraining_blocks(self, documents: list[str], seed: int) -> tuple[PreTrainedTokenizerBase, Blocks]:
        """The tokenizer trained on the pretraining documents, and their blocks, in an order drawn from `seed`."""
        from unlearn.tokenization import train_bpe_tokenizer

        documents = list(documents)
        random.Random(seed).shuffle(documents)
        tokenizer = train_bpe_tokenizer(documents, model_max_length=self.context_length, **self.tokenizer)
        return tokenizer, make_blocks(tokenizer, documents, self.context_length)

    def initial_model(self, tokenizer: PreTrainedTokenizerBase, seed: int) -> LlamaForCausalLM:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=self.context_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **self.architecture,
        )
        return LlamaForCausalLM(config)


@dataclass(kw_only=True)
class PretrainedModel(ModelLoading):
    """Any causal LM from the Hugging Face hub (an id) or a local folder saved with save_pretrained;
    with `gguf_file`, a GGUF checkpoint in that folder or hub repository (as transformers names it)."""

    name_or_path: str
    gguf_file: str | None = None
    name: str = "hf"

    def __post_init__(self) -> None:
        if self.gguf_file is not None and importlib.util.find_spec("gguf") is None:
            raise SettingError("gguf_file", self.gguf_file, "needs the gguf package to be read: `pip install gguf`")
        if self.gguf_file is not None and Path(self.name_or_path).expanduser().is_dir() and self.gguf_path is None:
            raise SettingError("gguf_file", self.gguf_file, f"is not a file in {self.name_or_path}: name a .gguf file there")

    @property
    def gguf_path(self) -> Path | None:
        """The GGUF file on this machine, if it is one (not a file of a hub repository)."""
        if self.gguf_file is None:
            return None
        path = Path(self.name_or_path).expanduser() / self.gguf_file
        return path if path.is_file() else None

    @cached_property
    def baseline_config(self) -> PretrainedConfig:
        """Read once: from a GGUF file it takes seconds, and the run's checks read it twice."""
        return load_config(self.name_or_path, "model.name_or_path", self.revision, self.trust_remote_code, self.gguf_file)

    def positions(self) -> int:
        return self.baseline_config.max_position_embeddings

    def convert_gguf(self, out: Path) -> None:
        """The GGUF checkpoint, dequantised to fp32, saved as an ordinary Hugging Face folder,
        so every later stage loads it as it loads any model (a model loaded from GGUF
        refuses save_pretrained; a plain model of its config does not)."""
        from transformers import AutoModelForCausalLM

        tokenizer = load_tokenizer(self.name_or_path, self.revision, self.trust_remote_code, self.gguf_file)
        try:
            loaded = AutoModelForCausalLM.from_pretrained(
                self.name_or_path, gguf_file=self.gguf_file, revision=self.revision, dtype=torch.float32
            )
        except (OSError, ValueError) as err:
            raise _unreachable("model.gguf_file", f"{self.name_or_path}/{self.gguf_file}", err) from err
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are dequantised: the folder is no GGUF model
        plain_model(config, loaded.state_dict()).save_pretrained(out)
        tokenizer.save_pretrained(out)


@dataclass(kw_only=True)
class HubOrPackagedModel(PretrainedModel):
    """A model from the hub when the hub can be reached (or has been: its files are in the
    local Hugging Face cache), else its GGUF checkpoint shipped inside an installed Python
    package, so that the same `model=` runs online and offline. Resolved when the run's
    components are built, before anything else; the run's log says which was used."""

    package: str
    package_gguf_file: str
    install: str
    hub_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if hub_has(self.name_or_path, self.revision, self.hub_timeout_s):
            log.info("model=%s: %s from the Hugging Face hub", self.name, self.name_or_path)
            return
        folder = package_folder(self.package)
        if folder is None or not (folder / self.package_gguf_file).is_file():
            raise UserError(
                f"model={self.name}: the hub ({self.name_or_path}) cannot be reached from here and the Python package "
                f"{self.package} with {self.package_gguf_file} is not installed; install it: `{self.install}`"
            )
        log.info("model=%s: the hub cannot be reached; %s from the package %s", self.name, self.package_gguf_file, self.package)
        self.name_or_path, self.gguf_file = str(folder), self.package_gguf_file
        super().__post_init__()


def hub_has(repo_id: str, revision: str | None, timeout_s: float) -> bool:
    """Whether `repo_id` can be loaded from the hub: its config is in the local cache, or the
    hub answers within `timeout_s` (one request, not the hub client's minute of retries)."""
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json", revision=revision), str):
        return True
    if constants.HF_HUB_OFFLINE:
        return False
    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout_s)
    except OSError:
        return False
    return True


def plain_model(config: PretrainedConfig, state_dict: dict[str, torch.Tensor]) -> PreTrainedModel:
    """A model of `config`'s own class holding `state_dict`'s tensors (no copy): built on the
    meta device, so a 7B model costs no second allocation and no random initialisation."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(state_dict, assign=True)
    model.tie_weights()
    return model


def release_memory() -> None:
    """Return the memory of models the caller has just dropped to the system (GPU memory included)."""
    gc.collect()
    trim = _heap_trimmer()
    if trim is not None:
        trim(0)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@cache
def _heap_trimmer() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where the C library has one. glibc keeps freed blocks under its mmap
    threshold (which grows to 32 MB: a layer's weights, gradients and AdamW state) in the heap,
    resident: without trimming, the stage after a fine-tune starts with the fine-tune's optimizer
    state still counted, and the run's peak is the sum of both (experiments/macbeth)."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _unreachable(key: str, name_or_path: str, err: Exception) -> UserError:
    return UserError(
        f"{key}={name_or_path} could not be loaded as a model ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
        "give a hub id or a folder saved with save_pretrained; for a gated hub model run `hf auth login` and accept its "
        "licence; without internet point it at a local folder"
    )


def load_tokenizer(
    name_or_path: str, revision: str | None = None, trust_remote_code: bool = False, gguf_file: str | None = None
) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code, gguf_file=gguf_file)
    except (OSError, ValueError) as err:
        raise _unreachable("model", name_or_path, err) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_config(
    name_or_path: str, key: str, revision: str | None = None, trust_remote_code: bool = False, gguf_file: str | None = None
) -> PretrainedConfig:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(name_or_path, revision=revision, trust_remote_code=trust_remote_code, gguf_file=gguf_file)
    except (OSError, ValueError) as err:
        raise _unreachable(key, name_or_path, err) from None


def load_causal_lm(
    name_or_path: str, dtype: str = "auto", revision: str | None = None, trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load model and tokenizer for inference, with one clear line when that is impossible."""
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(name_or_path, revision, trust_remote_code)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            name_or_path, revision=revision, dtype=dtype, attn_implementation="sdpa", trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as err:
        raise _unreachable("model", name_or_path, err) from err
    return model.to(device()).eval(), tokenizer
