"""Verbatim memorization (MUSE's VerbMem): does the model still continue the target's text word for word?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from unlearn.evaluation import Measurement, NotApplicable
from unlearn.evaluation.generation import complete
from unlearn.evaluation.scoring import rouge_l
from unlearn.evaluation.windows import spread, token_windows
from unlearn.files import read_documents
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class Verbatim:
    """ROUGE-L F1 between the greedy continuation of `prefix_tokens` tokens of the target and
    its true next `continuation_tokens` tokens, over windows of both cut from every document
    in turn, at most `max_windows` of them spread over the whole corpus."""

    prefix_tokens: int
    continuation_tokens: int
    max_windows: int
    batch_size: int

    def check(self, target: TargetFiles) -> None:
        """It reads the corpus, which the run checks before any stage that trains."""

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        length = self.prefix_tokens + self.continuation_tokens
        windows = spread(token_windows(tokenizer, read_documents(target.corpus), length, whole_shorter=False), self.max_windows)
        prompts = [tokenizer.decode(ids[: self.prefix_tokens]) for ids in windows]
        truths = [tokenizer.decode(ids[self.prefix_tokens :]) for ids in windows]
        if not prompts:
            raise NotApplicable(
                f"evaluator.verbatim: no document of target {target.name} has prefix_tokens + continuation_tokens = "
                f"{self.prefix_tokens + self.continuation_tokens} tokens; lower evaluator.verbatim.prefix_tokens or continuation_tokens"
            )
        outputs = complete(model, tokenizer, prompts, self.continuation_tokens, self.batch_size, "verbatim")
        scores = [rouge_l(output, truth)[1] for output, truth in zip(outputs, truths, strict=True)]
        table = [{"prefix": p, "truth": t, "output": o, "rouge_l": s} for p, t, o, s in zip(prompts, truths, outputs, scores, strict=True)]
        return Measurement({"verbatim/rouge_l": sum(scores) / len(scores)}, {"verbatim/rouge_l": "forget"}, {"verbatim": table})
