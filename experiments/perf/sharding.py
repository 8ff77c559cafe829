"""What each process holds when a model is fine-tuned over 2 CPU processes: DDP (every process
the whole model, its gradients and AdamW state) against FSDP2 (each process a shard of them).
Writes sharding.json and sharding.md beside this file.

    python experiments/perf/sharding.py

The model is a randomly initialised Llama of about 110M parameters (the shape below), fp32,
trained for 3 steps on random tokens through the project's own fit (TrainerFactory with
trainer=ddp_cpu or trainer=fsdp_cpu, activation checkpointing as the config sets it). Each
process is started by torchrun and measures, after its last optimizer step, the bytes of the
tensors it holds itself (its shard, for FSDP2): weights, gradients and optimizer state; and
its peak resident memory before the first step and at the end, which also count Python, the
libraries, the whole model as built before it is sharded, activations (FSDP2 recomputes
them per layer, DDP keeps them), the full weights gathered at the end to be saved, and
what the allocator keeps.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

HERE = Path(__file__).parent
TRAINERS = ("ddp_cpu", "fsdp_cpu")
SHAPE = {"vocab_size": 16_000, "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12,
         "num_key_value_heads": 12, "max_position_embeddings": 256, "tie_word_embeddings": False}  # fmt: skip
BLOCKS, LENGTH, BATCH = 12, 256, 4


def _local_bytes(tensor: torch.Tensor) -> int:
    """A tensor's bytes in this process: a DTensor's own shard, a plain tensor whole."""
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return local.numel() * local.element_size()


def resident_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def held_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, int]:
    parameters = list(model.parameters())
    state = [value for entry in optimizer.state.values() for value in entry.values() if isinstance(value, torch.Tensor)]
    return {
        "weights": sum(_local_bytes(p) for p in parameters),
        "gradients": sum(_local_bytes(p.grad) for p in parameters if p.grad is not None),
        "optimizer": sum(_local_bytes(value) for value in state),
    }


def worker(trainer: str, out: Path) -> None:
    """One process of a run under torchrun: fine-tune the model and write what this process held."""
    import pytorch_lightning as pl
    from transformers import LlamaConfig, LlamaForCausalLM

    from unlearn.blocks import BlockDataset
    from unlearn.config import compose_config
    from unlearn.distributed import start_processes
    from unlearn.training.spec import FitSpec
    from unlearn.training.trainer import TrainerFactory, fit

    class Held(pl.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            self.before = resident_peak()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.bytes = held_bytes(pl_module.model, trainer.optimizers[0])
            self.trained = resident_peak()

    class Factory(TrainerFactory):
        def __call__(self, stage, spec, model, pieces=1):
            made = super().__call__(stage, spec, model, pieces)
            made.callbacks.append(probe)
            return made

    cfg = compose_config([f"trainer={trainer}", "+trainer.enable_progress_bar=false", "trainer.checkpoint_every_n_epochs=0"])
    processes = start_processes(cfg.trainer, 10, [], str(out))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**SHAPE))
    parameters = sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, SHAPE["vocab_size"], (BLOCKS, LENGTH), generator=torch.Generator().manual_seed(0))
    probe = Held()
    fit(model, BlockDataset(ids, torch.ones_like(ids), ids.clone()), FitSpec(epochs=1, lr=1e-5, batch_size=BATCH),
        Factory(cfg.trainer, None, processes), "sharding", seed=0)  # fmt: skip
    row = {"trainer": trainer, "rank": processes.rank, "parameters": parameters, **probe.bytes,
           "peak_resident_before_training": probe.before, "peak_resident_training": probe.trained,
           "peak_resident": resident_peak()}  # fmt: skip
    (out / f"{trainer}-{processes.rank}.json").write_text(json.dumps(row))
    processes.finish()


def table(rows: list[dict]) -> str:
    gb = 1e9
    lines = [
        "| trainer | rank | weights, GB | gradients, GB | AdamW state, GB | weights + gradients + AdamW, GB "
        "| peak resident: before training, GB | after the last step, GB | at the end (weights gathered), GB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        held = row["weights"] + row["gradients"] + row["optimizer"]
        peaks = [row[f"peak_resident{when}"] for when in ("_before_training", "_training", "")]
        cells = [row["weights"], row["gradients"], row["optimizer"], held, *peaks]
        lines.append(f"| {row['trainer']} | {row['rank']} | " + " | ".join(f"{value / gb:.3f}" for value in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from unlearn.machine import machine

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for trainer in TRAINERS:
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1])}
            command = ["torchrun", "--standalone", "--nproc-per-node=2", __file__, "--worker", trainer, folder]
            subprocess.run(command, check=True, env=env)
            rows += [json.loads((Path(folder) / f"{trainer}-{rank}.json").read_text()) for rank in (0, 1)]
    held = {t: max(r["weights"] + r["gradients"] + r["optimizer"] for r in rows if r["trainer"] == t) for t in TRAINERS}
    peak = {t: max(r["peak_resident"] for r in rows if r["trainer"] == t) for t in TRAINERS}
    ratios = {"held": held["fsdp_cpu"] / held["ddp_cpu"], "peak_resident": peak["fsdp_cpu"] / peak["ddp_cpu"]}
    where = machine()
    (HERE / "sharding.json").write_text(json.dumps({"machine": where, "rows": rows, "fsdp_over_ddp": ratios}, indent=1) + "\n")
    parameters = rows[0]["parameters"]
    summary = (
        f"A random Llama of {parameters / 1e6:.0f}M parameters (fp32), 3 steps of {BATCH} x {LENGTH} tokens, 2 CPU processes on "
        f"{where['cpu']} ({where['cores']} cores); written by `python experiments/perf/sharding.py`. Per process, FSDP2 holds "
        f"{ratios['held']:.2f}x the weights, gradients and AdamW state DDP holds, "
        f"and peaks at {ratios['peak_resident']:.2f}x its resident memory."
    )
    (HERE / "sharding.md").write_text(summary + "\n\n" + table(rows) + "\n")
    print(summary)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
