"""The reinforced model's signal for anchored terms: the tokens it expects, in the target's
own text, more than the baseline does.

Fine-tuned further on the target, the reinforced model raises the probability of what is
idiosyncratic to it (docs/method.md); the gain of a token is the mean rise of its log-probability,
reinforced over baseline, at the positions of the target's blocks where it is the next
token. A term's gain is the mean over its tokens. When the baseline already predicts the
target's names almost surely (the toy baseline learned its world), there is little left
to raise, and the signal is weak: see experiments/anchors_auto/.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from unlearn.blocks import Blocks

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@torch.inference_mode()
def next_token_gain(baseline: PreTrainedModel, reinforced: PreTrainedModel, blocks: Blocks, batch_size: int) -> TokenGain:
    """Per token id, the mean log-probability gain where it is the next token (0 where it never
    is), and how often it is."""
    vocabulary = baseline.config.vocab_size
    total, seen = torch.zeros(vocabulary), torch.zeros(vocabulary)
    for start in range(0, len(blocks), batch_size):
        ids, mask = blocks.input_ids[start : start + batch_size], blocks.attention_mask[start : start + batch_size]
        inputs = {"input_ids": ids.to(baseline.device), "attention_mask": mask.to(baseline.device)}
        following = ids[:, 1:].to(baseline.device)
        gains = [
            model(**inputs).logits[:, :-1].float().log_softmax(-1).gather(-1, following.unsqueeze(-1)).squeeze(-1)
            for model in (reinforced, baseline)
        ]
        kept = mask[:, 1:].bool()
        total.index_add_(0, following.cpu()[kept], (gains[0] - gains[1]).cpu()[kept])
        seen.index_add_(0, following.cpu()[kept], torch.ones(int(kept.sum())))
    return TokenGain(total / seen.clamp(min=1), seen)


@dataclass(frozen=True)
class TokenGain:
    gain: torch.Tensor
    seen: torch.Tensor


@dataclass
class TermGain:
    """Per-token gains (next_token_gain) read as terms: a term's gain is the mean over its
    tokens, as the text spells them: after a space, or at a line's start (a verse line, a
    speaker's name in a script), whichever of the two the target holds more often."""

    tokens: TokenGain
    tokenizer: PreTrainedTokenizerBase

    def of_terms(self, terms: Iterable[str]) -> dict[str, float]:
        return {term: self._of(term) for term in terms}

    def _of(self, term: str) -> float:
        spellings = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in (" " + term, term)]
        ids = max(spellings, key=lambda ids: float(self.tokens.seen[ids[0]]))
        return float(self.tokens.gain[ids].mean())
