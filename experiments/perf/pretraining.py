"""What the toy baseline's pretraining, 85% of the default cold run, costs and what could
make it cheaper. Writes pretraining.json beside this file.

1. padding: positions a pretraining epoch computes (batches are trimmed to their longest
   block) for the default world's text, with random batches and with length grouping;
2. step rate: tokens per second of one training step of the toy model's shape on full
   blocks, for batch sizes, attention implementations and bf16 autocast.

    python experiments/perf/pretraining.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from unlearn.components import prepare
from unlearn.config import compose_config
from unlearn.files import read_documents
from unlearn.training.sampling import ShardedBatches

HERE = Path(__file__).resolve().parent
GROUPS = (0, 2, 4, 8, 16)
STEP_VARIANTS = [  # (attention, batch size, bf16 autocast)
    ("sdpa", 8, False), ("eager", 8, False), ("sdpa", 16, False), ("sdpa", 32, False), ("sdpa", 8, True), ("sdpa", 16, True),
]  # fmt: skip
STEPS, WARMUP = 20, 3


def padding(cfg) -> dict:
    """Positions computed per epoch, averaged over the pretraining's epochs, for each grouping."""
    prepared = prepare(cfg)
    _, blocks = prepared.parts.model.pretraining_blocks(read_documents(prepared.target.files.pretraining), cfg.seed)
    lengths = blocks.attention_mask.sum(dim=1).tolist()
    pretrain, positions = cfg.model.pretrain, {}
    for group in GROUPS:
        batches = ShardedBatches(len(lengths), pretrain.batch_size, cfg.seed, lengths=lengths, length_group_batches=group)
        total = 0
        for epoch in range(pretrain.epochs):
            batches.sampler.set_epoch(epoch)
            total += sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
        positions[group] = total / pretrain.epochs
    return {"blocks": len(lengths), "tokens": sum(lengths), "positions_per_epoch": positions}


def step_rate(cfg, attention: str, batch_size: int, bf16: bool) -> float:
    """Tokens per second of forward, backward and AdamW on full-length blocks of random tokens."""
    torch.manual_seed(0)
    shape = cfg.model
    config = LlamaConfig(vocab_size=shape.tokenizer.vocab_size, max_position_embeddings=shape.context_length, **shape.architecture)
    config._attn_implementation = attention
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = torch.randint(0, config.vocab_size, (batch_size, cfg.model.context_length))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    return STEPS * ids.numel() / (time.perf_counter() - start)


def main() -> None:
    out = Path(compose_config([]).paths.output_root) / "perf-pretraining"
    cfg = compose_config([f"paths.output_dir={out}"])
    result = {"padding": padding(cfg), "step_rate": []}
    print(result["padding"], flush=True)
    for attention, batch_size, bf16 in STEP_VARIANTS:
        rate = step_rate(cfg, attention, batch_size, bf16)
        result["step_rate"].append({"attention": attention, "batch_size": batch_size, "bf16_autocast": bf16, "tokens_per_s": rate})
        print(result["step_rate"][-1], flush=True)
    (HERE / "pretraining.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
