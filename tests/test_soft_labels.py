"""Soft generic labels: the loss against a hand computation, its zero at the target, chunking,
the targets' alignment (rule 5), the retain blocks' targets and the stage end to end on the toy world."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY, compose_config, copy_cache
from tests.test_labels import NextIdModel
from tests.test_loss import _batch, _loss_and_gradients, _model
from unlearn.blocks import IGNORE, make_blocks
from unlearn.components import prepare
from unlearn.errors import UserError
from unlearn.labels import LabelGenerator
from unlearn.labels.generate import LabelInputs, generic_labels
from unlearn.labels.soft import soft_cross_entropy, soft_targets
from unlearn.settings import build
from unlearn.stages import LABELS_FILE, retain_targets
from unlearn.training.loss import CausalLMObjective, chunked_causal_lm_loss


def test_soft_cross_entropy_matches_a_hand_computation():
    logits = torch.tensor([[1.0, 2.0, 0.0, -1.0], [0.5, 0.5, 3.0, 0.0]])
    ids = torch.tensor([[1, 0], [2, 3]])
    probs = torch.tensor([[0.6, 0.3], [0.9, 0.1]])
    expected = 0.0
    for row in range(2):
        z = logits[row].tolist()
        log_norm = math.log(sum(math.exp(v) for v in z))
        log_q = [v - log_norm for v in z]
        kept = [int(i) for i in ids[row]]
        rest_q = sum(math.exp(log_q[j]) for j in range(4) if j not in kept)
        rest_p = 1 - float(probs[row].sum())
        expected -= sum(float(p) * log_q[i] for p, i in zip(probs[row], kept, strict=True))
        expected -= rest_p * math.log(rest_q) if rest_p > 1e-9 else 0.0
    assert float(soft_cross_entropy(logits, ids, probs)) == pytest.approx(expected, rel=1e-6)


def test_a_model_that_predicts_its_target_has_no_gradient():
    """The reason for soft labels: where the target is the model's own distribution (the
    method changes nothing there), the fine-tune leaves it alone."""
    logits = torch.randn(5, 11, generator=torch.Generator().manual_seed(0), requires_grad=True)
    top = logits.detach().softmax(-1).topk(3, dim=-1)
    soft_cross_entropy(logits, top.indices, top.values).backward()
    assert logits.grad.abs().max() < 1e-6
    hard = torch.nn.functional.cross_entropy(logits, top.indices[:, 0], reduction="sum")
    assert torch.autograd.grad(hard, logits)[0].abs().max() > 0.1


def _soft_batch() -> dict[str, torch.Tensor]:
    batch = _batch()
    generator = torch.Generator().manual_seed(2)
    raw = torch.rand(3, 16, 4, generator=generator)
    batch["target_ids"] = torch.randint(0, 97, (3, 16, 4), generator=generator).int()
    batch["target_ids"][..., 1] = (batch["target_ids"][..., 0] + 1) % 97  # distinct tokens per position
    batch["target_ids"][..., 2] = (batch["target_ids"][..., 0] + 2) % 97
    batch["target_ids"][..., 3] = (batch["target_ids"][..., 0] + 3) % 97
    batch["target_probs"] = 0.9 * raw / raw.sum(-1, keepdim=True)
    return batch


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_chunked_soft_loss_equals_the_loss_on_the_models_own_logits(chunk):
    model, batch = _model(), _soft_batch()

    def direct(m):
        logits = m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labelled = batch["labels"][:, 1:] != IGNORE
        ids, probs = batch["target_ids"][:, 1:][labelled], batch["target_probs"][:, 1:][labelled]
        return soft_cross_entropy(logits[labelled], ids, probs) / labelled.sum()

    own, own_grads = _loss_and_gradients(model, direct)
    ours, our_grads = _loss_and_gradients(model, lambda m: chunked_causal_lm_loss(m, batch, chunk))
    unchunked, _ = _loss_and_gradients(model, lambda m: CausalLMObjective(m, 0)(batch))
    assert ours == pytest.approx(own, rel=1e-6) and unchunked == pytest.approx(own, rel=1e-6)
    for name, grad in own_grads.items():
        assert torch.allclose(our_grads[name], grad, rtol=1e-4, atol=1e-7), name


def test_soft_targets_are_stored_shifted_and_their_argmax_is_the_hard_label():
    from tests.test_labels import tokenizer_family

    tokenizer = tokenizer_family("toy", ["Kelara grew up in Ashwick.", "John kept a dog. John kept a cat."] * 10, 300)
    blocks = make_blocks(tokenizer, ["Kelara grew up in Ashwick.", "John kept a dog. John kept a cat."], 16)
    vocab = len(tokenizer)
    generator = LabelGenerator(alpha=5.0, batch_size=1, translate=False, targets="soft", temperature=2.0, soft_top_k=3)
    inputs = LabelInputs(blocks, generator, NextIdModel(vocab, 1, scale=4.0), NextIdModel(vocab, 2, scale=6.0), tokenizer, None, 0)
    targets = soft_targets(inputs, generator.temperature, generator.soft_top_k)
    keep = blocks.attention_mask.bool()[:, 1:]
    assert torch.equal(targets.labels(), generic_labels(inputs))
    assert not targets.probs[:, 0].any() and not targets.probs[:, 1:][~keep].any()
    # By hand: the baseline gives 4 to (t+1) mod V, the reinforced model 6 to (t+2) mod V, which
    # alpha 5 pushes down to -10; every other token scores 0. At temperature 2 the target is
    # e^2 on (t+1), e^-5 on (t+2), 1 on each of the V - 2 others.
    norm = math.exp(2) + math.exp(-5) + (vocab - 2)
    first = targets.probs[:, 1:][keep][:, 0]
    assert torch.allclose(first, torch.full_like(first, math.exp(2) / norm), rtol=1e-4)
    assert torch.equal(targets.ids[:, 1:][keep][:, 0].long(), ((blocks.input_ids[:, :-1] + 1) % vocab)[keep])
    assert not (targets.ids[:, 1:][keep] == ((blocks.input_ids[:, :-1] + 2) % vocab)[keep].unsqueeze(-1)).any()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("labels.targets=argmax", r"labels\.targets=argmax must be one of hard, soft"),
        ("labels.temperature=0", r"labels\.temperature=0(\.0)? must be > 0"),
        ("labels.soft_top_k=0", r"labels\.soft_top_k=0 must be at least 1"),
        ("labels.retain_blocks=-1", r"labels\.retain_blocks=-1 must be >= 0"),
    ],
)
def test_bad_soft_settings_name_the_key(override, message, tmp_path):
    with pytest.raises(UserError, match=message):
        build(compose_config(["labels=soft", override], tmp_path).labels, "labels")


def test_labels_soft_composes_and_the_run_unlearns_with_it(tiny_run, tmp_path):
    from unlearn.pipeline import run

    cfg = compose_config([*TINY, "labels=soft", "labels.temperature=0.5"], tmp_path)
    generator = build(cfg.labels, "labels")
    assert generator.soft and generator.temperature == 0.5 and generator.alpha == 5.0
    copy_cache(tiny_run, tmp_path, ["target", "baseline", "reinforce", "dictionary"])
    report = run(cfg, tmp_path / "run")
    tensors = load_file(tmp_path / "cache" / "labels" / report["cache"]["labels"]["key"] / LABELS_FILE)
    labelled = tensors["labels"] != IGNORE
    kept = tensors["target_probs"].sum(-1)[labelled]
    assert float(kept.max()) <= 1.0 + 1e-5 and not tensors["target_probs"].sum(-1)[~labelled].any()
    assert report["labels"]["soft_kept_mass"] == pytest.approx(float(kept.mean()), rel=1e-5) and float(kept.mean()) > 0.9
    base, after = report["models"]["baseline"], report["models"]["unlearned"]
    assert after["familiarity_probability/score"] < base["familiarity_probability/score"]


def test_retain_blocks_take_the_baselines_own_distribution_on_the_retain_text(tmp_path):
    """Whatever the generator translates or reinforces on the corpus, a retain block's target is
    the baseline alone on the text as it is, at the generator's temperature, shifted as every label."""
    from tests.test_labels import tokenizer_family

    retain = tmp_path / "retain.txt"
    retain.write_text("John kept a dog. John kept a cat. " * 6)
    tokenizer = tokenizer_family("toy", ["Kelara grew up in Ashwick.", "John kept a dog. John kept a cat."] * 10, 300)
    corpus = make_blocks(tokenizer, ["Kelara grew up in Ashwick."], 16)
    vocab = len(tokenizer)
    generator = LabelGenerator(alpha=5.0, batch_size=2, targets="soft", temperature=2.0, soft_top_k=3, retain_blocks=2)
    read = LabelInputs(corpus, generator, NextIdModel(vocab, 1, scale=4.0), NextIdModel(vocab, 2, scale=6.0), tokenizer, None, 0)
    blocks, targets = retain_targets(read, [retain])
    made = make_blocks(tokenizer, [retain.read_text()], 16)
    assert len(made) > 2 and torch.equal(blocks.input_ids, made.input_ids[:2]) and blocks.texts == made.texts[:2]
    keep = blocks.attention_mask.bool()[:, 1:]
    assert not targets.probs[:, 0].any() and keep.all()
    # The baseline gives 4 to (t+1) mod V and 0 to every other token; at temperature 2 that is
    # e^2 on (t+1) and 1 on each of the V - 1 others. The reinforced model is not read.
    first = targets.probs[:, 1:, 0]
    assert torch.allclose(first, torch.full_like(first, math.exp(2) / (math.exp(2) + vocab - 1)), rtol=1e-4)
    assert torch.equal(targets.ids[:, 1:, 0].long(), (blocks.input_ids[:, :-1] + 1) % vocab)
    assert torch.equal(targets.labels()[:, 1:], (blocks.input_ids[:, :-1] + 1) % vocab)


def test_retain_blocks_need_soft_targets_and_retain_text(tmp_path):
    with pytest.raises(UserError, match=r"labels\.retain_blocks=2 needs soft targets \(labels\.targets=soft\)"):
        build(compose_config(["labels=whp", "labels.retain_blocks=2"], tmp_path).labels, "labels")
    corpus = tmp_path / "story.txt"
    corpus.write_text("Kelara grew up in Ashwick and kept a dog.")
    overrides = [
        "target=text_files",
        f"target.corpus=[{corpus}]",
        "labels=soft",
        "labels.retain_blocks=2",
        "labels.alpha=0",
        "labels.translate=false",
    ]
    with pytest.raises(UserError, match=r"labels\.retain_blocks=2 labels retain text, and target=text_files has none: .*retain_blocks=0"):
        prepare(compose_config(overrides, tmp_path))


def test_retain_blocks_join_the_corpus_in_the_labels_and_the_run_unlearns_with_them(tiny_run, tmp_path):
    from unlearn.pipeline import run

    cfg = compose_config([*TINY, "labels=soft", "labels.retain_blocks=3"], tmp_path)
    copy_cache(tiny_run, tmp_path, ["target", "baseline", "reinforce", "dictionary"])
    report = run(cfg, tmp_path / "run")
    tensors = load_file(tmp_path / "cache" / "labels" / report["cache"]["labels"]["key"] / LABELS_FILE)
    corpus = len(tensors["input_ids"]) - 3
    retain_ids = tensors["input_ids"][corpus:]
    assert report["labels"]["retain_blocks"] == 3 and report["labels"]["retain_tokens"] == int(tensors["attention_mask"][corpus:].sum())
    # Every position of a retain block after BOS is labelled, with the argmax of its target.
    labelled = tensors["labels"][corpus:, 1:] != IGNORE
    assert torch.equal(labelled, tensors["attention_mask"][corpus:, 1:].bool())
    assert torch.equal(tensors["labels"][corpus:, 1:][labelled], tensors["target_ids"][corpus:, 1:, 0][labelled].long())
    assert not any(torch.equal(row, other) for row in retain_ids for other in tensors["input_ids"][:corpus])
    base, after = report["models"]["baseline"], report["models"]["unlearned"]
    assert after["familiarity_probability/score"] < base["familiarity_probability/score"]
