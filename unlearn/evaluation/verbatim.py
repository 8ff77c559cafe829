"""Verbatim memorization (MUSE's VerbMem): does the model still continue the target's text word for word?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.evaluation import Measurement, NotApplicable
from unlearn.evaluation.generation import complete
from unlearn.evaluation.scoring import rouge_l
from unlearn.files import read_documents
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class Verbatim:
    """ROUGE-L F1 between the greedy continuation of a target document's first `prefix_tokens`
    tokens and its true next `continuation_tokens` tokens, over the first `max_documents`
    documents long enough for both."""

    prefix_tokens: int
    continuation_tokens: int
    max_documents: int
    batch_size: int

    def check(self, target: TargetFiles) -> None:
        """It reads the corpus, which the run checks before any stage that trains."""

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        prompts, truths = [], []
        for document in read_documents(target.corpus):
            ids = tokenizer(document, add_special_tokens=False)["input_ids"]
            if len(ids) >= self.prefix_tokens + self.continuation_tokens:
                prompts.append(tokenizer.decode(ids[: self.prefix_tokens]))
                truths.append(tokenizer.decode(ids[self.prefix_tokens : self.prefix_tokens + self.continuation_tokens]))
            if len(prompts) == self.max_documents:
                break
        if not prompts:
            raise NotApplicable(
                f"evaluator.verbatim: no document of target {target.name} has prefix_tokens + continuation_tokens = "
                f"{self.prefix_tokens + self.continuation_tokens} tokens; lower evaluator.verbatim.prefix_tokens or continuation_tokens"
            )
        outputs = complete(model, tokenizer, prompts, self.continuation_tokens, self.batch_size, "verbatim")
        scores = [rouge_l(output, truth)[1] for output, truth in zip(outputs, truths, strict=True)]
        table = [{"prefix": p, "truth": t, "output": o, "rouge_l": s} for p, t, o, s in zip(prompts, truths, outputs, scores, strict=True)]
        return Measurement({"verbatim/rouge_l": sum(scores) / len(scores)}, {"verbatim/rouge_l": "forget"}, {"verbatim": table})
