"""The run, top to bottom: every component built and checked, then the method's stages in order.

target -> baseline -> blocks -> reinforce -> dictionary -> labels -> unlearn -> evaluate -> report

Each stage reuses its artifact from the cache when its key is there (unlearn/stages.py):
changing `labels.alpha` recomputes the labels and the unlearning fine-tune and reuses the
reinforced model. `stages=` picks where a run stops; a stage runs when asked for or when a
stage asked for needs it (unlearn/components.py, planned_stages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from unlearn.components import Components, Prepared, prepare
from unlearn.distributed import Processes
from unlearn.report.render import write_report
from unlearn.settings import build
from unlearn.stages import BlocksArtifact, DictionaryArtifact, LabelsArtifact, ModelArtifact, StageRunner
from unlearn.targets import TargetArtifact
from unlearn.tracking import Tracker
from unlearn.training.trainer import TrainerFactory, flush_denormals, read_losses


@dataclass
class Artifacts:
    """What the training side of a run built, stage by stage (None: the stage did not run)."""

    target: TargetArtifact
    baseline: ModelArtifact
    blocks: BlocksArtifact | None = None
    reinforced: ModelArtifact | None = None
    dictionary: DictionaryArtifact | None = None
    labels: LabelsArtifact | None = None
    unlearned: ModelArtifact | None = None

    def models(self) -> dict[str, ModelArtifact]:
        named = {"baseline": self.baseline, "reinforced": self.reinforced, "unlearned": self.unlearned}
        return {name: model for name, model in named.items() if model is not None}


def run_tracker(cfg: DictConfig, is_main: bool) -> Tracker | None:
    """The run's tracker (`logger`), on rank 0 alone; None with `~logger`."""
    return build(cfg.logger, "logger") if cfg.get("logger") and is_main else None


def stage_runner(cfg: DictConfig, prepared: Prepared, tracker: Tracker | None = None) -> StageRunner:
    """The runner of the stages after the target's, over the prepared run's cache and clock."""
    processes = prepared.cache.processes
    return StageRunner(prepared.cache, TrainerFactory(cfg.trainer, tracker, processes), int(cfg.seed), processes, prepared.clock)


def build_models(cfg: DictConfig, prepared: Prepared, runner: StageRunner | None = None) -> Artifacts:
    """The stages from the baseline to the unlearned model, in the method's order."""
    runner = runner or stage_runner(cfg, prepared)
    parts, target = prepared.parts, prepared.target
    planned, source = parts.stages, parts.model
    built = Artifacts(target, runner.baseline(source, target))
    if "blocks" in planned:
        built.blocks = runner.blocks(source, built.baseline, target, int(cfg.context_length))
    if "reinforce" in planned:
        built.reinforced = runner.reinforce(parts.reinforce, source, built.baseline, built.blocks)
    if "dictionary" in planned:
        per_pass = parts.labels.blocks_per_pass(int(cfg.context_length))
        built.dictionary = runner.dictionary(parts.anchors, target, source, built.baseline, built.blocks, built.reinforced, per_pass)
    if "labels" in planned:
        built.labels = runner.labels(
            parts.labels, source, built.baseline, built.blocks, built.reinforced, built.dictionary, target.files.retain
        )
    if "unlearn" in planned:
        built.unlearned = runner.unlearn(parts.unlearn, source, built.baseline, built.labels, built.blocks, target)
    return built


def run(cfg: DictConfig, output_dir: Path, processes: Processes | None = None, prepared: Prepared | None = None) -> dict[str, Any] | None:
    """The report of the whole run (on rank 0; the other ranks return None once the models are
    built), with the tracker's run opened first and closed however it ends. `prepared`: the
    run already prepared (components.prepare), as `python -m unlearn` does before it imports this."""
    flush_denormals(cfg.trainer)
    prepared = prepared or prepare(cfg, processes)
    tracker = run_tracker(cfg, prepared.cache.processes.is_main)
    runner = stage_runner(cfg, prepared, tracker)
    if tracker is None:
        return _run(cfg, prepared, runner, output_dir, tracker)
    tracker.start(OmegaConf.to_container(cfg, resolve=True))
    succeeded = False
    try:
        report = _run(cfg, prepared, runner, output_dir, tracker)
        succeeded = True
        return report
    finally:
        tracker.finish(succeeded)


def _run(cfg: DictConfig, prepared: Prepared, runner: StageRunner, output_dir: Path, tracker: Tracker | None) -> dict[str, Any] | None:
    parts = prepared.parts
    built = build_models(cfg, prepared, runner)
    if not runner.processes.is_main:
        return None
    models = built.models()
    evaluated: dict[str, Any] = {"models": {name: {} for name in models}}
    if "evaluate" in parts.stages:
        evaluated = runner.evaluate(
            parts.evaluators, parts.evaluation_settings, parts.model, models, built.target, prepared.skipped_evaluators, parts.compare
        )
    report = report_of(parts, runner, built, evaluated)
    figures = write_report(output_dir, report)
    if tracker:
        tracker.log_report(report, figures)
    return report


def report_of(parts: Components, runner: StageRunner, built: Artifacts, evaluated: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = {"target": built.target.files.name, **evaluated, "timings_s": runner.clock.seconds,
                              "stage_peak_rss_gb": runner.clock.peak_gb, "cache": runner.cache.used}  # fmt: skip
    terms = parts.objective.terms(report["models"])
    report["objective"] = terms["objective"] if terms else None
    report["objective_terms"] = terms
    report["objective_metrics"] = parts.objective.metrics(report["models"]) if terms else None
    losses = {name: read_losses(model.ref) for name, model in built.models().items()}
    report["losses"] = {name: curve for name, curve in losses.items() if curve}
    if built.labels is not None:
        report["labels"] = json.loads((built.labels.folder / "stats.json").read_text())
    return report
