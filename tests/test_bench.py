"""`python -m unlearn.bench`: every stage timed through the framework and the bare loop, with the ratios and the projection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import unlearn_cli
from unlearn.bench.config import compose_bench_config
from unlearn.errors import UserError

SMALL = ["tokens=6000", "warmup_steps=1", "steps=3", "bench_model.architecture.num_hidden_layers=2", "+trainer.enable_progress_bar=false"]


def _bench_config(overrides: list[str], tmp_path: Path):
    return compose_bench_config([f"paths.cache_dir={tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'out'}", *overrides])


@pytest.mark.parametrize("option", ["toy", "llama2_7b"])
def test_every_bench_model_composes(option, tmp_path):
    cfg = _bench_config([f"bench_model={option}", "trainer=gpu"], tmp_path)
    OmegaConf.resolve(cfg)
    assert cfg.bench_model.architecture.hidden_size in (192, 4096)


def test_bench_times_every_stage_both_ways(tmp_path):
    from unlearn.bench.__main__ import run_bench

    results = run_bench(_bench_config([*SMALL, "peak_tflops=1.0"], tmp_path), tmp_path / "out")
    rows = {(row["stage"], row["path"]): row for row in results["timings"]}
    assert set(rows) == {(stage, path) for stage in ("reinforce", "labels", "unlearn") for path in ("framework", "bare")}
    for (stage, _), row in rows.items():
        assert row["steps"] == (3 if stage != "labels" else 4) and row["tokens"] > 0 and row["seconds"] > 0
        assert row["mfu"] == pytest.approx(row["tokens_per_s"] * row["flops_per_token"] / 1e12), "MFU against the given peak"
    assert set(rows["reinforce", "bare"]["split_s"]) == {"data", "forward", "backward", "optimizer"}
    assert all(ratio > 0 for ratio in results["overhead"].values())
    assert results["labelled_positions"] > 0
    assert results["projection_s"]["total"] == pytest.approx(sum(v for k, v in results["projection_s"].items() if k != "total"))
    assert json.loads((tmp_path / "out" / "bench.json").read_text())["overhead"] == results["overhead"]
    assert "framework overhead" in (tmp_path / "out" / "bench.md").read_text()


def test_bench_command_prints_the_table(tmp_path):
    done = unlearn_cli(
        *SMALL, f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'out'}", cwd=Path.cwd(), module="unlearn.bench"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| reinforce | bare |" in done.stdout and (tmp_path / "out" / "bench.json").is_file()


def test_bench_without_enough_tokens_says_which_key(tmp_path):
    from unlearn.bench.__main__ import run_bench

    with pytest.raises(UserError, match=r"tokens=10 "):
        run_bench(_bench_config(["tokens=10"], tmp_path), tmp_path / "out")


@pytest.mark.parametrize("pack", [False, True])
def test_packed_documents_fill_every_block_but_the_last(pack, tmp_path):
    """bench_model.pack_documents cuts the corpus as a book is cut (the Llama-2-7b bench's
    512-token blocks); without it each toy document is a short block of its own."""
    from unlearn.bench.workload import build_workload
    from unlearn.cache import StageCache
    from unlearn.settings import build
    from unlearn.targets import prepare_target

    cfg = _bench_config([f"bench_model.pack_documents={pack}"], tmp_path)
    files = prepare_target(build(cfg.target, "target"), StageCache(tmp_path / "cache")).files
    bench_model = {**OmegaConf.to_container(cfg.bench_model), "context_length": 128}
    lengths = build_workload(files, bench_model, 3000, torch.device("cpu")).blocks.attention_mask.sum(-1)
    assert lengths.sum() >= 3000
    if pack:
        assert (lengths[:-1] == 128).all()
    else:
        assert (lengths < 128).float().mean() > 0.9
