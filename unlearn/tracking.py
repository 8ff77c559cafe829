"""Experiment tracking (config group `logger`): one tracker per run.

A tracker gives each fine-tune stage a Lightning logger, receives the run's resolved
configuration at the start and its report at the end, and is finished once, whether the
run succeeded or not, so that the next job of a multirun starts a run of its own. Only
rank 0 talks to the tracking service; Lightning's loggers already keep to rank 0.
"""

from __future__ import annotations

import logging
import netrc
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from unlearn.report import metric_names

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

log = logging.getLogger(__name__)

SECRET = re.compile(r"api_?key|token|secret|password|credential", re.IGNORECASE)
REDACTED = "<redacted>"


class Tracker(Protocol):
    def start(self, config: dict[str, Any]) -> None:
        """Open the run with the resolved configuration (secrets already removed)."""
        ...

    def stage_logger(self, stage: str) -> Logger:
        """The Lightning logger for one fine-tune stage's training curves."""
        ...

    def log_report(self, report: dict[str, Any], figures: list[Path]) -> None: ...

    def finish(self, succeeded: bool) -> None: ...


def redact_secrets(config: Any) -> Any:
    """`config` with the value of every key that names a secret replaced, at any depth."""
    if isinstance(config, dict):
        return {k: REDACTED if SECRET.search(str(k)) else redact_secrets(v) for k, v in config.items()}
    if isinstance(config, list):
        return [redact_secrets(v) for v in config]
    return config


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Every metric as `<model>/<metric>`, plus the sweep objective when the run has one."""
    metrics = {f"{model}/{name}": value for model, values in report["models"].items() for name, value in values.items()}
    if report.get("objective") is not None:
        metrics["objective"] = report["objective"]
    return metrics


def report_table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    models = list(report["models"])
    rows = [[name, *(report["models"][m].get(name) for m in models)] for name in metric_names(report)]
    return ["metric", *models], rows


@dataclass
class FolderTracker:
    """Loggers that write into the run folder, one log per stage (CSV, TensorBoard). The
    resolved configuration is already there, in .hydra/config.yaml."""

    logger: Callable[..., Logger]

    def start(self, config: dict[str, Any]) -> None:
        pass

    def stage_logger(self, stage: str) -> Logger:
        return self.logger(name=stage)

    def log_report(self, report: dict[str, Any], figures: list[Path]) -> None:
        logger = self.logger(name="evaluate")
        logger.log_metrics(report_metrics(report))
        logger.save()
        logger.finalize("success")

    def finish(self, succeeded: bool) -> None:
        pass


def wandb_credentials_present() -> bool:
    """Whether W&B could log in without asking: a key in the environment or in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


@dataclass
class WandbTracker:
    """One W&B run per unlearning run: each stage's curves under its own prefix, then the
    report's metrics, table and figures, and `objective` in the summary for sweeps."""

    project: str
    save_dir: str
    entity: str | None = None
    group: str | None = None
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    mode: str | None = None
    _run: Any = field(default=None, init=False, repr=False)

    def resolved_mode(self) -> str:
        """The configured mode; else WANDB_MODE; else online with credentials, offline without."""
        if self.mode:
            return self.mode
        if os.environ.get("WANDB_MODE"):
            return os.environ["WANDB_MODE"]
        return "online" if wandb_credentials_present() else "offline"

    def start(self, config: dict[str, Any]) -> None:
        import wandb

        mode = self.resolved_mode()
        Path(self.save_dir).mkdir(parents=True, exist_ok=True)
        self._run = wandb.init(
            project=self.project,
            entity=self.entity,
            group=self.group,
            name=self.name,
            tags=list(self.tags),
            mode=mode,
            dir=self.save_dir,
            config=redact_secrets(config),
        )
        self._run.define_metric("trainer/global_step")
        self._run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
        if mode == "offline":
            log.warning(
                "W&B: no credentials found, so this run is logged offline in %s; upload it later with "
                "`wandb sync %s/wandb/offline-run-*` (or `wandb login` before running)",
                self.save_dir,
                self.save_dir,
            )

    def stage_logger(self, stage: str) -> Logger:
        from pytorch_lightning.loggers import WandbLogger

        return WandbLogger(experiment=self._run, prefix=stage)

    def log_report(self, report: dict[str, Any], figures: list[Path]) -> None:
        import wandb

        columns, rows = report_table(report)
        self._run.log(
            {
                **report_metrics(report),
                "report/table": wandb.Table(columns=columns, data=rows),
                **{f"report/{figure.stem}": wandb.Image(str(figure)) for figure in figures},
            }
        )
        if report.get("objective") is not None:
            self._run.summary["objective"] = report["objective"]

    def finish(self, succeeded: bool) -> None:
        if self._run is not None:
            self._run.finish(exit_code=0 if succeeded else 1)
            self._run = None
