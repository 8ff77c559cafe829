"""Timing each stage through the framework and through a bare PyTorch loop, step by step
after warm-up, with the device synchronised at every clock reading."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset

from unlearn.bench.workload import Workload
from unlearn.blocks import BlockDataset
from unlearn.clock import peak_resident_gb
from unlearn.labels import LabelGenerator
from unlearn.labels.candidates import CandidateStore
from unlearn.labels.generate import LabelInputs, translate_batch
from unlearn.training.module import adamw
from unlearn.training.sampling import ShardedBatches, collate_trimmed
from unlearn.training.spec import FitSpec
from unlearn.training.trainer import TrainerFactory, fit

PHASES = ("data", "forward", "backward", "optimizer")
LABEL_PHASES = ("data", "forward", "select")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gb(device: torch.device) -> float:
    """The device's peak since the last reset (GPU), or the process's peak resident memory (CPU)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return peak_resident_gb()


@dataclass
class Timing:
    """One stage through one path: the timed steps after warm-up."""

    stage: str
    path: str
    steps: int
    tokens: int
    seconds: float
    flops_per_token: float
    peak_memory_gb: float
    split_s: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def mfu(self, peak_tflops: float) -> float:
        return self.tokens_per_s * self.flops_per_token / (peak_tflops * 1e12)

    def row(self, peak_tflops: float) -> dict:
        return {**asdict(self), "tokens_per_s": self.tokens_per_s, "mfu": self.mfu(peak_tflops)}


def matmul_peak_tflops(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """The rate of a large square matrix product here: the best this device does on the
    operation that dominates a transformer's FLOPs."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e12


class StepClock(pl.Callback):
    """The time at the end of every training step (data, forward, backward, optimizer and
    everything Lightning does around them)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.ends: list[float] = []
        self.tokens: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.ends:
            synchronize(self.device)
            self.ends.append(time.perf_counter())
        self.tokens.append(int(batch["attention_mask"].sum()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        synchronize(self.device)
        self.ends.append(time.perf_counter())


@dataclass
class ClockedTrainerFactory(TrainerFactory):
    """The run's Trainer, with a StepClock."""

    clock: StepClock | None = None

    def __call__(self, stage, spec, model, pieces=1):
        trainer = super().__call__(stage, spec, model, pieces)
        trainer.callbacks.append(self.clock)
        return trainer


def framework_fit(
    workload: Workload, dataset: Dataset, stage: str, spec: FitSpec, make_trainer: TrainerFactory, warmup: int, seed: int
) -> Timing:
    device = workload.device
    model = workload.model(seed, torch.float32)
    clock = StepClock(device)
    clocked = ClockedTrainerFactory(make_trainer.trainer, None, make_trainer.processes, clock)
    reset_peak_memory(device)
    fit(model, dataset, spec, clocked, stage, seed)
    steps = len(clock.ends) - 1 - warmup
    return Timing(
        stage, "framework", steps, sum(clock.tokens[warmup:]), clock.ends[-1] - clock.ends[warmup], workload.train_flops_per_token(),
        peak_memory_gb(device),
    )  # fmt: skip


def bare_fit(
    workload: Workload, dataset: BlockDataset, stage: str, spec: FitSpec, autocast: torch.dtype | None, warmup: int, seed: int
) -> Timing:
    """The same steps as the framework's fine-tune, written as plainly as PyTorch allows:
    the same batches, model, AdamW and schedule, with each phase clocked."""
    device = workload.device
    model = workload.model(seed, torch.float32).train()
    optimizer = adamw(list(model.parameters()), spec)
    total = len(ShardedBatches(len(dataset), spec.batch_size, seed))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
    split = dict.fromkeys(PHASES, 0.0)
    tokens, seconds, steps = 0, 0.0, 0
    reset_peak_memory(device)
    for step, indices in enumerate(ShardedBatches(len(dataset), spec.batch_size, seed)):
        synchronize(device)
        times = [time.perf_counter()]
        batch = {k: v.to(device, non_blocking=True) for k, v in collate_trimmed([dataset[i] for i in indices]).items()}
        synchronize(device)
        times.append(time.perf_counter())
        with torch.autocast(device.type, dtype=autocast, enabled=autocast is not None):
            loss = model(**batch).loss
        synchronize(device)
        times.append(time.perf_counter())
        loss.backward()
        synchronize(device)
        times.append(time.perf_counter())
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(device)
        times.append(time.perf_counter())
        if step >= warmup:
            steps += 1
            tokens += int(batch["attention_mask"].sum())
            seconds += times[-1] - times[0]
            for phase, begin, end in zip(PHASES, times, times[1:], strict=False):
                split[phase] += end - begin
    return Timing(stage, "bare", steps, tokens, seconds, workload.train_flops_per_token(), peak_memory_gb(device), split)


def label_inputs(workload: Workload, blocks, batch_size: int, alpha: float, top_k: int, dtype: torch.dtype, seed: int) -> LabelInputs:
    baseline, reinforced = workload.model(seed, dtype).eval(), workload.model(seed + 1, dtype).eval()
    generator = LabelGenerator(alpha=alpha, batch_size=batch_size, top_k=top_k)
    return LabelInputs(blocks, generator, baseline, reinforced, workload.tokenizer, workload.dictionary, seed)


def framework_labels(inputs: LabelInputs, workload: Workload, warmup: int) -> tuple[Timing, CandidateStore]:
    """The label stage as a run computes it: translation, alignment, both models, the candidate store."""
    device = workload.device
    for start in list(inputs.batch_starts())[:warmup]:
        inputs.logits(start)
    reset_peak_memory(device)
    synchronize(device)
    start = time.perf_counter()
    store = CandidateStore.collect(inputs)
    synchronize(device)
    seconds = time.perf_counter() - start
    steps = len(inputs.batch_starts())
    timing = Timing(
        "labels", "framework", steps, inputs.blocks.tokens, seconds, 2 * workload.forward_flops_per_token(), peak_memory_gb(device)
    )
    return timing, store


@torch.inference_mode()
def bare_labels(inputs: LabelInputs, workload: Workload, warmup: int, top_k: int) -> Timing:
    """The label stage's arithmetic written plainly: each batch translated (with the method's
    own function: the data phase), both models' forward passes, the candidates (both top-k
    and the best scores beyond them). What it leaves out is what the framework adds:
    alignment gathers, rule 4, packing the candidate store."""
    device, blocks, size = workload.device, inputs.blocks, inputs.generator.batch_size
    max_length = workload.config.max_position_embeddings
    starts = list(range(0, len(blocks), size))
    split = dict.fromkeys(LABEL_PHASES, 0.0)

    def label(start: int, clocked: bool) -> None:
        times = [time.perf_counter()]
        indices = range(start, min(start + size, len(blocks)))
        translated, translated_mask, _ = translate_batch(blocks, indices, inputs.dictionary, inputs.tokenizer, inputs.seed, max_length)
        translated, translated_mask = translated.to(device), translated_mask.to(device)
        original, mask = (t[indices.start : indices.stop].to(device) for t in (blocks.input_ids, blocks.attention_mask))
        synchronize(device)
        times.append(time.perf_counter())
        base = inputs.baseline(input_ids=translated, attention_mask=translated_mask).logits.float()
        reinforced = inputs.reinforced(input_ids=original, attention_mask=mask).logits.float()
        synchronize(device)
        times.append(time.perf_counter())
        boost = torch.relu(reinforced[:, : base.shape[1]] - base)
        scores = [base, *(base - alpha * boost for alpha in inputs.generator.store_alphas)]
        chosen = torch.cat([score.topk(top_k, dim=-1).indices for score in scores], dim=-1)
        outside = torch.ones_like(base, dtype=torch.bool).scatter_(-1, chosen, False)
        torch.stack([score.where(outside, -torch.inf).amax(dim=-1) for score in scores], dim=-1).cpu()
        reinforced[:, : base.shape[1]].gather(-1, chosen).cpu()
        synchronize(device)
        times.append(time.perf_counter())
        if clocked:
            for phase, begin, end in zip(LABEL_PHASES, times, times[1:], strict=False):
                split[phase] += end - begin

    for start in starts[:warmup]:
        label(start, clocked=False)
    reset_peak_memory(device)
    for start in starts:
        label(start, clocked=True)
    flops = 2 * workload.forward_flops_per_token()
    return Timing("labels", "bare", len(starts), blocks.tokens, sum(split.values()), flops, peak_memory_gb(device), split)
