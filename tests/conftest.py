"""Shared test setup: offline hubs, a tiny world and model, Hydra composition helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig

from unlearn.config import compose_config as compose_run_config

# One torch thread per test process (inherited by the commands tests start): the tiny models
# gain little from a second one, the suite runs two worker processes (pyproject.toml's -n 2),
# and on a 2-core machine two processes each spinning two OpenMP threads slowed the suite
# several times over.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


# A world of 4 people per side, each fact told 12 times, and a ~200K-parameter Llama:
# learns in about 30 s.
TINY_WORLD = [
    "target.n_people=4",
    "target.n_entities={home:3,group:2,pet:3,mentor:2,item:3,skill:3}",
    "target.heldout_reps=1",
    "target.alternatives_per_anchor=2",
    "target.reps=12",
    "target.retain_reps=null",  # the retain world told as often as the target
    "evaluator=default",  # every evaluator, also the two the toy world's own list leaves out
]
TINY = [
    *TINY_WORLD,
    "model.context_length=64",
    "model.tokenizer.vocab_size=512",
    "model.architecture.hidden_size=96",
    "model.architecture.intermediate_size=256",
    "model.architecture.num_hidden_layers=2",
    "model.architecture.num_attention_heads=4",
    "model.architecture.num_key_value_heads=4",
    "model.pretrain.epochs=40",
    "model.pretrain.lr=3e-3",
    "+trainer.enable_progress_bar=false",
]


# Subprocesses get a wall-clock limit only as a guard against a hang: an hour, far beyond what any
# of them takes on the slowest, busiest machine seen (a tiny command ran past 5 minutes there). A test
# never asserts how fast something runs.
HANG_GUARD_S = 3600


def compose_config(overrides: list[str], tmp_path: Path) -> DictConfig:
    """The run's configuration as `python -m unlearn <overrides>` would compose it, writing under tmp_path."""
    return compose_run_config([f"paths.cache_dir={tmp_path / 'cache'}", f"paths.output_dir={tmp_path / 'run'}", *overrides])


def unlearn_cli(*args: str, cwd: Path, env: dict | None = None, module: str = "unlearn") -> subprocess.CompletedProcess:
    """`python -m unlearn ARGS` (or another of the project's commands) run from `cwd`, as a user would."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_GUARD_S, env=env)


def copy_cache(tiny_run: tuple[DictConfig, dict], tmp_path: Path, stages: list[str]) -> Path:
    """A cache holding the tiny run's outputs of `stages` only: a test rebuilds the rest from them."""
    cfg, _ = tiny_run
    cache = tmp_path / "cache"
    for stage in stages:
        shutil.copytree(Path(cfg.paths.cache_dir) / stage, cache / stage)
    return cache


def stage_runner(cache_root: Path):
    """A stage runner over `cache_root` for the stages that train nothing (the dictionary)."""
    from unlearn.cache import StageCache
    from unlearn.clock import StageClock
    from unlearn.distributed import Processes
    from unlearn.stages import StageRunner

    return StageRunner(StageCache(cache_root), None, 0, Processes(), StageClock())


def target_files(target_node: DictConfig, cache_root: Path):
    """A target's files, written into a cache at `cache_root` as the target stage writes them."""
    from unlearn.cache import StageCache
    from unlearn.settings import build
    from unlearn.targets import prepare_target

    return prepare_target(build(target_node, "target"), StageCache(cache_root)).files


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[DictConfig, dict]:
    """A tiny toy world and baseline, built once for the session, and its report."""
    from unlearn.pipeline import run

    folder = tmp_path_factory.mktemp("tiny")
    cfg = compose_config(TINY, folder)
    return cfg, run(cfg, folder / "run")
