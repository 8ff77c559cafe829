"""The bench's workload: a synthetic corpus cut into blocks, a tokenizer, the anchored-term
dictionary, and Llama models of a configured shape with random weights."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase

from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.blocks import Blocks, make_blocks
from unlearn.files import read_documents
from unlearn.targets import TargetFiles
from unlearn.tokenization import train_bpe_tokenizer


@dataclass
class Workload:
    blocks: Blocks
    tokenizer: PreTrainedTokenizerBase
    dictionary: AnchorDictionary
    config: LlamaConfig
    device: torch.device

    def model(self, seed: int, dtype: torch.dtype) -> LlamaForCausalLM:
        """A model of the configured shape with random weights, built on the device (a 7B model in seconds)."""
        torch.manual_seed(seed)
        with self.device:
            model = LlamaForCausalLM(self.config)
        return model.to(dtype)

    @property
    def parameters(self) -> int:
        """Counted on the meta device: no memory for a 7B model's weights."""
        with torch.device("meta"):
            return LlamaForCausalLM(self.config).num_parameters()

    @property
    def mean_length(self) -> float:
        return self.blocks.tokens / len(self.blocks)

    def forward_flops_per_token(self) -> float:
        """2 x the weights of every matrix product (the output layer included, the input
        embedding not: it is a lookup) + attention's 2 x 2 x layers x width x length."""
        c = self.config
        attention = c.hidden_size * (2 * c.hidden_size + 2 * c.num_key_value_heads * (c.hidden_size // c.num_attention_heads))
        mlp = 3 * c.hidden_size * c.intermediate_size
        matrices = c.num_hidden_layers * (attention + mlp) + c.vocab_size * c.hidden_size
        return 2 * matrices + 4 * c.num_hidden_layers * c.hidden_size * self.mean_length

    def train_flops_per_token(self) -> float:
        """Forward + backward: 3 x the forward (PaLM's 6N + 12 L d s)."""
        return 3 * self.forward_flops_per_token()

    def subset(self, blocks: int) -> Blocks:
        """The first `blocks` blocks."""
        b = self.blocks
        return Blocks(b.input_ids[:blocks], b.attention_mask[:blocks], b.offsets[:blocks], b.texts[:blocks])


def build_workload(files: TargetFiles, bench_model: dict[str, Any], tokens: int, device: torch.device) -> Workload:
    """The target's documents, repeated until the blocks hold `tokens` tokens; with
    `pack_documents`, joined into one text cut into full blocks, as a book is cut (a toy
    document is a block of about 90 tokens, and a 7B model's step on such blocks measures
    its optimizer, not its matrix products)."""
    context = int(bench_model["context_length"])
    texts = read_documents(files.pretraining or files.corpus)
    tokenizer = train_bpe_tokenizer(texts, vocab_size=int(bench_model["tokenizer_vocab"]), min_frequency=2, model_max_length=context)
    documents = [d for d in read_documents(files.corpus) if d.strip()]
    lengths = [len(ids) + 2 for ids in tokenizer(documents, add_special_tokens=False)["input_ids"]]
    chosen, total = [], 0
    for document, length in itertools.cycle(zip(documents, lengths, strict=True)):
        if total >= tokens:
            break
        chosen.append(document)
        total += length
    config = LlamaConfig(
        **bench_model["architecture"],
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="sdpa",
    )
    if bench_model["pack_documents"]:
        chosen = ["\n\n".join(chosen)]
    return Workload(make_blocks(tokenizer, chosen, context), tokenizer, AnchorDictionary.from_file(files.anchors), config, device)
