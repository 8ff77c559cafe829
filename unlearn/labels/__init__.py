"""Generic labels (config group `labels`): how the two views of each position combine.

One generator covers the paper's labels and its ablations: `translate` says whether the
baseline reads the anchored translation of each block (the paper) or the original text
(`labels=reinforced_only`), and `alpha` how far the reinforced model's gains push tokens
down; with alpha = 0 the reinforced model drops out and the labels are the baseline's
prediction on the translation alone (`labels=anchored_only`, which needs no reinforced model).
`targets` says what the fine-tune learns of the combination: its argmax (`hard`, the paper's)
or its distribution at `temperature` (`soft`, labels/soft.py). `combine_on` says whether the
two views are combined as the models' raw logits (the paper's) or as log-probabilities.
`inside_anchors` says whether the tokens inside a multi-token anchor, which the translation
cannot label, stay unlabelled (the paper's), are labelled with the baseline on the original
text there, or, at the word boundaries of an anchor translated word for word, from the
translation. `retain_blocks` mixes blocks of the target's retain text, each labelled with the
baseline's own distribution, into what the fine-tune learns (beyond the paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from unlearn.errors import SettingError


def whp_combination(base: torch.Tensor, reinforced: torch.Tensor, alpha: float) -> torch.Tensor:
    """v_base - alpha * ReLU(v_reinforced - v_base): push down what reinforcement pushed up."""
    return base - alpha * torch.relu(reinforced - base)


TARGETS = ("hard", "soft")
SCALES = ("logits", "log_probs")
INSIDE_ANCHORS = ("unlabelled", "original", "by_word")


def to_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """`logits` [..., vocabulary] turned into log-probabilities in place, 256 rows at a time:
    a label batch of a real vocabulary is already several full-vocabulary copies, and each
    step's temporary is as large as its rows (50 MB for 256 rows of a 49k vocabulary)."""
    for rows in logits.view(-1, logits.shape[-1]).split(256):
        rows.sub_(rows.logsumexp(dim=-1, keepdim=True))
    return logits


@dataclass
class LabelGenerator:
    """`batch_size` blocks per forward pass, fewer where they would exceed `batch_tokens` tokens
    (0: no cap; a pass holds several blocks x length x vocabulary floats of logits, so long
    blocks of a real vocabulary are read a few at a time); per position, the top `top_k` tokens kept at alpha 0
    and at each of `store_alphas`, so that hard labels for any alpha up to the largest of them
    come from one pass (labels/candidates.py). Soft targets keep the `soft_top_k` most probable
    tokens of softmax(v_generic / temperature) per position (labels/soft.py).

    `combine_on`: a model's logits are defined up to a constant per position, and ReLU is not
    blind to it, so on raw logits the combination reads the offset between two models' rows:
    where the reinforced row sits higher overall, every token is pushed down, those whose
    probability reinforcement lowered included; where it sits lower, tokens it made likelier
    escape. On log-probabilities (`log_probs`) a token is pushed down exactly when, and as far
    as, reinforcement raised its probability (docs/method.md, "Combining log-probabilities").

    `inside_anchors`: the paper labels an anchor only at its last token, so what the book
    says inside a name or phrase of several tokens ("Weird" -> "Sisters", "Ban" -> "quo") is
    never unlearnt; `original` labels those positions with the baseline on the original
    text in place of the translated one, so there the labels push down exactly what
    reinforcement raised; `by_word` reads an anchor whose translation has as many words word
    by word ("weird sisters" -> "strange women"), so the position after "weird" takes the
    baseline's prediction after "strange" (docs/method.md, "Labels inside anchors").

    `retain_blocks`: soft targets leave the baseline's distribution wherever the method changes
    nothing, but only on the target's own text; what the fine-tune does to every other text is
    unconstrained, and on a real model it costs general knowledge (experiments/macbeth). The
    first `retain_blocks` blocks of the target's retain text, each position's target the
    baseline's own distribution at `temperature`, join the target's blocks, so that the
    fine-tune is held to the baseline off the target too (docs/method.md, "Retain blocks").
    Soft targets only: a hard label there would be the baseline's argmax, which sharpens."""

    alpha: float
    batch_size: int
    batch_tokens: int = 0
    top_k: int = 8
    translate: bool = True
    store_alphas: list[float] = field(default_factory=lambda: [1.25, 2.5, 5.0, 10.0, 20.0])
    targets: str = "hard"
    temperature: float = 1.0
    soft_top_k: int = 32
    combine_on: str = "logits"
    inside_anchors: str = "unlabelled"
    retain_blocks: int = 0

    def __post_init__(self) -> None:
        if self.alpha < 0:
            raise SettingError("alpha", self.alpha, "must be >= 0 (it scales how far reinforced tokens are pushed down; the paper uses 5)")
        if self.batch_size < 1:
            raise SettingError("batch_size", self.batch_size, "must be at least 1 (blocks per forward pass)")
        if self.batch_tokens < 0:
            raise SettingError("batch_tokens", self.batch_tokens, "must be >= 0 (tokens per forward pass at most; 0: batch_size blocks)")
        if self.top_k < 1:
            raise SettingError("top_k", self.top_k, "must be at least 1 (candidates of each kind kept per position; 8 is plenty)")
        if not self.store_alphas or any(not a > 0 for a in self.store_alphas) or sorted(set(self.store_alphas)) != self.store_alphas:
            raise SettingError("store_alphas", self.store_alphas, "must be alphas > 0 in ascending order, e.g. [1.25, 2.5, 5, 10, 20]")
        if self.targets not in TARGETS:
            raise SettingError("targets", self.targets, f"must be one of {', '.join(TARGETS)} (v_generic's argmax or its distribution)")
        if not self.temperature > 0:
            raise SettingError("temperature", self.temperature, "must be > 0 (soft targets are softmax(v_generic / temperature))")
        if self.combine_on not in SCALES:
            raise SettingError("combine_on", self.combine_on, f"must be one of {', '.join(SCALES)} (the paper combines raw logits)")
        if self.inside_anchors not in INSIDE_ANCHORS:
            raise SettingError(
                "inside_anchors", self.inside_anchors, f"must be one of {', '.join(INSIDE_ANCHORS)} (the paper leaves them unlabelled)"
            )
        if self.soft_top_k < 1:
            raise SettingError("soft_top_k", self.soft_top_k, "must be at least 1 (tokens of each soft target kept; 32 is plenty)")
        if self.retain_blocks < 0:
            raise SettingError("retain_blocks", self.retain_blocks, "must be >= 0 (blocks of retain text; 0: none, the paper's)")
        if self.retain_blocks and not self.soft:
            raise SettingError(
                "retain_blocks", self.retain_blocks, "needs soft targets (labels.targets=soft): a hard label there is the baseline's argmax"
            )

    def blocks_per_pass(self, block_length: int) -> int:
        """Blocks of `block_length` tokens read per forward pass: batch_size, capped by batch_tokens (at least one)."""
        return min(self.batch_size, max(1, self.batch_tokens // block_length)) if self.batch_tokens else self.batch_size

    @property
    def soft(self) -> bool:
        return self.targets == "soft"

    @property
    def reads_reinforced(self) -> bool:
        """With alpha = 0 the combination is the baseline's logits, whatever the reinforced model says."""
        return self.alpha > 0

    def scaled(self, logits: torch.Tensor) -> torch.Tensor:
        """A view's logits as the combination reads them (in place): raw, or as log-probabilities."""
        return to_log_probs(logits) if self.combine_on == "log_probs" else logits

    def combine(self, base: torch.Tensor, reinforced: torch.Tensor) -> torch.Tensor:
        """Logits whose argmax is the generic label, from the baseline's logits (on the translated
        text when `translate`, else on the original) and the reinforced model's on the original."""
        return whp_combination(base, reinforced, self.alpha)
