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
    # Imported here, not above, and in two steps: torch takes seconds to import, and a typo in
    # an override, --help or --cfg job should answer before that; Lightning and transformers'
    # models take seconds more, so the run is built and checked (components.prepare) first.
    from unlearn.components import prepare
    from unlearn.distributed import start_processes
    from unlearn.report import summary

    output_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        processes = start_processes(cfg.trainer, float(cfg.process_group_timeout_min), HydraConfig.get().overrides.task, str(output_dir))
        try:
            prepared = prepare(cfg, processes)
            from unlearn.pipeline import run

            report = run(cfg, output_dir, processes, prepared)
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
