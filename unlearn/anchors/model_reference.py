"""Anchored terms found with a pretrained baseline standing in for ordinary text.

`anchors=auto` compares the target with reference text; a user forgetting a book rarely has
text "like the book but without its names" at hand. A pretrained baseline has read a great
deal of ordinary text, and three of its readings replace the reference, with one more
signal from the text:

- rarity: how much more often the target uses a term than the baseline expects it out of
  context, log(rate in the target) - log p_baseline(term | start of text). Names, places
  and invented words score high; so do archaic words of the target's period, which is why
  a second signal is needed;
- gain (the paper's own signal, docs/method.md): how much the reinforced model, trained
  further on the target, raises the term's tokens over the baseline (anchors/gain.py). A
  name the baseline could not guess rises; a word of the period, already predictable in
  context, rises little;
- names (not a reading of the model: discovery.names_in): the terms the text itself writes
  as names, capitalised where a sentence goes on and never in lower case. A name the
  baseline has read often (Duncan) is neither rare to it nor much raised by reinforcement;
- alternatives: what the baseline itself predicts where the term occurs, in context:
  the generic words a model that never read the target would put there (words of the
  same case as the term, not function words, not words the target itself over-uses, and
  not the first letters of an anchored term, which a model copying from context predicts).
  A term in capitals (a speaker's name as a script prints it) takes the alternatives of
  the same name as it is written in the text, in capitals: a model predicts word pieces,
  not names, where a script's capitals begin.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from unlearn.anchors.discovery import FUNCTION_WORDS, Discovered, TermCounts
from unlearn.anchors.gain import TermGain

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

WORD = re.compile(r"[A-Za-z][A-Za-z-]*")
# Characters of text before an occurrence that the baseline reads to predict the term there.
CONTEXT_CHARS = 400


@dataclass(frozen=True)
class ModelReading:
    """What the dictionary stage lends a source that reads models: the reinforced model's
    gain (when the run builds one) and, for discovery against the baseline, the baseline."""

    gain: TermGain | None
    baseline: PreTrainedModel | None = None
    tokenizer: PreTrainedTokenizerBase | None = None


@torch.inference_mode()
def out_of_context_logprob(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, terms: list[str], batch_size: int
) -> dict[str, float]:
    """log p(" term" | the start of a text) under `model`, summed over the term's tokens."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    result = {}
    for first in range(0, len(terms), batch_size):
        batch = terms[first : first + batch_size]
        sequences = [[start, *tokenizer(" " + term, add_special_tokens=False)["input_ids"]] for term in batch]
        length = max(map(len, sequences))
        ids = torch.tensor([s + [start] * (length - len(s)) for s in sequences], device=model.device)
        mask = torch.tensor([[1] * len(s) + [0] * (length - len(s)) for s in sequences], device=model.device)
        logprobs = model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
        for row, (term, sequence) in enumerate(zip(batch, sequences, strict=True)):
            result[term] = sum(float(logprobs[row, i - 1, sequence[i]]) for i in range(1, len(sequence)))
    return result


def rarity_of(target: TermCounts, logprob: dict[str, float]) -> dict[str, float]:
    """log(the term's share of the target's terms) - log p_baseline(term out of context)."""
    return {t: math.log(target.counts[t] / target.total) - logprob[t] for t in logprob}


def rate_terms(
    target: TermCounts, rarity: dict[str, float], gain: Callable[[list[str]], dict[str, float]] | None,
    min_rarity: float, min_gain: float, min_contexts: int,
) -> list[Discovered]:  # fmt: skip
    """The terms rarer in ordinary text (by the baseline) than in the target by at least
    `min_rarity` (natural log), raised by the reinforced model by at least `min_gain` when
    its gain is given, in at least `min_contexts` contexts; rarest first."""
    rare = [t for t, r in rarity.items() if r >= min_rarity and len(target.contexts[t]) >= min_contexts]
    gains = gain(rare) if gain is not None and rare else {}
    kept = [t for t in rare if gain is None or gains[t] >= min_gain]
    kept.sort(key=lambda t: -rarity[t])
    return [Discovered(t, rarity[t], target.counts[t], 0, len(target.contexts[t]), gains.get(t)) for t in kept]


def candidate_terms(target: TermCounts, min_count: int, min_contexts: int) -> list[str]:
    """Terms the target repeats, in varied contexts, that are not function words."""
    return [
        t for t, count in target.counts.items()
        if count >= min_count and len(target.contexts[t]) >= min_contexts and t.lower() not in FUNCTION_WORDS
    ]  # fmt: skip


def alternatives_of(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, documents: list[str], terms: list[str], excluded: set[str],
    per_term: int, occurrences: int, batch_size: int,
) -> dict[str, list[str]]:  # fmt: skip
    """Alternatives for each term (see the module's docstring); terms with none are left out."""
    written = {term: term.title() for term in terms if term.isupper()}
    read = [t for t in terms if t not in written]
    read += [t for t in dict.fromkeys(written.values()) if t not in read]
    stems = {w.lower() for t in terms for w in WORD.findall(t)}
    predicted = predicted_alternatives(model, tokenizer, documents, read, stems | excluded, per_term, occurrences, batch_size)
    alternatives = {t: predicted[t] for t in terms if t not in written and t in predicted}
    alternatives.update({t: [a.upper() for a in predicted[w]] for t, w in written.items() if w in predicted})
    return alternatives


def _usable(word: str, term: str, excluded: set[str]) -> bool:
    if len(word) < 3 or not WORD.fullmatch(word) or word.isupper() or word[0].isupper() != term[0].isupper():
        return False
    lower = word.lower()
    return lower not in FUNCTION_WORDS and not any(e.startswith(lower) for e in excluded)


@torch.inference_mode()
def predicted_alternatives(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, documents: list[str], terms: list[str], excluded: set[str],
    per_term: int, occurrences: int, batch_size: int, top_k: int = 50,
) -> dict[str, list[str]]:  # fmt: skip
    """Up to `per_term` words the baseline predicts where each term occurs (its first
    `occurrences` occurrences, each read with the text before it), by summed probability:
    words of the term's case, of three letters or more, neither function words nor in
    `excluded` (lower case), nor the first letters of an excluded word."""
    contexts: list[tuple[str, str]] = []
    for term in terms:
        pattern = re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])")
        found = [(d, m.start()) for d in documents for m in pattern.finditer(d)][:occurrences]
        contexts += [(term, d[max(0, at - CONTEXT_CHARS) : at].rstrip(" ")) for d, at in found if at > 0]
    tokenizer.padding_side = "left"
    scores: dict[str, Counter] = {term: Counter() for term in terms}
    for first in range(0, len(contexts), batch_size):
        batch = contexts[first : first + batch_size]
        encoded = tokenizer([text for _, text in batch], return_tensors="pt", padding=True).to(model.device)
        probabilities = model(**encoded, logits_to_keep=1).logits[:, -1].float().softmax(-1)
        top = probabilities.topk(min(top_k, probabilities.shape[-1]))
        for (term, _), values, ids in zip(batch, top.values.tolist(), top.indices.tolist(), strict=True):
            for value, token in zip(values, ids, strict=True):
                piece = tokenizer.decode([token])
                word = piece.strip()
                if piece.startswith(" ") and _usable(word, term, excluded):
                    scores[term][word] += value
    return {term: [w for w, _ in counted.most_common(per_term)] for term, counted in scores.items() if counted}
