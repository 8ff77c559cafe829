"""Inference-time WHP (compare=[whp_inference]): its logits against the two models' by hand,
its generation, its settings' errors, and the fourth model of a toy-world report."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests.conftest import TINY, compose_config, copy_cache
from unlearn.components import build_components
from unlearn.distributed import Processes
from unlearn.errors import UserError
from unlearn.inference_whp import InferenceTimeWHP


def _pair() -> tuple[LlamaForCausalLM, LlamaForCausalLM]:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=53, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
                         bos_token_id=None, eos_token_id=None)  # fmt: skip
    baseline = LlamaForCausalLM(config).eval()
    reinforced = copy.deepcopy(baseline)
    with torch.no_grad():
        for parameter in reinforced.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return baseline, reinforced


@pytest.mark.parametrize("alpha", [0.0, 5.0])
def test_logits_are_the_baseline_pushed_down_where_the_reinforced_model_rises(alpha):
    baseline, reinforced = _pair()
    ids = torch.randint(1, 53, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        base, boost = baseline(ids).logits, reinforced(ids).logits
        combined = InferenceTimeWHP(alpha).combine(baseline, reinforced)(input_ids=ids).logits
    expected = base - alpha * torch.clamp(boost - base, min=0)
    assert torch.allclose(combined, expected, atol=1e-5)
    assert alpha == 0 or not torch.allclose(combined, base, atol=1e-3)


def test_generation_follows_the_combined_logits_token_by_token():
    """Generated with the two models' key-value caches, a left-padded batch, twice (each prompt
    begins the reinforced model's cache anew): the tokens of recomputing the combined logits
    over the whole sequence at every step."""
    baseline, reinforced = _pair()
    prompts = [[5, 17, 3, 40], [8, 2]]
    with torch.no_grad():
        expected = []
        for prompt in prompts:
            sequence = torch.tensor([prompt])
            for _ in range(6):
                base, boost = baseline(sequence).logits[:, -1], reinforced(sequence).logits[:, -1]
                sequence = torch.cat([sequence, (base - 5.0 * torch.relu(boost - base)).argmax(-1, keepdim=True)], dim=-1)
            expected.append(sequence[0, len(prompt) :])
        model = InferenceTimeWHP(5.0).combine(baseline, reinforced)
        padded = torch.tensor([prompts[0], [0, 0, *prompts[1]]])
        mask = (torch.arange(4) >= torch.tensor([[0], [2]])).long()
        for _ in range(2):
            generated = model.generate(input_ids=padded, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=0)
            assert torch.equal(generated[:, 4:], torch.stack(expected))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["compare=[muse]"], r"compare=\['muse'\] names unknown model 'muse'; choose from \['whp_inference'\]"),
        (["compare=whp_inference"], r"compare=whp_inference must be a list of model names"),
        (["compare=[whp_inference]", "whp_inference.alpha=-1"], r"whp_inference\.alpha=-1(\.0)? must be >= 0"),
        (["compare=[whp_inference]", "reinforce=none", "labels=anchored_only"], r"compare=\['whp_inference'\] reads the reinforced model"),
    ],
)
def test_bad_comparisons_name_the_key(overrides, message, tmp_path):
    with pytest.raises(UserError, match=message):
        build_components(compose_config(overrides, tmp_path), Processes())


def test_whp_inference_is_a_fourth_model_that_forgets_on_the_toy_world(tiny_run, tmp_path):
    from unlearn.pipeline import run

    cfg = compose_config([*TINY, "compare=[whp_inference]", "stages=[evaluate]"], tmp_path)
    parts = build_components(cfg, Processes())
    assert "reinforce" in parts.stages and "unlearn" not in parts.stages and parts.compare["whp_inference"].alpha == 5.0
    copy_cache(tiny_run, tmp_path, ["target", "baseline", "reinforce"])
    report = run(cfg, tmp_path / "run")
    assert list(report["models"]) == ["baseline", "reinforced", "whp_inference"]
    base, combined = report["models"]["baseline"], report["models"]["whp_inference"]
    assert set(combined) == set(base)
    assert combined["familiarity_probability/score"] < base["familiarity_probability/score"]
    assert "whp_inference" in (tmp_path / "run" / "report.md").read_text()


def test_the_relearning_attack_trains_the_combination_on_its_own_loss():
    """The attack minimises the combined model's cross-entropy (the model every evaluator reads),
    not the loss its forward returns, which comes from the baseline alone; both models move."""
    from unlearn.blocks import NO_OFFSET, Blocks
    from unlearn.evaluation.relearn import RelearningAttack

    baseline, reinforced = _pair()
    ids = torch.randint(1, 53, (1, 12), generator=torch.Generator().manual_seed(2))
    blocks = Blocks(ids, torch.ones_like(ids), torch.full((*ids.shape, 2), NO_OFFSET), ("",))
    model = InferenceTimeWHP(5.0).combine(baseline, reinforced)
    with torch.no_grad():
        output = model(input_ids=ids, labels=ids)
        combined = torch.nn.functional.cross_entropy(output.logits[0, :-1], ids[0, 1:])
    assert not torch.isclose(output.loss, combined, atol=1e-3)  # the forward's own loss is the baseline's
    attacked, losses = RelearningAttack(measure=["probes"], steps=2, batch_size=1).train_copy(model, blocks)
    assert losses[0] == pytest.approx(float(combined), rel=1e-5)
    for name in ("model.embed_tokens.weight", "whp_reinforced.model.embed_tokens.weight"):
        assert not torch.equal(attacked.get_parameter(name), model.get_parameter(name)), name
