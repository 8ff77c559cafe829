"""Scores shared by evaluators: ROUGE-L (through rouge-score) and the ROC AUC of a two-sample split."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer


@cache
def _scorer() -> RougeScorer:
    # Imported here: rouge-score takes seconds to import (nltk), and a run checks its configuration first.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> tuple[float, float]:
    """(recall, F1) of the longest common subsequence of words, reference first as rouge-score expects."""
    score = _scorer().score(reference, prediction)["rougeL"]
    return score.recall, score.fmeasure


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        raise ValueError("roc_auc needs at least one positive and one negative score")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))
