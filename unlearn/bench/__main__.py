"""`python -m unlearn.bench`: compose unlearn/bench/conf/bench.yaml, time every stage both ways, write bench.json and bench.md."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from unlearn.bench.config import RUN_GROUPS
from unlearn.bench.measure import Timing, bare_fit, bare_labels, framework_fit, framework_labels, label_inputs, matmul_peak_tflops
from unlearn.bench.workload import build_workload
from unlearn.blocks import IGNORE, BlockDataset
from unlearn.cache import StageCache
from unlearn.errors import UserError
from unlearn.labels.candidates import CandidateStore, fill_undecided
from unlearn.models import release_memory
from unlearn.settings import build
from unlearn.targets import prepare_target
from unlearn.training.spec import FitSpec
from unlearn.training.trainer import TrainerFactory

log = logging.getLogger(__name__)


def _device(cfg: DictConfig) -> torch.device:
    if cfg.trainer.accelerator in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise UserError("trainer.accelerator=gpu but no GPU is visible here; use trainer=cpu")
        return torch.device("cuda")
    return torch.device("cpu")


def _peak_tflops(cfg: DictConfig, device: torch.device, dtype: torch.dtype) -> tuple[float, str]:
    if cfg.peak_tflops is not None:
        return float(cfg.peak_tflops), "given (peak_tflops)"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for model, peak in cfg.known_peak_tflops.items():
            if model in name:
                return float(peak), f"{name}: dense bf16 peak"
    return matmul_peak_tflops(device, dtype), f"measured: {dtype} matrix product on this {device.type}"


def run_bench(cfg: DictConfig, output_dir: Path) -> dict:
    """Every stage through the framework and through the bare loop; the results, also written to output_dir."""
    device = _device(cfg)
    seed, warmup, batch_size = int(cfg.seed), int(cfg.warmup_steps), int(cfg.batch_size)
    files = prepare_target(build(cfg.target, "target"), StageCache(Path(cfg.paths.cache_dir))).files
    workload = build_workload(files, OmegaConf.to_container(cfg.bench_model, resolve=True), int(cfg.tokens), device)
    if cfg.steps is not None:
        workload.blocks = workload.subset((warmup + int(cfg.steps)) * batch_size)
    blocks = workload.blocks
    if len(blocks) <= warmup * batch_size:
        raise UserError(f"tokens={cfg.tokens} gives {len(blocks)} blocks, no more than the warm-up's {warmup} batches; raise tokens")
    mixed = cfg.trainer.precision.startswith("bf16")
    compute = torch.bfloat16 if mixed else torch.float32
    spec = FitSpec(epochs=1, lr=float(cfg.lr), batch_size=batch_size)
    make_trainer = TrainerFactory(cfg.trainer, None)
    parameters = workload.parameters
    log.info("%d blocks, %d tokens, %.2fM parameters", len(blocks), blocks.tokens, parameters / 1e6)

    repeats = int(cfg.repeats)
    autocast = torch.bfloat16 if mixed else None

    def fastest(framework: Callable[[], Timing], bare: Callable[[], Timing]) -> list[Timing]:
        """Each path's fastest of `repeats`, the two paths alternating so that a machine slowing down burdens both."""
        runs = []
        for _ in range(repeats):
            runs.append((framework(), bare()))
            release_memory()
        return [min(column, key=lambda timing: timing.seconds / timing.tokens) for column in zip(*runs, strict=True)]

    reinforce = BlockDataset.next_tokens(blocks)
    timings = fastest(
        lambda: framework_fit(workload, reinforce, "reinforce", spec, make_trainer, warmup, seed),
        lambda: bare_fit(workload, reinforce, "reinforce", spec, autocast, warmup, seed),
    )
    inputs = label_inputs(workload, blocks, batch_size, float(cfg.alpha), int(cfg.top_k), getattr(torch, cfg.bench_model.dtype), seed)
    stores: list[CandidateStore] = []

    def framework_labels_kept() -> Timing:
        timing, store = framework_labels(inputs, workload, warmup)
        stores.append(store)
        return timing

    timings += fastest(framework_labels_kept, lambda: bare_labels(inputs, workload, warmup, int(cfg.top_k)))
    labels, undecided = stores[0].labels(float(cfg.alpha), blocks.input_ids.shape)
    if len(undecided):
        fill_undecided(labels, undecided, inputs, float(cfg.alpha))
    inputs = stores = None  # the two label models' memory, for the unlearning fine-tunes
    release_memory()
    unlearn = BlockDataset(blocks.input_ids, blocks.attention_mask, labels)
    timings += fastest(
        lambda: framework_fit(workload, unlearn, "unlearn", spec, make_trainer, warmup, seed),
        lambda: bare_fit(workload, unlearn, "unlearn", spec, autocast, warmup, seed),
    )

    peak, peak_source = _peak_tflops(cfg, device, compute)
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "parameters": parameters,
        "blocks": len(blocks),
        "tokens": blocks.tokens,
        "labelled_positions": int((labels != IGNORE).sum()),
        "peak_tflops": peak,
        "peak_source": peak_source,
        "timings": [t.row(peak) for t in timings],
        "overhead": {
            stage: by_path["framework"].seconds / by_path["framework"].tokens / (by_path["bare"].seconds / by_path["bare"].tokens)
            for stage in ("reinforce", "labels", "unlearn")
            for by_path in [{t.path: t for t in timings if t.stage == stage}]
        },
    }
    rates = {t.stage: t.tokens_per_s for t in timings if t.path == "framework"}
    p = cfg.projection
    results["projection_s"] = {
        "reinforce": p.reinforce_epochs * p.corpus_tokens / rates["reinforce"],
        "labels": p.corpus_tokens / rates["labels"],
        "unlearn": p.unlearn_epochs * p.corpus_tokens / rates["unlearn"],
    }
    results["projection_s"]["total"] = sum(results["projection_s"].values())
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "bench.json").write_text(json.dumps(results, indent=1))
    (output_dir / "bench.md").write_text(table(results))
    return results


def table(results: dict) -> str:
    lines = [
        f"device: {results['device']}; {results['parameters'] / 1e6:.1f}M parameters; "
        f"{results['tokens']} tokens in {results['blocks']} blocks; peak {results['peak_tflops']:.3g} TFLOP/s ({results['peak_source']})",
        "",
        "| stage | path | steps | tokens/s | MFU | peak memory GB | time split (bare loop), s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["timings"]:
        split = ", ".join(f"{phase} {seconds:.2f}" for phase, seconds in row["split_s"].items())
        cells = [
            row["stage"],
            row["path"],
            row["steps"],
            f"{row['tokens_per_s']:.0f}",
            f"{row['mfu']:.1%}",
            f"{row['peak_memory_gb']:.2f}",
            split,
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += ["", "framework overhead (time per token, this project / bare loop): "
              + ", ".join(f"{stage} {ratio:.2f}x" for stage, ratio in results["overhead"].items())]  # fmt: skip
    projection = results["projection_s"]
    lines += [
        "the paper's workload (corpus of projection.corpus_tokens: 3 reinforcement epochs, labels, 2 unlearning epochs) at these rates: "
        + ", ".join(f"{stage} {seconds / 60:.1f} min" for stage, seconds in projection.items())
    ]
    return "\n".join(lines) + "\n"


@hydra.main(version_base="1.3", config_path="conf", config_name="bench")
def bench(cfg: DictConfig) -> None:
    try:
        results = run_bench(cfg, Path(HydraConfig.get().runtime.output_dir))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(table(results), end="")


def main() -> None:
    sys.argv.append(RUN_GROUPS)
    bench()


if __name__ == "__main__":
    main()
