"""Aligning a block's tokens with the tokens of its anchored translation (WHP.md rules 1-4).

Tokenizer-agnostic: the translation is made on characters, and tokens are matched through
their character offsets. Where tokens at an anchor's boundary do not correspond one to
one, the position is left unlabelled, which is the safe choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.anchors.dictionary import Translation

UNLABELLED = -1


@dataclass(frozen=True)
class Alignment:
    """`source[t]`: the translated position whose output labels original position t, or
    UNLABELLED. `flatten`: (token id, from position) pairs: from that translated position
    on, the token's logit is set to the row mean (rule 4)."""

    source: list[int]
    flatten: list[tuple[int, int]]


def align(
    original_offsets: list[tuple[int, int]],
    n_original: int,
    translation: Translation,
    translated_ids: list[int],
    translated_offsets: list[tuple[int, int]],
) -> Alignment:
    """Map original positions [0, n_original) to translated positions.

    `original_offsets[t]` are character ranges in the original text, negative for special
    tokens; position 0 is BOS in both sequences. `translated_*` describe the tokenized
    translation (BOS first), possibly truncated.
    """
    by_range = {tuple(o): i for i, o in enumerate(translated_offsets) if o[0] >= 0 and o[1] > o[0]}
    starts = {o[0]: i for i, o in enumerate(translated_offsets) if o[0] >= 0 and o[1] > o[0]}
    spans = translation.spans
    last_of = [_last_translated_token(span.translated, starts, translated_offsets) for span in spans]
    source = [UNLABELLED] * n_original
    if n_original and translated_ids:
        source[0] = 0

    first_overlap: dict[int, int] = {}
    current, shift = 0, 0
    for t in range(1, n_original):
        start, end = original_offsets[t]
        if start < 0:
            continue
        while current < len(spans) and spans[current].original[1] <= start:
            span = spans[current]
            shift += (span.translated[1] - span.translated[0]) - (span.original[1] - span.original[0])
            current += 1
        if current == len(spans) or spans[current].original[0] >= end:
            source[t] = by_range.get((start + shift, end + shift), UNLABELLED)
            continue
        span = spans[current]
        first = first_overlap.setdefault(current, t)
        starts_on_anchor = original_offsets[first][0] == span.original[0]
        if end == span.original[1] and starts_on_anchor and last_of[current] is not None:
            source[t] = last_of[current]

    flatten: dict[int, int] = {}
    for index, span in enumerate(spans):
        if not span.first and index in first_overlap:
            source[first_overlap[index] - 1] = UNLABELLED
        if last_of[index] is not None:
            token = translated_ids[starts[span.translated[0]]]
            flatten[token] = min(flatten.get(token, last_of[index]), last_of[index])
    return Alignment(source, sorted(flatten.items()))


def _last_translated_token(span: tuple[int, int], starts: dict[int, int], offsets: list[tuple[int, int]]) -> int | None:
    """The last token of a translated span, if the span's tokens begin and end exactly on it."""
    if span[0] not in starts:
        return None
    for index in range(starts[span[0]], len(offsets)):
        if offsets[index][1] == span[1]:
            return index
        if offsets[index][1] > span[1] or offsets[index][0] < 0:
            return None
    return None
