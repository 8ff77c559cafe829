"""Aligning a block's tokens with the tokens of its anchored translation (docs/method.md, rules 1-4).

Tokenizer-agnostic: the translation is made on characters, and tokens are matched through
their character spans. A span is compared without its leading whitespace, because
tokenizers disagree on whom a word's space belongs to: byte-level BPE reports " Ron" as
"Ron", SentencePiece ("▁Ron") as " Ron". Where tokens at an anchor's boundary do not
correspond one to one, the position is left unlabelled, which is the safe choice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from unlearn.anchors.dictionary import Translation

UNLABELLED = -1

# Part of every labels cache key: raised whenever a change here or in the dictionary's matching
# gives a block other labels, so a cache written by an earlier release is never reused.
REVISION = 2

Span = tuple[int, int]


@dataclass(frozen=True)
class Alignment:
    """`source[t]`: the translated position whose output labels original position t, or
    UNLABELLED. `flatten`: (token id, from position) pairs: from that translated position
    on, the token's logit is set to the row mean (rule 4). `inside`: the original positions
    that overlap an anchor and have no translated position (rule 1), but for those rule 3
    leaves unlabelled: the translation says nothing about them, the original text can
    (labels.inside_anchors, docs/method.md "Labels inside anchors")."""

    source: list[int]
    flatten: list[tuple[int, int]]
    inside: list[int]


def word_spans(offsets: Sequence[Sequence[int]], text: str) -> list[Span | None]:
    """Each token's character span in `text` without its leading whitespace (a token that is
    only whitespace keeps its span); None for special tokens (negative offsets)."""
    spans: list[Span | None] = []
    for start, end in offsets:
        if start < 0:
            spans.append(None)
            continue
        piece = text[start:end]
        trimmed = start + len(piece) - len(piece.lstrip())
        spans.append((trimmed, end) if trimmed < end else (start, end))
    return spans


def _numbered(spans: Sequence[Span | None]) -> list[tuple[int, int, int] | None]:
    """Each span with how many earlier tokens have the same span: byte-fallback tokens of one
    character all report that character's span, and the k-th of them matches the k-th."""
    seen: Counter[Span] = Counter()
    numbered: list[tuple[int, int, int] | None] = []
    for span in spans:
        if span is None:
            numbered.append(None)
            continue
        numbered.append((*span, seen[span]))
        seen[span] += 1
    return numbered


def align(
    original: Sequence[Span | None], translation: Translation, translated_ids: Sequence[int], translated: Sequence[Span | None],
    by_word: bool = False,
) -> Alignment:  # fmt: skip
    """Map original positions to translated positions.

    `original[t]` and `translated[t]` are the word spans of each sequence's tokens (BOS
    first, None for special tokens) in the original text and in `translation.text`; the
    translated sequence may be truncated. `by_word`: rules 1 and 3 read an anchor whose
    translation has as many words word by word (Translation.by_word); rule 4 still flattens
    the first token of each whole translation, as the paper does.
    """
    numbered_translated = _numbered(translated)
    by_span = {span: i for i, span in enumerate(numbered_translated) if span is not None}
    starts: dict[int, int] = {}
    for i, span in enumerate(translated):
        if span is not None:
            starts.setdefault(span[0], i)
    anchors = translation.by_word() if by_word else translation.spans
    last_of = [_last_translated_token(anchor.translated, starts, translated) for anchor in anchors]
    source = [UNLABELLED] * len(original)
    if original and translated_ids:
        source[0] = 0

    first_overlap: dict[int, int] = {}
    inside: set[int] = set()
    current, shift = 0, 0
    for t, numbered in enumerate(_numbered(original)):
        if t == 0 or numbered is None:
            continue
        start, end, occurrence = numbered
        while current < len(anchors) and anchors[current].original[1] <= start:
            anchor = anchors[current]
            shift += (anchor.translated[1] - anchor.translated[0]) - (anchor.original[1] - anchor.original[0])
            current += 1
        if current == len(anchors) or anchors[current].original[0] >= end:
            source[t] = by_span.get((start + shift, end + shift, occurrence), UNLABELLED)
            continue
        anchor = anchors[current]
        first = first_overlap.setdefault(current, t)
        starts_on_anchor = original[first][0] == anchor.original[0]
        if end == anchor.original[1] and starts_on_anchor and last_of[current] is not None:
            source[t] = last_of[current]
        else:
            inside.add(t)

    for index, anchor in enumerate(anchors):
        if not anchor.first and index in first_overlap:
            source[first_overlap[index] - 1] = UNLABELLED
            inside.discard(first_overlap[index] - 1)
    flatten: dict[int, int] = {}
    for anchor in translation.spans:
        last = _last_translated_token(anchor.translated, starts, translated)
        if last is not None:
            token = translated_ids[starts[anchor.translated[0]]]
            flatten[token] = min(flatten.get(token, last), last)
    return Alignment(source, sorted(flatten.items()), sorted(inside))


def _last_translated_token(span: Span, starts: dict[int, int], spans: Sequence[Span | None]) -> int | None:
    """The last token of a translated span, if the span's tokens begin and end exactly on it."""
    if span[0] not in starts:
        return None
    for index in range(starts[span[0]], len(spans)):
        token = spans[index]
        if token is None or token[1] > span[1]:
            return None
        if token[1] == span[1]:
            return index
    return None
