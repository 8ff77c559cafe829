"""Passage samples for membership inference and verbatim memorization: a long document gives
many windows, a cap samples the whole text, and too few samples for an AUC is said, not scored."""

from __future__ import annotations

import pytest

from unlearn.evaluation import NotApplicable
from unlearn.evaluation.mia import MinKMembership
from unlearn.evaluation.windows import spread, token_windows


class WordTokenizer:
    """One token per word: enough to see where windows are cut."""

    pad_token_id = 0

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": [len(word) for word in text.split()]}


def test_a_long_document_is_cut_into_whole_windows_and_a_short_one_kept_only_when_asked():
    documents = [" ".join(["w"] * 10), "a bb"]
    assert token_windows(WordTokenizer(), documents, 4, whole_shorter=True) == [[1] * 4, [1] * 4, [1, 2]]
    assert token_windows(WordTokenizer(), documents, 4, whole_shorter=False) == [[1] * 4, [1] * 4]


def test_a_cap_spreads_over_the_whole_text():
    assert spread(list(range(10)), 4) == [0, 2, 5, 7]
    assert spread([1, 2], 4) == [1, 2]


def test_too_few_windows_for_an_auc_is_not_measurable_with_the_reason():
    mia = MinKMembership(k_percent=20, max_tokens=4, max_windows=128, batch_size=8, min_windows=8)
    with pytest.raises(NotApplicable, match=r"makes 2 windows of 4 tokens, fewer than min_windows=8"):
        mia.scores(None, WordTokenizer(), [" ".join(["w"] * 8)], "member (corpus)")
