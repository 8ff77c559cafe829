"""Cloze probes with known answers: does the model still complete a fact of the target?"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.errors import UserError
from unlearn.evaluation.generation import greedy_completions
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

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> dict[str, float]:
        if target.probes is None:
            raise UserError(
                f"evaluator.probes needs a probe file and target={target.name} has none; remove the evaluator or add target.probes"
            )
        probes = read_probes(target.probes)
        completions = greedy_completions(model, tokenizer, [p.prompt for p in probes], self.max_new_tokens, self.batch_size, "probes")
        hits: dict[str, list[bool]] = defaultdict(list)
        for probe, completion in zip(probes, completions, strict=True):
            hits[metric_name(probe.split, probe.kind)].append(probe.answer in completion)
        return {name: sum(values) / len(values) for name, values in sorted(hits.items())}
