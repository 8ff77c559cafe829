"""Every component of a run, built from the configuration and checked together before any stage.

A run that would fail on a typo, a missing file or an impossible combination fails here,
in seconds, naming the key: nothing is trained, loaded or written to the cache first.
Checks that need a model read only its configuration (positions, vocabulary). `prepare`
then runs the target stage, which only writes text files, and checks the target's files
(`check_target`), still before any model is loaded. Nothing imported here imports Lightning
or transformers' models, whose import alone takes seconds: the training side
(unlearn/stages.py) is imported once the run is known to be sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from unlearn.anchors import AnchorSource
from unlearn.baselines import BaselineMethod
from unlearn.cache import StageCache
from unlearn.clock import StageClock
from unlearn.distributed import Processes, world_size
from unlearn.errors import UserError
from unlearn.evaluation import Evaluator, NotApplicable
from unlearn.evaluation.relearn import RelearningAttack
from unlearn.files import no_text, read_documents
from unlearn.inference_whp import InferenceTimeWHP
from unlearn.labels import LabelGenerator
from unlearn.models import BaselineSource, PretrainedModel
from unlearn.reinforce import FinetuneReinforcement, ReinforcedFromPath, Reinforcement
from unlearn.report.objective import Objective
from unlearn.settings import build, check
from unlearn.targets import Target, TargetArtifact, TargetFiles, prepare_target
from unlearn.training.sharding import ModelStrategy
from unlearn.training.spec import FitSpec

# The stages of the method, in the order a run goes through them; one vocabulary for
# `stages=`, the report's timings and the cache's folders.
STAGES = ("target", "baseline", "blocks", "reinforce", "dictionary", "labels", "unlearn", "evaluate", "report")


@dataclass
class Components:
    target: Target
    model: BaselineSource
    reinforce: Reinforcement
    anchors: AnchorSource | None
    labels: LabelGenerator
    unlearn: FitSpec
    evaluators: dict[str, Evaluator]
    objective: Objective
    stages: frozenset[str]
    compare: dict[str, InferenceTimeWHP] = field(default_factory=dict)
    evaluation_settings: dict[str, Any] = field(default_factory=dict)  # `evaluator`, resolved: part of an evaluation's cache key


@dataclass
class Prepared:
    """A run whose components are built and checked, with its target's files in the cache."""

    parts: Components
    cache: StageCache
    clock: StageClock
    target: TargetArtifact
    skipped_evaluators: dict[str, str]


def planned_stages(
    requested: list[str], labels: LabelGenerator, anchors: AnchorSource | None, reinforce: Reinforcement = None, compare: bool = False,
    unlearn: FitSpec | None = None,
) -> frozenset[str]:  # fmt: skip
    """The stages a run goes through: those asked for, and those they need (a source that
    may read the reinforced model gets it when the run can build one; comparison models,
    evaluated, are built from it; a baseline method unlearns from the blocks alone)."""
    stages = {"target", "baseline", "report", *requested}
    if "evaluate" in stages and compare:
        stages.add("reinforce")
    if "unlearn" in stages:
        stages.add("blocks" if isinstance(unlearn, BaselineMethod) else "labels")
    if "labels" in stages and labels.translate:
        stages.add("dictionary")
    if "labels" in stages and labels.reads_reinforced:
        stages.add("reinforce")
    if "dictionary" in stages and anchors is not None and (anchors.gain_terms or (anchors.reads_reinforced and reinforce is not None)):
        stages.add("reinforce")
    if stages & {"reinforce", "dictionary", "labels"}:
        stages.add("blocks")
    return frozenset(stages)


def _check_run_settings(cfg: DictConfig, processes: Processes) -> None:
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UserError(f"missing mandatory value {missing[0]}: set it on the command line, e.g. {missing[0]}=<value>")
    unknown = [stage for stage in cfg.stages if stage not in STAGES]
    if unknown:
        raise UserError(f"stages={list(cfg.stages)} names unknown stage {unknown[0]!r}; choose from {list(STAGES)}")
    for key, least in (("seed", 0), ("context_length", 2)):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise UserError(f"{key}={value} must be an integer >= {least}")
    timeout = cfg.process_group_timeout_min
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise UserError(f"process_group_timeout_min={timeout} must be a number of minutes > 0")
    if world_size(cfg.trainer) != processes.world_size:
        raise UserError(
            f"trainer asks for {world_size(cfg.trainer)} processes: start the run as `python -m unlearn trainer=...` "
            "(or under torchrun or srun), not from Python"
        )


def _check_combination(cfg: DictConfig, parts: Components, processes: Processes) -> None:
    reinforce, labels = parts.reinforce, parts.labels
    if labels.reads_reinforced and reinforce is None:
        raise UserError(
            f"labels.alpha={labels.alpha} reads a reinforced model and reinforce=none gives none; "
            "use labels=anchored_only (alpha 0) or another reinforce option"
        )
    if parts.anchors is not None and parts.anchors.gain_terms and reinforce is None:
        raise UserError(
            f"anchors.reinforced_terms={parts.anchors.gain_terms} reads the reinforced model, which reinforce=none does not give; "
            "set anchors.reinforced_terms=0"
        )
    if parts.compare and reinforce is None:
        raise UserError(
            f"compare={sorted(parts.compare)} reads the reinforced model, which reinforce=none does not build; choose one or compare=[]"
        )
    if "reinforce" in cfg.stages and reinforce is None:
        raise UserError("stages names reinforce, and reinforce=none builds no reinforced model; drop it from stages or choose one")
    strategy = cfg.trainer.get("strategy")
    sharded = isinstance(strategy, DictConfig) and isinstance(build(strategy, "trainer.strategy"), ModelStrategy)
    schedules = {"unlearn": parts.unlearn}
    if isinstance(reinforce, FinetuneReinforcement):
        schedules["reinforce"] = reinforce.fit_spec()
    for key, spec in schedules.items():
        if spec.adapter is not None and sharded:
            raise UserError(
                f"{key}.adapter merges low-rank adapters into the weights one process holds whole; with trainer.strategy "
                f"sharding them (fsdp, fsdp_cpu, deepspeed) use {key}=finetune, or trainer=ddp"
            )
    if parts.model.name_or_path is None:
        schedules["model.pretrain"] = parts.model.pretrain_spec
    for key, spec in schedules.items():
        if spec.batch_size < processes.world_size:
            raise UserError(
                f"{key}.batch_size={spec.batch_size} is smaller than the {processes.world_size} processes; "
                "each process needs a block of every batch: raise the batch size or lower trainer.devices"
            )
    context_length, positions = int(cfg.context_length), parts.model.positions()
    if context_length > positions:
        raise UserError(f"context_length={context_length} exceeds the model's {positions} positions; set context_length<={positions}")
    if isinstance(reinforce, ReinforcedFromPath):
        given = parts.model.config(reinforce.path, "reinforce.path")
        if isinstance(parts.model, PretrainedModel):
            baseline = parts.model.baseline_config
            if given.vocab_size != baseline.vocab_size:
                raise UserError(
                    f"reinforce.path={reinforce.path} has a vocabulary of {given.vocab_size} tokens and the baseline "
                    f"{baseline.vocab_size}; reinforce.path must point at a model fine-tuned from the same baseline"
                )


COMPARISONS = ("whp_inference",)


def _comparisons(cfg: DictConfig) -> dict[str, InferenceTimeWHP]:
    """The comparison models `compare` names, each built from its own config key."""
    given = cfg.get("compare") or []
    if not isinstance(given, ListConfig | list):
        raise UserError(f"compare={given} must be a list of model names, e.g. compare=[whp_inference]")
    names = list(given)
    unknown = [name for name in names if name not in COMPARISONS]
    if unknown:
        raise UserError(f"compare={names} names unknown model {unknown[0]!r}; choose from {list(COMPARISONS)}")
    return {name: build(cfg[name], name) for name in names}


def _evaluators(cfg: DictConfig) -> dict[str, Evaluator]:
    """The evaluators by name, less those set to null (a target's list may switch off a default
    one); an attack that measures with others is bound to them."""
    evaluators = {name: build(spec, f"evaluator.{name}") for name, spec in cfg.evaluator.items() if spec is not None}
    for evaluator in evaluators.values():
        if isinstance(evaluator, RelearningAttack):
            evaluator.bind(evaluators)
    return evaluators


def build_components(cfg: DictConfig, processes: Processes) -> Components:
    """Every component of the run, each setting and every combination checked."""
    _check_run_settings(cfg, processes)
    labels: LabelGenerator = build(cfg.labels, "labels")
    anchors: AnchorSource | None = build(cfg.anchors, "anchors") if labels.translate else None
    if cfg.get("logger"):
        check(cfg.logger, "logger")  # built by the run once it starts (unlearn/pipeline.py): its loggers import Lightning
    reinforce: Reinforcement = build(cfg.reinforce, "reinforce")
    compare = _comparisons(cfg)
    unlearn: FitSpec = build(cfg.unlearn, "unlearn")
    parts = Components(
        target=build(cfg.target, "target"),
        model=build(cfg.model, "model"),
        reinforce=reinforce,
        anchors=anchors,
        labels=labels,
        unlearn=unlearn,
        evaluators=_evaluators(cfg),
        objective=build(cfg.objective, "objective"),
        stages=planned_stages(list(cfg.stages), labels, anchors, reinforce, bool(compare), unlearn),
        compare=compare,
        evaluation_settings=OmegaConf.to_container(cfg.evaluator, resolve=True),
    )
    _check_combination(cfg, parts, processes)
    return parts


def check_retain(files: TargetFiles, reader: str, otherwise: str) -> None:
    """The target's retain text, which `reader` needs, exists and has text."""
    if not files.retain:
        raise UserError(f"{reader}, and target={files.name} has none: give it (target.retain=[...] for text_files) or {otherwise}")
    if not any(document.strip() for document in read_documents(files.retain, key="target.retain")):
        raise no_text(files.retain)


def check_target(files: TargetFiles, parts: Components) -> dict[str, str]:
    """The target's files that the run reads: the corpus has text, the anchors' files exist and
    parse, each evaluator's files parse. Returns the evaluators skipped for a missing file, with why."""
    if not any(document.strip() for document in read_documents(files.corpus)):
        raise no_text(files.corpus)
    if parts.model.name_or_path is None and not files.pretraining:
        raise UserError(
            f"model={parts.model.name} pretrains on a synthetic target's world text, and target={files.name} has none; "
            "use target=toy_world, or a pretrained model: model=hf model.name_or_path=<hub id or folder>"
        )
    if parts.model.name_or_path is None:
        read_documents(files.pretraining, key="target.pretraining")
    if parts.anchors is not None and "dictionary" in parts.stages:
        parts.anchors.check(files)
    if "unlearn" in parts.stages and isinstance(parts.unlearn, BaselineMethod) and parts.unlearn.reads_retain:
        check_retain(files, f"unlearn={parts.unlearn.name} trains on retain text", "choose another unlearn option")
    if "labels" in parts.stages and parts.labels.retain_blocks:
        check_retain(files, f"labels.retain_blocks={parts.labels.retain_blocks} labels retain text", "set labels.retain_blocks=0")
    skipped = {}
    if "evaluate" in parts.stages:
        for name, evaluator in parts.evaluators.items():
            try:
                evaluator.check(files)
            except NotApplicable as reason:
                skipped[name] = str(reason)
    return skipped


def prepare(cfg: DictConfig, processes: Processes | None = None) -> Prepared:
    """Every component built and checked, then the target stage and the check of its files."""
    processes = processes or Processes()
    parts = build_components(cfg, processes)
    cache, clock = StageCache(Path(cfg.paths.cache_dir), processes), StageClock()
    with clock("target"):
        target = prepare_target(parts.target, cache)
    return Prepared(parts, cache, clock, target, check_target(target.files, parts))
