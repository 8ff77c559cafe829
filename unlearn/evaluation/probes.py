"""Cloze probes with known answers: does the model still complete a fact of the target?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.evaluation import Measurement, require
from unlearn.evaluation.generation import complete
from unlearn.targets import TargetFiles
from unlearn.targets.files import read_probes


def metric_name(split: str, kind: str) -> str:
    """probe/forget_recall for phrasings from the text, probe/forget_paraphrase_recall for new ones."""
    return f"probe/{split}_recall" if kind == "recall" else f"probe/{split}_{kind}_recall"


@dataclass
class ProbeRecall:
    """Fraction of probes whose greedy completion contains the answer, per split and kind."""

    max_new_tokens: int
    batch_size: int

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        probes = read_probes(require(target.probes, "probes", "probes", target))
        completions = complete(model, tokenizer, [p.prompt for p in probes], self.max_new_tokens, self.batch_size, "probes")
        hits: dict[str, list[bool]] = defaultdict(list)
        for probe, completion in zip(probes, completions, strict=True):
            hits[metric_name(probe.split, probe.kind)].append(probe.answer in completion)
        metrics = {name: sum(values) / len(values) for name, values in sorted(hits.items())}
        return Measurement(metrics, {name: "forget" if "forget" in name else "utility" for name in metrics})
