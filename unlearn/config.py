"""The run configuration outside `python -m unlearn`: for experiment scripts, tests and notebooks."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: list[str]) -> DictConfig:
    """What `python -m unlearn OVERRIDES` composes. There is no Hydra run folder here, so
    the overrides must set paths.output_dir."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)
