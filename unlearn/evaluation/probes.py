"""Cloze probes with known answers: does the model still complete a fact of the target?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unlearn.errors import UserError
from unlearn.evaluation import Measurement, require
from unlearn.evaluation.generation import complete
from unlearn.files import read_records
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SPLITS = ("forget", "retain")
KINDS = ("recall", "paraphrase")


@dataclass(frozen=True)
class Probe:
    """A cloze prompt with its known answer; `split` is forget or retain, `kind` recall or paraphrase;
    `group` (optional) names a subset reported on its own as well, e.g. general knowledge among
    the retain probes, whose losses a user weighs differently from those of a related work."""

    prompt: str
    answer: str
    kind: str
    split: str
    group: str | None = None


def read_probes(path: Path) -> list[Probe]:
    fields = ("prompt", "answer", "kind", "split")
    rows = read_records(path, fields, "each probe needs prompt, answer, kind and split", "target.probes")
    for number, row in enumerate(rows, start=1):
        for field, allowed in (("split", SPLITS), ("kind", KINDS)):
            if row[field] not in allowed:
                raise UserError(f"{path}:{number}: {field} {row[field]!r} is none of {list(allowed)}; fix the probe's {field}")
    return [Probe(*(row[f] for f in fields), group=row.get("group")) for row in rows]


def metric_name(split: str, kind: str, group: str | None = None) -> str:
    """probe/forget_recall for phrasings from the text, probe/forget_paraphrase_recall for new
    ones; probe/retain_general_recall for the retain probes of group "general"."""
    words = [split, *([group] if group else []), *([kind] if kind != "recall" else []), "recall"]
    return "probe/" + "_".join(words)


@dataclass
class ProbeRecall:
    """Fraction of probes whose greedy completion contains the answer, per split and kind, and
    each probe's completion (the report's `probes` table)."""

    max_new_tokens: int
    batch_size: int

    def check(self, target: TargetFiles) -> None:
        read_probes(require(target.probes, "probes", "probes", target))

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        probes = read_probes(require(target.probes, "probes", "probes", target))
        completions = complete(model, tokenizer, [p.prompt for p in probes], self.max_new_tokens, self.batch_size, "probes")
        hits: dict[str, list[bool]] = defaultdict(list)
        rows = []
        for probe, completion in zip(probes, completions, strict=True):
            hit = probe.answer in completion
            for name in {metric_name(probe.split, probe.kind), metric_name(probe.split, probe.kind, probe.group)}:
                hits[name].append(hit)
            rows.append({"split": probe.split, "prompt": probe.prompt, "answer": probe.answer, "completion": completion, "hit": hit})
        metrics = {name: sum(values) / len(values) for name, values in sorted(hits.items())}
        # Which probes a model still answers, forget probes first: what a recall of 0.625 leaves.
        rows.sort(key=lambda row: SPLITS.index(row["split"]))
        return Measurement(metrics, {name: "forget" if "forget" in name else "utility" for name in metrics}, {"probes": rows})
