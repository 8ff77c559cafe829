"""`python -m unlearn`: compose the configuration with Hydra and run it."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from unlearn.errors import UserError
from unlearn.pipeline import run
from unlearn.report import summary


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        report = run(cfg, output_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(summary(report))
    print(f"run folder: {output_dir}")


if __name__ == "__main__":
    main()
