"""The relearning attack (Lynch et al. 2024, "Eight Methods to Evaluate Robust Unlearning in
LLMs"): fine-tune a copy of the model briefly on a little of the target's text and measure
the forget side again. Knowledge that was hidden rather than removed comes back from text
that does not contain it.

The attacker's text is the target corpus with every sentence that holds a forget probe's
answer left out (so the probes' own text is never trained on), up to `tokens` tokens. The
model under evaluation is not changed: the attack trains a copy. The measures are the
forget-side metrics of the evaluators named in `measure` (built with the run's evaluators
and bound to them before any stage runs), reported as `relearn/<their name>`; the same
metric without the prefix, in the same report column, is the model before the attack.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from unlearn.blocks import IGNORE, Blocks, make_blocks, next_token_labels
from unlearn.errors import SettingError, UserError
from unlearn.evaluation import Evaluator, Measurement, require
from unlearn.evaluation.probes import read_probes
from unlearn.files import read_documents
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

PREFIX = "relearn/"
SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")


def attack_text(documents: list[str], answers: list[str]) -> list[str]:
    """The documents' sentences, in order, without those that hold one of `answers` as a word
    (case-insensitive)."""
    held = [re.compile(rf"(?<!\w){re.escape(answer.strip())}(?!\w)", re.IGNORECASE) for answer in answers if answer.strip()]
    sentences = (s.strip() for document in documents for s in SENTENCE_END.split(document))
    return [s for s in sentences if s and not any(pattern.search(s) for pattern in held)]


@dataclass
class RelearningAttack:
    """`steps` AdamW steps at `lr` on batches of `batch_size` blocks of `block_tokens`, cut from
    the first `tokens` tokens of the attacker's text, drawn from `seed`."""

    measure: list[str]
    tokens: int = 1024
    steps: int = 10
    lr: float = 1e-4
    batch_size: int = 4
    block_tokens: int = 128
    seed: int = 0
    evaluators: dict[str, Evaluator] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("tokens", "steps", "batch_size", "block_tokens"):
            if getattr(self, name) < 1:
                raise SettingError(name, getattr(self, name), "must be at least 1")
        if not self.lr > 0:
            raise SettingError("lr", self.lr, "must be > 0 (the attacker's learning rate)")
        if not self.measure:
            raise SettingError("measure", self.measure, "must name at least one evaluator to measure again, e.g. [probes]")

    def bind(self, evaluators: dict[str, Evaluator]) -> None:
        """The run's evaluators this attack measures with; each name of `measure` must be one."""
        missing = [name for name in self.measure if name not in evaluators or evaluators[name] is self]
        if missing:
            raise UserError(
                f"evaluator.relearn.measure names {missing[0]!r}, which is not another evaluator of this run; "
                f"choose from {sorted(name for name, e in evaluators.items() if e is not self)}"
            )
        self.evaluators = {name: evaluators[name] for name in self.measure}

    def check(self, target: TargetFiles) -> None:
        require(target.probes, "relearn", "probes", target)
        for evaluator in self.evaluators.values():
            evaluator.check(target)

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        answers = [probe.answer for probe in read_probes(require(target.probes, "relearn", "probes", target)) if probe.split == "forget"]
        text = attack_text(read_documents(target.corpus), answers)
        ids = tokenizer(" ".join(text), add_special_tokens=False)["input_ids"][: self.tokens]
        if len(ids) < 2:
            raise UserError(f"evaluator.relearn: target={target.name}'s corpus has no text left without the forget probes' answers")
        attacked, losses = self.attack(model, tokenizer, tokenizer.decode(ids))
        metrics, sides = {}, {}
        for evaluator in self.evaluators.values():
            measured = evaluator.evaluate(attacked, tokenizer, target)
            for name, side in measured.sides.items():
                if side == "forget":
                    metrics[PREFIX + name], sides[PREFIX + name] = measured.metrics[name], "forget"
        del attacked
        table = [{"step": step, "loss": loss} for step, loss in enumerate(losses, start=1)]
        return Measurement(metrics, sides, {"relearn": table})

    def attack(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str) -> tuple[PreTrainedModel, list[float]]:
        """A copy of `model` fine-tuned on `text`, and its loss at each step."""
        return self.train_copy(model, make_blocks(tokenizer, [text], self.block_tokens))

    def train_copy(self, model: PreTrainedModel, blocks: Blocks) -> tuple[PreTrainedModel, list[float]]:
        """A copy of `model` fine-tuned on `blocks`. The loss is the next-token cross-entropy of
        the model's logits, the model as every evaluator reads it, not the loss its forward
        returns: inference-time WHP computes that from its baseline alone, so the attack would
        train the baseline and leave the combination of the two models unattacked."""
        labels = next_token_labels(blocks)[:, 1:]
        attacked = copy.deepcopy(model).train()
        optimizer = torch.optim.AdamW(attacked.parameters(), lr=self.lr)
        generator = torch.Generator().manual_seed(self.seed)
        losses = []
        with torch.enable_grad():
            for _ in range(self.steps):
                rows = torch.randint(len(blocks), (min(self.batch_size, len(blocks)),), generator=generator)
                batch = {"input_ids": blocks.input_ids[rows], "attention_mask": blocks.attention_mask[rows]}
                logits = attacked(**{key: value.to(attacked.device) for key, value in batch.items()}).logits[:, :-1]
                loss = F.cross_entropy(logits.flatten(0, 1).float(), labels[rows].flatten().to(logits.device), ignore_index=IGNORE)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
        return attacked.eval(), losses
