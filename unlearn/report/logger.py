"""Sending the report to the run's logger: metrics always, tables and images where the logger takes them (W&B)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig

from unlearn.report import metric_names


def log_report(logger_cfg: DictConfig | None, report: dict[str, Any], figures: list[Path]) -> None:
    if not logger_cfg:
        return
    logger = instantiate(logger_cfg, name="evaluate")
    logger.log_metrics({f"{model}/{name}": value for model, metrics in report["models"].items() for name, value in metrics.items()})
    if hasattr(logger, "log_table"):
        models = list(report["models"])
        rows = [[name, *(report["models"][m].get(name) for m in models)] for name in metric_names(report)]
        logger.log_table(key="metrics", columns=["metric", *models], data=rows)
    if hasattr(logger, "log_image"):
        for figure in figures:
            logger.log_image(key=figure.stem, images=[str(figure)])
    logger.save()
    logger.finalize("success")
