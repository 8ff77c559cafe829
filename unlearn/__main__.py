"""`python -m unlearn`: compose the configuration with Hydra and run it, in as many processes as `trainer` asks for."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from unlearn.errors import UserError


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> None:
    # Imported here, not above: torch and Lightning take seconds to import, and a typo in an
    # override, --help or --cfg job should answer before that.
    from unlearn.distributed import start_processes
    from unlearn.pipeline import run
    from unlearn.report import summary

    output_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        processes = start_processes(cfg.trainer, float(cfg.process_group_timeout_min), HydraConfig.get().overrides.task, str(output_dir))
        try:
            report = run(cfg, output_dir, processes)
        except BaseException:
            processes.abort()
            raise
        processes.finish()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if report is not None:
        print(summary(report))
        print(f"run folder: {output_dir}")


if __name__ == "__main__":
    main()
