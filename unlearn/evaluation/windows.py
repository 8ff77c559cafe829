"""Samples of long text for the evaluators that score passages (membership inference,
verbatim memorization): every document cut into consecutive windows of tokens, and at most
a given number of them spread evenly over the whole text. A play given as one file is one
document; scoring it once would make one sample, and an AUC or a mean of one sample is no
measurement."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def token_windows(tokenizer: PreTrainedTokenizerBase, documents: list[str], length: int, whole_shorter: bool) -> list[list[int]]:
    """Each document's tokens in consecutive windows of `length`; a document shorter than one
    window is one window of its own when `whole_shorter` (membership scores any length), else
    it gives none (a verbatim sample needs its full length), as does a window's leftover tail."""
    windows = []
    for document in documents:
        ids = tokenizer(document, add_special_tokens=False)["input_ids"]
        if len(ids) < length:
            windows += [ids] if whole_shorter and ids else []
            continue
        windows += [ids[start : start + length] for start in range(0, len(ids) - length + 1, length)]
    return windows


def spread(items: list, limit: int) -> list:
    """At most `limit` of `items`, evenly spaced from the first, so a cap samples the whole text, not its beginning."""
    if len(items) <= limit:
        return items
    return [items[i * len(items) // limit] for i in range(limit)]
