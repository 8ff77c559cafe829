"""The chunked loss is the model's own loss, gradients included, whatever the chunk."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from unlearn.blocks import IGNORE
from unlearn.training.loss import CausalLMObjective, chunked_causal_lm_loss, projects_linearly


def _model(tied: bool = False) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=32, tie_word_embeddings=tied)  # fmt: skip
    return LlamaForCausalLM(config)


def _batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 97, (3, 16), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[2, 11:] = 0
    labels = torch.randint(0, 97, (3, 16), generator=generator)
    labels[:, :4] = IGNORE
    labels[2, 11:] = IGNORE
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def _loss_and_gradients(model, loss_of) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad()
    loss = loss_of(model)
    loss.backward()
    return float(loss), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 10_000])
@pytest.mark.parametrize("items", [None, 50.0])
def test_chunked_loss_and_gradients_equal_the_models_own(tied, chunk, items):
    model, batch = _model(tied), _batch()
    num_items = None if items is None else torch.tensor(items)
    extra = {} if num_items is None else {"num_items_in_batch": num_items}
    own, own_grads = _loss_and_gradients(model, lambda m: m(**batch, **extra).loss)
    ours, our_grads = _loss_and_gradients(model, lambda m: chunked_causal_lm_loss(m, batch, chunk, num_items))
    assert ours == pytest.approx(own, rel=1e-6)
    for name, grad in own_grads.items():
        assert torch.allclose(our_grads[name], grad, rtol=1e-4, atol=1e-7), name


def test_a_share_without_labels_still_reaches_every_weight():
    """A process whose slice of the batch has no labelled position contributes zero, but a
    gradient for every weight, as data-parallel reduction needs."""
    model, batch = _model(), _batch()
    batch["labels"][:] = IGNORE
    loss = chunked_causal_lm_loss(model, batch, 4, torch.tensor(10.0))
    loss.backward()
    assert float(loss) == 0.0
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())


def test_models_whose_logits_are_more_than_a_projection_use_their_own_loss():
    model = _model()
    assert projects_linearly(model) and CausalLMObjective(model, 64).chunk_tokens == 64
    model.config.final_logit_softcapping = 30.0
    assert not projects_linearly(model) and CausalLMObjective(model, 64).chunk_tokens == 0
    assert not projects_linearly(torch.nn.Linear(2, 2))
