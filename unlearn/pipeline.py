"""The run: target -> baseline -> reinforce -> labels -> unlearn -> evaluate.

Each stage is computed at most once per run, when first needed, and cached on disk by a
key of the configuration it depends on and its inputs' keys: changing `labels.alpha`
recomputes the labels and the unlearning fine-tune and reuses the reinforced model.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from unlearn.anchors import AnchorSource, alignment
from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.anchors.gain import ReinforcedGain, next_token_gain
from unlearn.cache import StageCache, cache_key
from unlearn.distributed import Processes, world_size
from unlearn.errors import UserError
from unlearn.evaluation import Measurement, NotApplicable
from unlearn.labels import LabelGenerator
from unlearn.labels.candidates import CANDIDATES_FILE, CandidateStore
from unlearn.labels.generate import IGNORE, LabelInputs, generic_labels
from unlearn.models import BaselineSource, release_memory
from unlearn.reinforce import ModelAdapter, Reinforcement
from unlearn.report import write_report
from unlearn.report.objective import Objective
from unlearn.targets import Target, TargetFiles
from unlearn.targets.files import read_documents
from unlearn.tracking import Tracker
from unlearn.training.data import BlockDataset, Blocks, make_blocks
from unlearn.training.module import FitSpec
from unlearn.training.trainer import TrainerFactory, fit, read_losses, save_trained

log = logging.getLogger(__name__)

STAGES = ("reinforce", "labels", "unlearn", "evaluate")
LABELS_FILE = "labels.safetensors"


class StageClock:
    """Seconds per stage, exclusive of the stages it triggered (a stage's inputs are timed as their own)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._inner: list[float] = []

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        log.info("stage %s", stage)
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            inner = self._inner.pop()
            self.seconds[stage] = round(self.seconds.get(stage, 0.0) + elapsed - inner, 3)
            if self._inner:
                self._inner[-1] += elapsed


def check_config(cfg: DictConfig) -> None:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UserError(f"missing mandatory value {missing[0]}: set it on the command line, e.g. {missing[0]}=<value>")
    unknown = [stage for stage in cfg.stages if stage not in STAGES]
    if unknown:
        raise UserError(f"stages={list(cfg.stages)} names unknown stage {unknown[0]!r}; choose from {list(STAGES)}")


def build(node: DictConfig) -> Any:
    """Instantiate a component, letting a UserError raised while building reach the user as itself."""
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as err:
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise


class Pipeline:
    """Every process of a run runs the pipeline; rank 0 alone evaluates, reports and tracks."""

    def __init__(self, cfg: DictConfig, output_dir: Path, processes: Processes | None = None):
        check_config(cfg)
        self.cfg = cfg
        self.output_dir = output_dir
        self.seed = int(cfg.seed)
        self.processes = processes or Processes()
        if world_size(cfg.trainer) != self.processes.world_size:
            raise UserError(
                f"trainer asks for {world_size(cfg.trainer)} processes: start the run as `python -m unlearn trainer=...` "
                "(or under torchrun or srun), not from Python"
            )
        self.cache = StageCache(Path(cfg.paths.cache_dir), self.processes)
        self.clock = StageClock()
        self.tracker: Tracker | None = build(cfg.logger) if cfg.get("logger") and self.processes.is_main else None
        self.make_trainer = TrainerFactory(cfg.trainer, self.tracker, self.processes)
        self.source: BaselineSource = build(cfg.model)
        self.label_generator: LabelGenerator = build(cfg.labels)
        self.reinforcement: Reinforcement = build(cfg.reinforce)
        if self.label_generator.needs_reinforced and not self.reinforcement.provides_model:
            raise UserError(
                "labels need a reinforced model and reinforce=none gives none; use labels=anchored_only or another reinforce option"
            )
        if hasattr(self.reinforcement, "unwrap") and OmegaConf.select(cfg, "trainer.strategy._partial_"):
            raise UserError(
                "reinforce=lora merges adapters into the weights one process holds whole; with trainer.strategy sharding "
                "them (fsdp, deepspeed) use reinforce=finetune, or trainer=ddp"
            )

    def _settings(self, group: str) -> dict:
        return OmegaConf.to_container(self.cfg[group], resolve=True)

    @cached_property
    def target(self) -> TargetFiles:
        with self.clock("target"):
            target: Target = build(self.cfg.target)
            return target.files(self.cache)

    @cached_property
    def baseline(self) -> str:
        target = self.target
        with self.clock("baseline"):
            return self.source.baseline(target, self.cache, self.make_trainer, self.seed)

    @cached_property
    def baseline_key(self) -> str:
        return cache_key("baseline", {"model": self._settings("model"), "seed": self.seed}, [self.target.key])

    @cached_property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.source.load_tokenizer(self.baseline)

    @cached_property
    def blocks(self) -> Blocks:
        baseline = self.baseline
        with self.clock("blocks"):
            context_length = int(self.cfg.context_length)
            positions = self.source.max_positions(baseline)
            if context_length > positions:
                raise UserError(
                    f"context_length={context_length} exceeds the model's {positions} positions; set context_length<={positions}"
                )
            documents = [d for d in read_documents(self.target.corpus) if d.strip()]
            blocks = make_blocks(self.tokenizer, documents, context_length)
            log.info("target corpus: %d documents, %d blocks, %d tokens", len(documents), len(blocks), blocks.tokens)
            return blocks

    @cached_property
    def blocks_key(self) -> str:
        return cache_key("blocks", {"context_length": int(self.cfg.context_length)}, [self.target.key, self.baseline_key])

    def _finetune(self, dataset: BlockDataset, spec: FitSpec, stage: str, key: str, adapter: ModelAdapter | None = None) -> Path:
        """The baseline fine-tuned on `dataset` by every process, saved by rank 0 (cached by `key`)."""

        def train(out: Path) -> None:
            model, tokenizer = self.source.load(self.baseline, training=True)
            if adapter is not None:
                model = adapter.wrap(model)
            result = fit(model, dataset, spec, self.make_trainer, stage, self.seed, self.cache.progress_dir(stage, key))
            if adapter is not None:
                model = adapter.unwrap(model)
            save_trained(result, model, tokenizer, out)
            del model
            release_memory()

        return self.cache.fetch(stage, key, train, collective=True)

    def finetune_on_target(self, stage: str, spec: FitSpec, settings: dict, adapter: ModelAdapter | None = None) -> str:
        blocks = self.blocks
        key = cache_key(stage, {"settings": settings, "seed": self.seed}, [self.blocks_key])
        return str(self._finetune(BlockDataset.next_tokens(blocks), spec, stage, key, adapter))

    @cached_property
    def reinforced(self) -> str | None:
        with self.clock("reinforce"):
            reinforced = self.reinforcement.reinforced(self)
            if reinforced is not None and self.source.load_tokenizer(reinforced).get_vocab() != self.tokenizer.get_vocab():
                raise UserError(
                    f"the reinforced model {reinforced} has a tokenizer that differs from the baseline's "
                    f"({self.baseline}); reinforce.path must point at a model fine-tuned from the same baseline"
                )
            return reinforced

    @cached_property
    def reinforced_key(self) -> str:
        return cache_key("reinforced", {"reinforce": self._settings("reinforce"), "seed": self.seed}, [self.blocks_key])

    @cached_property
    def dictionary(self) -> AnchorDictionary | None:
        if not self.label_generator.translates:
            return None
        anchors: AnchorSource = build(self.cfg.anchors)
        if not anchors.needs_reinforced:
            return anchors.dictionary(self.target, self.cache)
        if not self.reinforcement.provides_model:
            raise UserError(
                "anchors.reinforced_terms reads the reinforced model, which reinforce=none does not give; set anchors.reinforced_terms=0"
            )
        _ = self.reinforced  # every process builds it together; rank 0 alone reads it for the dictionary
        return anchors.dictionary(self.target, self.cache, ReinforcedGain(self.reinforced_key, self._next_token_gain))

    def _next_token_gain(self) -> tuple[torch.Tensor, PreTrainedTokenizerBase]:
        baseline, tokenizer = self.source.load(self.baseline)
        reinforced = self.source.load(self.reinforced)[0]
        gain = next_token_gain(baseline, reinforced, self.blocks, self.label_generator.batch_size)
        del baseline, reinforced
        release_memory()
        return gain, tokenizer

    def _label_inputs(self) -> LabelInputs:
        """The models label generation reads, loaded now; drop the result and call release_memory after."""
        baseline, tokenizer = self.source.load(self.baseline)
        reinforced = self.source.load(self.reinforced)[0] if self.label_generator.needs_reinforced else None
        return LabelInputs(self.blocks, self.label_generator, baseline, reinforced, tokenizer, self.dictionary, self.seed)

    def _write_candidates(self, out: Path) -> None:
        inputs = self._label_inputs()
        store = CandidateStore.collect(inputs, self.label_generator.top_k, self.processes)
        if store is not None:
            store.save(out / CANDIDATES_FILE)
        del inputs
        release_memory()

    @cached_property
    def candidates_key(self) -> str:
        """Everything the labels depend on except alpha, which the candidate store leaves open."""
        inputs = [self.blocks_key, self.reinforced_key]
        settings = {k: v for k, v in self._settings("labels").items() if k != "alpha"}
        dictionary = self.dictionary.fingerprint if self.dictionary else None
        spec = {"labels": settings, "dictionary": dictionary, "alignment": alignment.REVISION, "seed": self.seed}
        return cache_key("candidates", spec, inputs)

    @cached_property
    def candidates(self) -> CandidateStore:
        key = self.candidates_key
        with self.clock("candidates"):
            return CandidateStore.load(self.cache.fetch("candidates", key, self._write_candidates, collective=True) / CANDIDATES_FILE)

    def _compute_labels(self) -> tuple[torch.Tensor | None, dict[str, float]]:
        """The labels (on rank 0; None on the others), and how they were computed."""
        if not self.label_generator.uses_candidates:
            inputs = self._label_inputs()
            labels = generic_labels(inputs, self.processes)
            del inputs
            release_memory()
            return labels, {}
        store = self.candidates  # every process takes part in collecting them; rank 0 alone decides labels from them
        if not self.processes.is_main:
            return None, {}
        labels, stats = store.labels(self.label_generator.alpha, self.blocks.input_ids.shape, self._label_inputs)
        if stats["recomputed_batches"]:
            release_memory()
        return labels, stats

    def _write_labels(self, out: Path) -> None:
        labels, stats = self._compute_labels()
        if labels is None:
            return
        save_file({"input_ids": self.blocks.input_ids, "attention_mask": self.blocks.attention_mask, "labels": labels}, out / LABELS_FILE)
        labelled = labels != IGNORE
        changed = labelled & (labels != self.blocks.input_ids)
        stats = {
            "labelled_fraction": float(labelled.sum() / self.blocks.attention_mask[:, 1:].sum()),
            "changed_fraction": float(changed.sum() / labelled.sum().clamp(min=1)),
            **stats,
        }
        (out / "stats.json").write_text(json.dumps(stats, indent=1))

    @cached_property
    def labels_key(self) -> str:
        if self.label_generator.uses_candidates:
            return cache_key("labels", {"alpha": self.label_generator.alpha}, [self.candidates_key])
        inputs = [self.blocks_key, self.reinforced_key if self.label_generator.needs_reinforced else "no-reinforced"]
        dictionary = self.dictionary.fingerprint if self.dictionary else None
        spec = {"labels": self._settings("labels"), "dictionary": dictionary, "alignment": alignment.REVISION, "seed": self.seed}
        return cache_key("labels", spec, inputs)

    @cached_property
    def labels(self) -> Path:
        key = self.labels_key
        with self.clock("labels"):
            return self.cache.fetch("labels", key, self._write_labels, collective=True)

    @cached_property
    def unlearned(self) -> str:
        labels_folder = self.labels
        with self.clock("unlearn"):
            spec: FitSpec = build(self.cfg.unlearn)
            key = cache_key("unlearn", {"unlearn": self._settings("unlearn"), "seed": self.seed}, [self.labels_key, self.baseline_key])
            tensors = load_file(labels_folder / LABELS_FILE)
            dataset = BlockDataset(tensors["input_ids"], tensors["attention_mask"], tensors["labels"])
            return str(self._finetune(dataset, spec, "unlearn", key))

    def models(self) -> dict[str, str]:
        """The models this run's stages produced, by name, baseline first."""
        stages = set(self.cfg.stages)
        models = {"baseline": self.baseline}
        if stages & {"reinforce", "labels", "unlearn"} and self.label_generator.needs_reinforced and self.reinforced:
            models["reinforced"] = self.reinforced
        if "labels" in stages:
            _ = self.labels
        if "unlearn" in stages:
            models["unlearned"] = self.unlearned
        return models

    def evaluate(self, models: dict[str, str]) -> dict[str, Any]:
        """Every evaluator on every model: metrics, their sides and detail tables, by model. An
        evaluator whose target file is missing is skipped, with a warning and a line in `skipped`."""
        evaluators = {name: build(spec) for name, spec in self.cfg.evaluator.items()}
        metrics: dict[str, dict[str, float]] = {}
        sides: dict[str, str] = {}
        details: dict[str, dict[str, list[dict]]] = {}
        skipped: dict[str, str] = {}
        with self.clock("evaluate"):
            for model_name, ref in models.items():
                model, tokenizer = self.source.load(ref)
                metrics[model_name], details[model_name] = {}, {}
                for name, evaluator in evaluators.items():
                    if name in skipped:
                        continue
                    log.info("evaluating %s with %s", model_name, name)
                    try:
                        measured: Measurement = evaluator.evaluate(model, tokenizer, self.target)
                    except NotApplicable as reason:
                        log.warning("skipping evaluator.%s: %s", name, reason)
                        skipped[name] = str(reason)
                        continue
                    metrics[model_name].update(measured.metrics)
                    sides.update(measured.sides)
                    details[model_name].update(measured.tables)
                del model
                release_memory()
        return {"models": metrics, "sides": sides, "details": details, "skipped": skipped}

    def report(self) -> dict[str, Any]:
        models = self.models()
        evaluated = self.evaluate(models) if "evaluate" in self.cfg.stages else {"models": {name: {} for name in models}}
        report: dict[str, Any] = {"target": self.target.name, **evaluated, "timings_s": self.clock.seconds, "cache": self.cache.used}
        objective: Objective = build(self.cfg.objective)
        terms = objective.terms(report["models"])
        report["objective"] = terms["objective"] if terms else None
        report["objective_terms"] = terms
        report["objective_metrics"] = objective.metrics(report["models"]) if terms else None
        losses = {stage: read_losses(ref) for stage, ref in models.items()}
        report["losses"] = {stage: curve for stage, curve in losses.items() if curve}
        if "labels" in self.cache.used:
            report["labels"] = json.loads((self.labels / "stats.json").read_text())
        figures = write_report(self.output_dir, report)
        if self.tracker:
            self.tracker.log_report(report, figures)
        return report

    def run(self) -> dict[str, Any] | None:
        """The report of the whole run, with the tracker's run opened first and closed however it
        ends; the other ranks stop once the models are built (None)."""
        if not self.processes.is_main:
            self.models()
            return None
        if self.tracker is None:
            return self.report()
        self.tracker.start(OmegaConf.to_container(self.cfg, resolve=True))
        succeeded = False
        try:
            report = self.report()
            succeeded = True
            return report
        finally:
            self.tracker.finish(succeeded)


def run(cfg: DictConfig, output_dir: Path, processes: Processes | None = None) -> dict[str, Any] | None:
    return Pipeline(cfg, output_dir, processes).run()
