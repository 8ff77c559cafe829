"""The bench's configuration: its own folder (unlearn/bench/conf), which borrows the run's
groups it shares (paths, trainer, target) from conf/ through Hydra's search path, so that
the run's conf/ holds only the run's groups."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from unlearn.config import CONF_DIR

BENCH_CONF_DIR = Path(__file__).resolve().parent / "conf"
RUN_GROUPS = f"hydra.searchpath=[file://{CONF_DIR}]"


def compose_bench_config(overrides: list[str]) -> DictConfig:
    """What `python -m unlearn.bench OVERRIDES` composes (set paths.output_dir: there is no run folder here)."""
    with initialize_config_dir(config_dir=str(BENCH_CONF_DIR), version_base="1.3"):
        return compose(config_name="bench", overrides=[RUN_GROUPS, *overrides])
