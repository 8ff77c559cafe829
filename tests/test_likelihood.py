"""Per-token log-probabilities, projected a chunk of positions at a time, equal the model's own."""

from __future__ import annotations

import pytest
import torch

from tests.test_inference_whp import _pair
from unlearn.evaluation import likelihood
from unlearn.inference_whp import InferenceTimeWHP
from unlearn.training.loss import projects_linearly


def _by_full_logits(model, sequences):
    rows = []
    with torch.no_grad():
        for ids in sequences:
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
            rows.append(torch.log_softmax(logits, -1).gather(-1, torch.tensor(ids[1:])[:, None])[:, 0])
    return rows


@pytest.mark.parametrize("chunk", [3, 7, 10_000])
def test_chunked_log_probabilities_equal_the_models_own(chunk, monkeypatch):
    monkeypatch.setattr(likelihood, "CHUNK_TOKENS", chunk)
    model = _pair()[0]
    sequences = [[5, 9, 2, 40, 33, 7, 1], [8, 3], [12, 13, 14, 15]]
    chunked = likelihood.token_logprobs(model, sequences, pad_id=0, batch_size=2)
    for ours, expected in zip(chunked, _by_full_logits(model, sequences), strict=True):
        assert torch.allclose(ours, expected, atol=1e-5)


def test_a_model_with_a_replaced_forward_is_read_through_its_own_logits():
    baseline, reinforced = _pair()
    combined = InferenceTimeWHP(5.0).combine(baseline, reinforced)
    assert not projects_linearly(combined)
    sequences = [[5, 9, 2, 40, 33]]
    assert torch.allclose(likelihood.token_logprobs(combined, sequences, 0, 1)[0], _by_full_logits(combined, sequences)[0], atol=1e-5)
