"""The reinforced model's signal for anchored terms: the tokens it expects, in the target's
own text, more than the baseline does.

Fine-tuned further on the target, the reinforced model raises the probability of what is
idiosyncratic to it (docs/method.md); the gain of a token is the mean rise of its
log-probability, reinforced over baseline, at the positions of the target's blocks where it
is the next token. A term's gain is the mean over its tokens, in the spelling the text
uses: a byte-level tokenizer (GPT-2's, SmolLM2's) spells a word differently after a space
and at a line's start, and a script's speaker names ("MACBETH." on a line of its own) occur
only at line starts, where the tokens of " MACBETH" never come next and would read 0. When
the baseline already predicts the target's names almost surely (the toy baseline learned
its world), there is little left to raise, and the signal is weak: see
experiments/anchors_auto/.
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
def next_token_gain(
    baseline: PreTrainedModel, reinforced: PreTrainedModel, blocks: Blocks, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token id, the mean log-probability gain where it is the next token (0 where it
    never is), and how many times it is."""
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
    return total / seen.clamp(min=1), seen


@dataclass
class TermGain:
    """Per-token gains and counts (next_token_gain) read as terms: a term's gain is the mean
    over the tokens of its spelling after a space or bare (at a line's start), whichever the
    text has more of (the larger count of its rarest token; after a space on a tie)."""

    gain: torch.Tensor
    seen: torch.Tensor
    tokenizer: PreTrainedTokenizerBase

    def of_terms(self, terms: Iterable[str]) -> dict[str, float]:
        return {term: float(self.of_tokens(term).mean()) for term in terms}

    def of_tokens(self, term: str) -> torch.Tensor:
        """The gain of each token of the term's spelling, in order."""
        return self.gain[self.spelling(term)]

    def spelling(self, term: str) -> list[int]:
        """The token ids of the term as the text spells it most often."""
        spellings = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in (" " + term, term)]
        return max(spellings, key=lambda ids: int(self.seen[ids].min()))
