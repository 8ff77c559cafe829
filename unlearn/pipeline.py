"""The run: each stage reads its inputs, is cached by its key, and adds to one report."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from unlearn.cache import StageCache
from unlearn.errors import UserError
from unlearn.models import BaselineSource
from unlearn.report import write_report
from unlearn.targets import Target
from unlearn.training.trainer import TrainerFactory

log = logging.getLogger(__name__)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    log.info("stage %s", stage)
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)


def check_config(cfg: DictConfig) -> None:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UserError(f"missing mandatory value {missing[0]}: set it on the command line, e.g. {missing[0]}=<value>")


def run(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Build (or reuse) the baseline for the target, evaluate it, and write the report."""
    check_config(cfg)
    cache = StageCache(Path(cfg.paths.cache_dir))
    timings: dict[str, float] = {}

    with _timed(timings, "target"):
        target: Target = instantiate(cfg.target, _convert_="all")
        files = target.files(cache)
    with _timed(timings, "baseline"):
        source: BaselineSource = instantiate(cfg.model, _convert_="all")
        make_trainer = TrainerFactory(cfg.trainer, cfg.get("logger"))
        model, tokenizer = source.load(source.baseline(files, cache, make_trainer, cfg.seed))
    with _timed(timings, "evaluate"):
        metrics: dict[str, float] = {}
        for name, spec in cfg.evaluator.items():
            log.info("evaluator %s", name)
            metrics.update(instantiate(spec, _convert_="all").evaluate(model, tokenizer, files))

    report = {
        "target": files.name,
        "models": {"baseline": metrics},
        "timings_s": timings,
        "cache": cache.used,
    }
    write_report(output_dir, report)
    return report
