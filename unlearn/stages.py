"""The stages of a run, each with explicit inputs and one artifact (docs/method.md has the method).

Each stage computes its artifact's cache key once, from exactly what it reads: settings,
the keys of the artifacts it reads, and files by content (never by where they are). So
adding a probe re-runs no training stage, and a model folder copied elsewhere keeps its key.
The stage runner owns the cache and the clock; the components it is given only describe
what to build.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.anchors import AnchorSource, alignment
from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.anchors.gain import TermGain, next_token_gain
from unlearn.anchors.model_reference import ModelReading
from unlearn.baselines import BaselineMethod
from unlearn.blocks import IGNORE, BlockDataset, Blocks, make_blocks, next_token_labels
from unlearn.cache import StageCache, cache_key, content_key
from unlearn.clock import StageClock
from unlearn.distributed import Processes
from unlearn.errors import UserError
from unlearn.evaluation import Evaluator, Measurement, NotApplicable
from unlearn.evaluation.likelihood import token_logprobs
from unlearn.files import read_documents
from unlearn.inference_whp import InferenceTimeWHP
from unlearn.labels import LabelGenerator
from unlearn.labels.candidates import CANDIDATES_FILE, CandidateStore, fill_undecided
from unlearn.labels.generate import LabelInputs
from unlearn.labels.soft import SoftTargets, soft_targets
from unlearn.models import BaselineSource, PretrainedModel, ToyLlama, release_memory
from unlearn.reinforce import FinetuneReinforcement, ReinforcedFromPath
from unlearn.targets import TargetArtifact, TargetFiles
from unlearn.training.spec import FitSpec
from unlearn.training.trainer import TrainerFactory, fit, save_trained

log = logging.getLogger(__name__)

LABELS_FILE = "labels.safetensors"
DICTIONARY_FILE = "anchors.yaml"
EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class ModelArtifact:
    """A model: a hub id or folder, and the key of its content."""

    ref: str
    key: str


@dataclass(frozen=True)
class BlocksArtifact:
    blocks: Blocks
    tokenizer: PreTrainedTokenizerBase
    key: str


@dataclass(frozen=True)
class DictionaryArtifact:
    dictionary: AnchorDictionary
    key: str


@dataclass(frozen=True)
class LabelsArtifact:
    folder: Path
    key: str


@dataclass
class StageRunner:
    """Runs the stages after the target's (unlearn/components.py, prepare) against the cache:
    every process calls each stage; rank 0 alone writes."""

    cache: StageCache
    trainer: TrainerFactory
    seed: int
    processes: Processes
    clock: StageClock

    def model_key(self, stage: str, ref: str, source: BaselineSource) -> str:
        """A given model's key: a local folder by content, a hub id by name and revision."""
        if Path(ref).expanduser().is_dir():
            return content_key(stage, [Path(ref).expanduser()], self.cache.fingerprints)
        return cache_key(stage, {"hub": ref, "revision": source.revision})

    def gguf_key(self, source: PretrainedModel) -> str:
        """A GGUF checkpoint's key: a local file by content, one on the hub by repository, file and revision."""
        if source.gguf_path is not None:
            return content_key("baseline", [source.gguf_path], self.cache.fingerprints)
        return cache_key("baseline", {"hub": source.name_or_path, "gguf_file": source.gguf_file, "revision": source.revision})

    def baseline(self, source: BaselineSource, target: TargetArtifact) -> ModelArtifact:
        with self.clock("baseline"):
            if source.gguf_file is not None:
                key = self.gguf_key(source)
                folder = self.cache.fetch("baseline", key, source.convert_gguf)
                return ModelArtifact(str(folder), key)
            if source.name_or_path is not None:
                return ModelArtifact(source.name_or_path, self.model_key("baseline", source.name_or_path, source))
            pretraining = target.files.pretraining
            key = cache_key("baseline", {"model": asdict(source), "seed": self.seed}, [content_key("pretraining", pretraining)])
            folder = self.cache.fetch("baseline", key, lambda out: self._pretrain(source, pretraining, out, key), collective=True)
            return ModelArtifact(str(folder), key)

    def _pretrain(self, source: ToyLlama, pretraining: tuple[Path, ...], out: Path, key: str) -> None:
        tokenizer, blocks = source.pretraining_blocks(read_documents(pretraining, key="target.pretraining"), self.seed)
        model = source.initial_model(tokenizer, self.seed)
        checkpoints = self.cache.progress_dir("baseline", key)
        result = fit(model, BlockDataset.next_tokens(blocks), source.pretrain_spec, self.trainer, "pretrain", self.seed, checkpoints)
        save_trained(result, model, tokenizer, out)

    def blocks(self, source: BaselineSource, baseline: ModelArtifact, target: TargetArtifact, context_length: int) -> BlocksArtifact:
        with self.clock("blocks"):
            tokenizer = source.load_tokenizer(baseline.ref)
            documents = [d for d in read_documents(target.files.corpus) if d.strip()]
            blocks = make_blocks(tokenizer, documents, context_length)
            log.info("target corpus: %d documents, %d blocks, %d tokens", len(documents), len(blocks), blocks.tokens)
            key = cache_key("blocks", {"context_length": context_length}, [target.corpus_key, baseline.key])
            return BlocksArtifact(blocks, tokenizer, key)

    def _finetune(
        self, source: BaselineSource, baseline: ModelArtifact, dataset: Callable[[], BlockDataset], spec: FitSpec, stage: str,
        key: str,
    ) -> Path:  # fmt: skip
        """The baseline fine-tuned on `dataset()` (made only when the cache lacks `key`) by every
        process, saved by rank 0: every weight, or the spec's adapters merged back."""
        adapter = spec.adapter

        def train(out: Path) -> None:
            data = dataset()
            model, tokenizer = source.load(baseline.ref, training=True)
            if adapter is not None:
                model = adapter.wrap(model)
            result = fit(model, data, spec, self.trainer, stage, self.seed, self.cache.progress_dir(stage, key))
            if adapter is not None:
                model = adapter.unwrap(model)
            save_trained(result, model, tokenizer, out)
            del model
            release_memory()

        return self.cache.fetch(stage, key, train, collective=True)

    def reinforce(
        self,
        reinforcement: FinetuneReinforcement | ReinforcedFromPath,
        source: BaselineSource,
        baseline: ModelArtifact,
        blocks: BlocksArtifact,
    ) -> ModelArtifact:
        with self.clock("reinforce"):
            if isinstance(reinforcement, ReinforcedFromPath):
                if source.load_tokenizer(reinforcement.path).get_vocab() != blocks.tokenizer.get_vocab():
                    raise UserError(
                        f"reinforce.path={reinforcement.path} has a tokenizer that differs from the baseline's "
                        f"({baseline.ref}); reinforce.path must point at a model fine-tuned from the same baseline"
                    )
                return ModelArtifact(reinforcement.path, self.model_key("reinforce", reinforcement.path, source))
            key = cache_key("reinforce", {"settings": asdict(reinforcement), "seed": self.seed}, [blocks.key])
            dataset = partial(BlockDataset.next_tokens, blocks.blocks)
            folder = self._finetune(source, baseline, dataset, reinforcement.fit_spec(), "reinforce", key)
            return ModelArtifact(str(folder), key)

    def dictionary(
        self, anchors: AnchorSource, target: TargetArtifact, source: BaselineSource, baseline: ModelArtifact,
        blocks: BlocksArtifact, reinforced: ModelArtifact | None, batch_size: int,
    ) -> DictionaryArtifact:  # fmt: skip
        """Written by rank 0 alone (the others wait); every process reads it."""
        with self.clock("dictionary"):
            reads_baseline = anchors.reads_baseline(target.files)
            gain_from = reinforced if anchors.gain_terms or reads_baseline else None
            read = [baseline.key if reads_baseline else "no-baseline", gain_from.key if gain_from else "no-gain"]
            key = cache_key("dictionary", anchors.settings(target.files), [target.corpus_key, *read])

            def write(out: Path) -> None:
                reads_models = reads_baseline or gain_from is not None
                reading = model_reading(source, baseline, gain_from, blocks, batch_size, reads_baseline) if reads_models else None
                (out / DICTIONARY_FILE).write_text(anchors.write(target.files, reading), encoding="utf-8")

            folder = self.cache.fetch("dictionary", key, write)
            if anchors.review_copy and self.processes.is_main:
                Path(anchors.review_copy).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / DICTIONARY_FILE, anchors.review_copy)
                log.info("review and edit %s, then use it with anchors=from_file anchors.path=<it>", anchors.review_copy)
            return DictionaryArtifact(AnchorDictionary.from_file(folder / DICTIONARY_FILE), key)

    def labels(
        self, generator: LabelGenerator, source: BaselineSource, baseline: ModelArtifact, blocks: BlocksArtifact,
        reinforced: ModelArtifact | None, dictionary: DictionaryArtifact | None, retain: Sequence[Path] = (),
    ) -> LabelsArtifact:  # fmt: skip
        """Hard labels for the generator's alpha, decided from the candidate store (one pass over
        the corpus for every alpha) and, where it leaves positions open, a forward pass of their
        batches; soft targets from a pass of their own, with the retain text's first blocks
        (`retain`, the target's) after the corpus's when the generator asks for them."""
        with self.clock("labels"):
            reads = reinforced if generator.reads_reinforced else None
            # Each kind of label is keyed by the settings it reads (hard labels of any alpha share one candidate store).
            unread = ("alpha", "top_k", "store_alphas") if generator.soft else ("alpha", "targets", "temperature", "soft_top_k")
            settings = {k: v for k, v in asdict(generator).items() if k not in (*unread, "batch_tokens")}
            # The paper's labels keep the key they had before these options existed, and every cache built on them.
            if generator.inside_anchors == "unlabelled":
                settings.pop("inside_anchors")
            if not generator.retain_blocks:
                settings.pop("retain_blocks")
            # The blocks each pass reads, not the settings that chose them: the same cut, the same key.
            settings["batch_size"] = generator.blocks_per_pass(blocks.blocks.input_ids.shape[1])
            spec = {
                "labels": settings,
                "dictionary": dictionary.key if dictionary else None,
                "alignment": alignment.REVISION,
                "seed": self.seed,
            }
            candidates_key = cache_key("candidates", spec, [blocks.key, reads.key if reads else "no-reinforced"])

            def inputs() -> LabelInputs:
                return label_inputs(generator, source, baseline, blocks, reinforced, dictionary, self.seed)

            def collect(out: Path) -> None:
                store = CandidateStore.collect(inputs(), self.processes)
                if store is not None:
                    store.save(out / CANDIDATES_FILE)
                release_memory()

            def decide(out: Path) -> None:
                """Every process takes part in collecting the candidates; rank 0 alone decides labels from them."""
                store_folder = self.cache.fetch("labels", candidates_key, collect, collective=True, record="labels.candidates")
                if not self.processes.is_main:
                    return
                store = CandidateStore.load(store_folder / CANDIDATES_FILE)
                labels, undecided = store.labels(generator.alpha, blocks.blocks.input_ids.shape)
                recomputed = fill_undecided(labels, undecided, inputs(), generator.alpha) if len(undecided) else 0
                release_memory()
                decided = 1 - len(undecided) / max(len(store.positions), 1)
                write_labels(out, blocks.blocks, labels, {"decided_fraction": decided, "recomputed_batches": recomputed})

            def distribute(out: Path) -> None:
                """Soft targets take one pass of their own (labels/soft.py), and the retain blocks
                another, of the baseline alone; rank 0 writes them."""
                read = inputs()
                targets = soft_targets(read, generator.temperature, generator.soft_top_k, self.processes)
                retained = retain_targets(read, retain, self.processes) if generator.retain_blocks else None
                del read
                release_memory()
                if targets is not None:
                    labels = targets.labels()
                    kept_mass = float(targets.probs.sum(dim=-1)[labels != IGNORE].mean())
                    write_labels(out, blocks.blocks, labels, {"soft_kept_mass": kept_mass}, targets, retained)

            if generator.soft:
                reads_retain = [content_key("retain", retain)] if generator.retain_blocks else []
                key = cache_key(
                    "soft_labels", {**spec, "alpha": generator.alpha}, [blocks.key, reads.key if reads else "no-reinforced", *reads_retain]
                )
                return LabelsArtifact(self.cache.fetch("labels", key, distribute, collective=True), key)
            key = cache_key("labels", {"alpha": generator.alpha}, [candidates_key])
            return LabelsArtifact(self.cache.fetch("labels", key, decide, collective=True), key)

    def unlearn(
        self, spec: FitSpec, source: BaselineSource, baseline: ModelArtifact, labels: LabelsArtifact | None, blocks: BlocksArtifact,
        target: TargetArtifact,
    ) -> ModelArtifact:  # fmt: skip
        """The baseline fine-tuned on the generic labels (WHP), or on the target's own text by a
        baseline method's loss (unlearn/baselines/)."""
        with self.clock("unlearn"):
            if isinstance(spec, BaselineMethod):
                retain = content_key("retain", target.files.retain) if spec.reads_retain else None
                spec_key = {"unlearn": spec.settings(), "method": spec.name, "seed": self.seed}
                key = cache_key("unlearn", spec_key, [blocks.key, retain or "no-retain", baseline.key])
                dataset = partial(self._baseline_dataset, spec, source, baseline, blocks, target.files)
            else:
                key = cache_key("unlearn", {"unlearn": spec.settings(), "seed": self.seed}, [labels.key, baseline.key])
                dataset = partial(labelled_dataset, labels.folder / LABELS_FILE)
            return ModelArtifact(str(self._finetune(source, baseline, dataset, spec, "unlearn", key)), key)

    def _baseline_dataset(
        self, spec: BaselineMethod, source: BaselineSource, baseline: ModelArtifact, blocks: BlocksArtifact, files: TargetFiles
    ) -> BlockDataset:
        """The target's blocks with their own tokens as labels, and what the method reads besides:
        a retain block beside each (the retain text's blocks, cycled), or the baseline's
        log-likelihood of each block."""
        extra = {}
        if spec.reads_retain:
            documents = [d for d in read_documents(files.retain, key="target.retain") if d.strip()]
            retain = make_blocks(blocks.tokenizer, documents, blocks.blocks.input_ids.shape[1])
            cycled = torch.arange(len(blocks.blocks)) % len(retain)
            extra |= {
                "retain_input_ids": retain.input_ids[cycled],
                "retain_attention_mask": retain.attention_mask[cycled],
                "retain_labels": next_token_labels(retain)[cycled],
            }
        if spec.reads_reference:
            model = source.load(baseline.ref)[0]
            extra["reference_logprob"] = block_logprobs(model, blocks.blocks, blocks.tokenizer.pad_token_id, spec.batch_size)
            del model
            release_memory()
        return BlockDataset.next_tokens(blocks.blocks, extra)

    def evaluate(
        self, evaluators: dict[str, Evaluator], settings: dict[str, Any], source: BaselineSource, models: dict[str, ModelArtifact],
        target: TargetArtifact, skipped: dict[str, str], compare: dict[str, InferenceTimeWHP] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Every evaluator on every model (the method's, then each of `compare`, built from the
        baseline and the reinforced model): metrics, their sides and detail tables, by model. An
        evaluator whose target file is missing is skipped, with a warning and a line in `skipped`.

        A model's measurement is cached under its weights' key, the target's files, how the model
        loads and every evaluator's settings (`settings`: the relearning attack measures with the
        others), so that the runs of a sweep or a comparison measure their shared baseline once."""
        loaders = {name: (artifact.key, partial(source.load, artifact.ref)) for name, artifact in models.items()}
        for name, comparison in (compare or {}).items():
            baseline, reinforced = models["baseline"], models["reinforced"]
            combined = cache_key(name, asdict(comparison), [baseline.key, reinforced.key])
            loaders[name] = (combined, partial(_combined, comparison, source, baseline.ref, reinforced.ref))
        for name, reason in skipped.items():
            log.warning("skipping evaluator.%s: %s", name, reason)
        spec = {"evaluators": settings, "model": asdict(source), "skipped": sorted(skipped)}
        evaluated: dict[str, Any] = {"models": {}, "sides": {}, "details": {}, "skipped": dict(skipped), "evaluator_timings_s": {}}
        with self.clock("evaluate"):
            for model_name, (model_key, load) in loaders.items():
                record = f"evaluate.{model_name}"
                measure = partial(_measure_model, evaluators, load, target.files, skipped, model_name)
                folder = self.cache.fetch("evaluate", cache_key("evaluate", spec, [model_key, target.key]), measure, record=record)
                measured = json.loads((folder / EVALUATION_FILE).read_text())
                evaluated["models"][model_name], evaluated["details"][model_name] = measured["metrics"], measured["tables"]
                evaluated["sides"].update(measured["sides"])
                evaluated["skipped"].update(measured["skipped"])
                if not self.cache.used[record]["hit"]:  # where this run's evaluation time went
                    timings = evaluated["evaluator_timings_s"]
                    for name, seconds in measured["seconds"].items():
                        timings[name] = round(timings.get(name, 0.0) + seconds, 3)
        return evaluated


def _measure_model(
    evaluators: dict[str, Evaluator], load: Callable[[], tuple[PreTrainedModel, PreTrainedTokenizerBase]], files: TargetFiles,
    skipped: dict[str, str], model_name: str, out: Path,
) -> None:  # fmt: skip
    """One model measured by every evaluator not skipped, written to out/EVALUATION_FILE; an
    evaluator that finds itself not applicable is recorded as skipped, with why."""
    model, tokenizer = load()
    measured: dict[str, Any] = {"metrics": {}, "sides": {}, "tables": {}, "skipped": {}, "seconds": {}}
    for name, evaluator in evaluators.items():
        if name in skipped:
            continue
        log.info("evaluating %s with %s", model_name, name)
        started = time.perf_counter()
        try:
            measurement: Measurement = evaluator.evaluate(model, tokenizer, files)
        except NotApplicable as reason:
            log.warning("skipping evaluator.%s: %s", name, reason)
            measured["skipped"][name] = str(reason)
            continue
        finally:
            measured["seconds"][name] = round(time.perf_counter() - started, 3)
        measured["metrics"].update(measurement.metrics)
        measured["sides"].update(measurement.sides)
        measured["tables"].update(measurement.tables)
    del model
    release_memory()
    (out / EVALUATION_FILE).write_text(json.dumps(measured, indent=1))


def _combined(
    comparison: InferenceTimeWHP, source: BaselineSource, baseline: str, reinforced: str
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    model, tokenizer = source.load(baseline)
    return comparison.combine(model, source.load(reinforced)[0]), tokenizer


def model_reading(
    source: BaselineSource, baseline: ModelArtifact, reinforced: ModelArtifact | None, blocks: BlocksArtifact, batch_size: int,
    keep_baseline: bool,
) -> ModelReading:  # fmt: skip
    """What an anchor source reads of the models: how much the reinforced model raises each
    token of the target's text over the baseline (anchors/gain.py), and the baseline itself."""
    base_model, tokenizer = source.load(baseline.ref)
    gain = None
    if reinforced is not None:
        reinforced_model = source.load(reinforced.ref)[0]
        gain = TermGain(*next_token_gain(base_model, reinforced_model, blocks.blocks, batch_size), tokenizer)
        del reinforced_model
        release_memory()
    return ModelReading(gain, base_model if keep_baseline else None, tokenizer)


def label_inputs(
    generator: LabelGenerator, source: BaselineSource, baseline: ModelArtifact, blocks: BlocksArtifact,
    reinforced: ModelArtifact | None, dictionary: DictionaryArtifact | None, seed: int,
) -> LabelInputs:  # fmt: skip
    """The models label generation reads, loaded now (the reinforced one only if alpha > 0):
    drop the result and call release_memory after."""
    base_model, tokenizer = source.load(baseline.ref)
    reinforced_model = source.load(reinforced.ref)[0] if generator.reads_reinforced else None
    anchored = dictionary.dictionary if dictionary else None
    return LabelInputs(blocks.blocks, generator, base_model, reinforced_model, tokenizer, anchored, seed)


def retain_targets(read: LabelInputs, retain: Sequence[Path], processes: Processes | None = None) -> tuple[Blocks, SoftTargets | None]:
    """The retain text's first `retain_blocks` blocks (as long as the corpus's) and, on rank 0,
    their soft targets: the baseline's own distribution on the text as it is, at the
    generator's temperature (no translation, nothing reinforced to push down)."""
    generator = read.generator
    documents = [d for d in read_documents(retain, key="target.retain") if d.strip()]
    made = make_blocks(read.tokenizer, documents, read.blocks.input_ids.shape[1])
    if len(made) < generator.retain_blocks:
        log.warning("labels.retain_blocks=%d: the retain text makes %d blocks; all of them are used", generator.retain_blocks, len(made))
    kept = made.first(generator.retain_blocks)
    own = LabelInputs(kept, replace(generator, translate=False), read.baseline, None, read.tokenizer, None, read.seed)
    return kept, soft_targets(own, generator.temperature, generator.soft_top_k, processes)


def labelled_dataset(path: Path) -> BlockDataset:
    """The blocks and their generic labels (and soft targets, when the labels are soft) as the label stage wrote them."""
    tensors = load_file(path)
    soft = {name: tensors[name] for name in ("target_ids", "target_probs") if name in tensors}
    return BlockDataset(tensors["input_ids"], tensors["attention_mask"], tensors["labels"], soft)


def block_logprobs(model: PreTrainedModel, blocks: Blocks, pad_id: int, batch_size: int) -> torch.Tensor:
    """Each block's log-likelihood under `model`: the sum of its next tokens' log-probabilities
    (evaluation/likelihood.py, which projects a chunk of positions at a time)."""
    sequences = [ids[mask.bool()].tolist() for ids, mask in zip(blocks.input_ids, blocks.attention_mask, strict=True)]
    return torch.stack([row.sum() for row in token_logprobs(model, sequences, pad_id, batch_size)]).float()


def write_labels(
    out: Path, blocks: Blocks, labels: torch.Tensor, stats: dict[str, float], soft: SoftTargets | None = None,
    retained: tuple[Blocks, SoftTargets] | None = None,
) -> None:  # fmt: skip
    """The labels (and soft targets) beside the blocks they belong to, the retain blocks with
    theirs after the corpus's, and what share of the corpus's positions they label and change
    (the argmax, for soft targets)."""
    tensors = {"input_ids": blocks.input_ids, "attention_mask": blocks.attention_mask, "labels": labels}
    if soft is not None:
        tensors |= {"target_ids": soft.ids, "target_probs": soft.probs}
    if retained is not None:
        retain_blocks, retain_soft = retained
        more = {
            "input_ids": retain_blocks.input_ids, "attention_mask": retain_blocks.attention_mask, "labels": retain_soft.labels(),
            "target_ids": retain_soft.ids, "target_probs": retain_soft.probs,
        }  # fmt: skip
        tensors = {name: torch.cat([tensor, more[name]]) for name, tensor in tensors.items()}
        stats = {**stats, "retain_blocks": len(retain_blocks), "retain_tokens": retain_blocks.tokens}
    save_file(tensors, out / LABELS_FILE)
    labelled = labels != IGNORE
    changed = labelled & (labels != blocks.input_ids)
    stats = {
        "labelled_fraction": float(labelled.sum() / blocks.attention_mask[:, 1:].sum()),
        "changed_fraction": float(changed.sum() / labelled.sum().clamp(min=1)),
        **stats,
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
