"""Finding anchored terms without an external LLM, from the target and ordinary reference text.

A term is a word, or a run of capitalized words ("Professor Ebbell", "Vellmoor Academy").
It is anchored when the target uses it far more than the reference: a log-odds ratio with
an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008) above `min_z`, a rate at
least `min_rate_ratio` times the reference's, and at least `min_contexts` distinct
(previous token, next token) contexts. The last test keeps the names that fill the
target's slots ("Kelara came from Ashwick", "Ashwick's market was busy") and drops the
words of set phrases that merely repeat ("the candles in the great hall flickered").

With the reinforced model's signal (gain.py), up to `reinforced_terms` more terms join:
of those the target over-represents (z >= min_z, enough contexts) but that miss the
rate-ratio test, the ones whose tokens the reinforced model raises most (gain > 0).

Alternatives come from the reference by distribution: the reference terms that fill the
same (previous, next) contexts as the anchored term, weighted by how specific each
context is, of the same case (a name for a name, a noun for a noun).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

TOKEN = re.compile(r"(?:Mr|Mrs|Ms|Dr|St)\.|[A-Za-z][A-Za-z-]*|'s\b|[.,;:!?]")
Context = tuple[str, str]
# Words too common in any text to stand in for a term, whatever their contexts.
FUNCTION_WORDS = frozenset(
    (
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "but",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "as",
        "is",
        "was",
        "were",
        "be",
        "been",
        "has",
        "had",
        "have",
        "that",
        "this",
        "these",
        "those",
        "his",
        "her",
        "its",
        "their",
        "our",
        "my",
        "your",
        "he",
        "she",
        "it",
        "they",
        "we",
        "i",
        "you",
        "who",
        "whom",
        "which",
        "what",
        "not",
        "no",
    )
)


def terms_in(text: str) -> tuple[list[str], list[tuple[str, int, int]]]:
    """The tokens of `text`, and its terms with the token range [first, last] each spans."""
    tokens = TOKEN.findall(text)
    terms, i = [], 0
    while i < len(tokens):
        j = i
        if tokens[i][0].isupper():
            while j + 1 < len(tokens) and tokens[j + 1][0].isupper():
                j += 1
        terms.append((" ".join(tokens[i : j + 1]), i, j))
        i = j + 1
    return tokens, terms


@dataclass
class TermCounts:
    """How often each term occurs in a corpus, and in which (previous, next) token contexts."""

    counts: Counter
    contexts: dict[str, Counter]

    @classmethod
    def of(cls, documents: Iterable[str]) -> TermCounts:
        counts: Counter = Counter()
        contexts: dict[str, Counter] = defaultdict(Counter)
        for document in documents:
            tokens, terms = terms_in(document)
            for term, first, last in terms:
                if not term[0].isalpha():
                    continue
                counts[term] += 1
                before = tokens[first - 1].lower() if first else "<s>"
                after = tokens[last + 1].lower() if last + 1 < len(tokens) else "</s>"
                contexts[term][(before, after)] += 1
        return cls(counts, contexts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Discovered:
    term: str
    z: float
    target_count: int
    reference_count: int
    contexts: int
    gain: float | None = None  # set for the terms the reinforced model's signal added
    mid_sentence: float | None = None  # set for the terms found as names by the text's capitals (names_in)


SENTENCE_ENDS = frozenset(".;:!?")


def names_in(documents: Iterable[str], target: TermCounts, min_count: int, min_contexts: int, min_mid_sentence: float) -> dict[str, float]:
    """The terms the target writes as names, with the share of their occurrences that stand
    mid-sentence: in title case, never in lower case, and at least `min_mid_sentence` of the
    time after a word or a comma on the same line. A pretrained model has read common names
    (Duncan, Malcolm, Angus) too often to find them rare, and a reinforced model raises a name
    it already predicts in context little; the text's own capitals still say they are names.
    Verse capitalises each line's first word and a sentence's first word is capitalised
    anyway, so only the words capitalised where a sentence goes on count ("Thence" opening
    verse lines is no name)."""
    seen: Counter = Counter()
    mid: Counter = Counter()
    for document in documents:
        for line in document.splitlines():
            tokens, terms = terms_in(line)
            for term, first, _ in terms:
                seen[term] += 1
                mid[term] += first > 0 and tokens[first - 1] not in SENTENCE_ENDS
    names = {}
    for term, count in target.counts.items():
        written_as_name = term[0].isupper() and not term.isupper() and term.lower() not in target.counts
        if not written_as_name or count < min_count or len(target.contexts[term]) < min_contexts or term.lower() in FUNCTION_WORDS:
            continue
        share = mid[term] / seen[term] if seen[term] else 0.0
        if share >= min_mid_sentence:
            names[term] = share
    return names


def log_odds_z(target: TermCounts, reference: TermCounts, term: str, prior: float) -> float:
    """z-score of the log-odds ratio of `term` in target vs reference, informative Dirichlet prior of size `prior`."""
    y_t, y_r = target.counts[term], reference.counts.get(term, 0)
    n_t, n_r = target.total, reference.total
    a_w = prior * (y_t + y_r) / (n_t + n_r)
    delta = math.log((y_t + a_w) / (n_t + prior - y_t - a_w)) - math.log((y_r + a_w) / (n_r + prior - y_r - a_w))
    return delta / math.sqrt(1 / (y_t + a_w) + 1 / (y_r + a_w))


def discover_terms(
    target: TermCounts,
    reference: TermCounts,
    min_z: float,
    min_rate_ratio: float,
    min_contexts: int,
    prior: float,
    reinforced_terms: int = 0,
    gains: Callable[[list[str]], dict[str, float]] | None = None,
) -> list[Discovered]:
    """The anchored terms of the target, most distinctive first, then those the reinforced model's gain adds."""
    found, runners_up = [], []
    for term, count in target.counts.items():
        if term.lower() in FUNCTION_WORDS:
            continue
        z = log_odds_z(target, reference, term, prior)
        ratio = (count / target.total) / ((reference.counts.get(term, 0) + 0.5) / max(reference.total, 1))
        contexts = len(target.contexts[term])
        if z >= min_z and contexts >= min_contexts:
            (found if ratio >= min_rate_ratio else runners_up).append(Discovered(term, z, count, reference.counts.get(term, 0), contexts))
    found.sort(key=lambda d: -d.z)
    if reinforced_terms and runners_up and gains is not None:
        gain = gains([d.term for d in runners_up])
        raised = sorted((d for d in runners_up if gain[d.term] > 0), key=lambda d: -gain[d.term])[:reinforced_terms]
        found += [replace(d, gain=gain[d.term]) for d in raised]
    return found


def propose_alternatives(terms: list[str], target: TermCounts, reference: TermCounts, per_term: int) -> dict[str, list[str]]:
    """Up to `per_term` reference terms per anchored term, by the contexts they share; terms with none are left out."""
    fillers: dict[Context, Counter] = defaultdict(Counter)
    for term, contexts in reference.contexts.items():
        for context, count in contexts.items():
            fillers[context][term] += count
    anchored = set(terms)
    proposals = {}
    for term in terms:
        scores: Counter = Counter()
        for context, count in target.contexts[term].items():
            candidates = fillers.get(context)
            if not candidates:
                continue
            specificity = math.log(1 + len(reference.counts) / len(candidates))
            total = sum(candidates.values())
            for candidate, seen in candidates.items():
                if candidate in anchored or candidate.lower() in FUNCTION_WORDS or candidate[0].isupper() != term[0].isupper():
                    continue
                scores[candidate] += count * specificity * seen / total
        alternatives = [candidate for candidate, _ in scores.most_common(per_term)]
        if alternatives:
            proposals[term] = alternatives
    return proposals


CASINGS: dict[str, Callable[[str], str]] = {"capitals": str.upper, "title case": str.title, "lower case": str.lower}


def case_variants(alternatives: dict[str, list[str]], target: TermCounts) -> dict[str, tuple[str, str, list[str]]]:
    """The other spellings by case that the target gives each term with alternatives, with the
    alternatives spelt the same way: variant -> (term, casing, alternatives). A script prints
    its speakers' names in capitals (BANQUO before each speech of Banquo's), which stand in one
    context at a line's start and which a model raises little, so discovery misses them while
    finding the name in the text; a name found in one spelling is the same name in the others."""
    variants: dict[str, tuple[str, str, list[str]]] = {}
    for term, proposed in alternatives.items():
        for casing, spell in CASINGS.items():
            variant = spell(term)
            if variant not in alternatives and variant not in variants and target.counts.get(variant, 0) > 0:
                variants[variant] = (term, casing, list(dict.fromkeys(spell(a) for a in proposed)))
    return variants
