"""Generic labels: the combination, storage alignment (rule 5), ablations, determinism."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import compose_config
from tests.tokenizer_families import tokenizer as tokenizer_family
from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.blocks import IGNORE, make_blocks
from unlearn.errors import UserError
from unlearn.labels import LabelGenerator, whp_combination
from unlearn.labels.generate import LabelInputs, generic_labels
from unlearn.models import load_causal_lm
from unlearn.settings import build
from unlearn.stages import LABELS_FILE


def test_combination_matches_an_independent_computation():
    generator = torch.Generator().manual_seed(0)
    base, reinforced = torch.randn(3, 7, 11, generator=generator), torch.randn(3, 7, 11, generator=generator)
    alpha = 2.5
    expected = torch.empty_like(base)
    for index in range(base.numel()):
        b, r = base.view(-1)[index].item(), reinforced.view(-1)[index].item()
        expected.view(-1)[index] = b - alpha * max(0.0, r - b)
    assert torch.allclose(whp_combination(base, reinforced, alpha), expected, atol=1e-6)


def test_alpha_zero_gives_the_base_argmax():
    base, reinforced = torch.randn(2, 5, 9), torch.randn(2, 5, 9)
    assert torch.equal(LabelGenerator(alpha=0.0, batch_size=1).combine(base, reinforced).argmax(-1), base.argmax(-1))


def test_on_log_probs_a_token_is_pushed_down_as_far_as_reinforcement_raised_its_probability():
    """Reinforcement raises token 2's logit by 3 and leaves the others; an offset added to the
    whole reinforced row changes no probability. On log-probabilities the combination ignores the
    offset and lowers token 2 alone, by alpha times its log-probability gain; on raw logits (the
    paper's) the offset decides: below, token 2 escapes; above, every token is pushed down."""
    base = torch.tensor([[2.0, 1.0, 1.5]])
    reinforced = base + torch.tensor([[0.0, 0.0, 3.0]])
    log_probs = LabelGenerator(alpha=5.0, batch_size=1, combine_on="log_probs")
    paper = LabelGenerator(alpha=5.0, batch_size=1)
    lb, lr = base.log_softmax(-1), reinforced.log_softmax(-1)
    expected = lb - 5.0 * torch.tensor([[0.0, 0.0, float(lr[0, 2] - lb[0, 2])]])
    for offset in (-10.0, 0.0, 10.0):
        combined = log_probs.combine(log_probs.scaled(base.clone()), log_probs.scaled(reinforced + offset))
        assert torch.allclose(combined, expected, atol=1e-5)
    assert torch.equal(paper.combine(base, reinforced - 10.0), base)
    assert torch.allclose(paper.combine(base, reinforced + 10.0), base - 5.0 * torch.tensor([[10.0, 10.0, 13.0]]))


def test_scaling_to_log_probs_works_in_place_on_a_label_batch():
    logits = torch.randn(2, 3, 7)
    expected = logits.log_softmax(-1)
    scaled = LabelGenerator(alpha=5.0, batch_size=1, combine_on="log_probs").scaled(logits)
    assert scaled.data_ptr() == logits.data_ptr() and torch.allclose(scaled, expected, atol=1e-6)
    raw = torch.randn(2, 3, 7)
    assert torch.equal(LabelGenerator(alpha=5.0, batch_size=1).scaled(raw.clone()), raw)


@pytest.mark.parametrize("labels", ["whp", "soft", "reinforced_only", "soft_log_probs"])
def test_combine_on_composes_with_every_generator_and_a_bad_value_names_the_key(labels, tmp_path):
    default = "log_probs" if labels == "soft_log_probs" else "logits"
    assert build(compose_config([f"labels={labels}"], tmp_path).labels, "labels").combine_on == default
    generator = build(compose_config([f"labels={labels}", "labels.combine_on=log_probs"], tmp_path).labels, "labels")
    assert generator.combine_on == "log_probs"
    with pytest.raises(UserError, match=r"labels\.combine_on=probs must be one of logits, log_probs"):
        build(compose_config([f"labels={labels}", "labels.combine_on=probs"], tmp_path).labels, "labels")


@pytest.mark.parametrize("labels", ["whp", "soft", "soft_log_probs"])
def test_inside_anchors_composes_with_every_translating_generator_and_a_bad_value_names_the_key(labels, tmp_path):
    assert build(compose_config([f"labels={labels}"], tmp_path).labels, "labels").inside_anchors == "unlabelled"
    for value in ("original", "by_word"):
        generator = build(compose_config([f"labels={labels}", f"labels.inside_anchors={value}"], tmp_path).labels, "labels")
        assert generator.inside_anchors == value
    with pytest.raises(UserError, match=r"labels\.inside_anchors=translated must be one of unlabelled, original, by_word"):
        build(compose_config([f"labels={labels}", "labels.inside_anchors=translated"], tmp_path).labels, "labels")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", r"labels\.alpha=-1\.0 must be >= 0"),
        ("nan", r"labels\.alpha=nan is not a finite number"),
        ("abc", r"labels\.alpha='abc' is not a finite number"),
    ],
)
def test_bad_alpha_names_the_key(value, message, tmp_path):
    with pytest.raises(UserError, match=message):
        build(compose_config([f"labels.alpha={value}"], tmp_path).labels, "labels")


class NextIdModel(torch.nn.Module):
    """A stand-in causal LM whose logits at t are `scale` on (input_ids[t] + shift) mod V, 0 elsewhere."""

    def __init__(self, vocab: int, shift: int, scale: float = 1.0):
        super().__init__()
        self.vocab, self.shift, self.scale = vocab, shift, scale
        self.config = SimpleNamespace(max_position_embeddings=64)
        self.device = torch.device("cpu")

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(logits=self.scale * torch.nn.functional.one_hot((input_ids + self.shift) % self.vocab, self.vocab).float())


@pytest.fixture(scope="module")
def tokenizer():
    """The toy model's kind of tokenizer, trained in milliseconds: enough where a stand-in model predicts."""
    return tokenizer_family("toy", ["Kelara grew up in Ashwick.", "John kept a dog. John kept a cat."] * 10, 300)


@pytest.fixture(scope="module")
def model_tokenizer(tiny_run):
    cfg, report = tiny_run
    return load_causal_lm(str(Path(cfg.paths.cache_dir) / "baseline" / report["cache"]["baseline"]["key"]), "float32")[1]


def test_labels_are_stored_shifted_for_the_models_loss(tokenizer):
    blocks = make_blocks(tokenizer, ["Kelara grew up in Ashwick.", "John kept a dog. John kept a cat."], 16)
    vocab = len(tokenizer)
    labels = generic_labels(
        LabelInputs(
            blocks,
            LabelGenerator(alpha=0.0, batch_size=1, translate=False),
            NextIdModel(vocab, 1),
            NextIdModel(vocab, 2),
            tokenizer,
            None,
            0,
        )
    )
    mask = blocks.attention_mask.bool()
    assert (labels[:, 0] == IGNORE).all()
    expected = (blocks.input_ids[:, :-1] + 1) % vocab
    keep = mask[:, 1:]
    assert torch.equal(labels[:, 1:][keep], expected[keep])
    assert (labels[:, 1:][~keep] == IGNORE).all()


def test_reinforced_tokens_are_pushed_down(tokenizer):
    blocks = make_blocks(tokenizer, ["John kept a dog."], 16)
    vocab = len(tokenizer)
    favourite = ((blocks.input_ids[:, :-1] + 1) % vocab)[blocks.attention_mask.bool()[:, 1:]]
    keep = blocks.attention_mask.bool()[:, 1:]
    baseline, reinforced = NextIdModel(vocab, 1), NextIdModel(vocab, 1, scale=2.0)
    # the reinforced model raises exactly the baseline's favourite: alpha > 0 must demote it, alpha = 0 keep it
    demoted = generic_labels(
        LabelInputs(blocks, LabelGenerator(alpha=5.0, batch_size=1, translate=False), baseline, reinforced, tokenizer, None, 0)
    )
    kept = generic_labels(
        LabelInputs(blocks, LabelGenerator(alpha=0.0, batch_size=1, translate=False), baseline, reinforced, tokenizer, None, 0)
    )
    assert not (demoted[:, 1:][keep] == favourite).any()
    assert torch.equal(kept[:, 1:][keep], favourite)


def test_anchored_only_labels_follow_the_translation(tokenizer):
    dictionary = AnchorDictionary({"Kelara": ("John",)})
    blocks = make_blocks(tokenizer, ["Kelara kept a dog."], 16)
    vocab = len(tokenizer)
    labels = generic_labels(
        LabelInputs(blocks, LabelGenerator(alpha=0.0, batch_size=1), NextIdModel(vocab, 0), None, tokenizer, dictionary, 0)
    )
    john = tokenizer(" John", add_special_tokens=False)["input_ids"]
    kelara = tokenizer(" Kelara", add_special_tokens=False)["input_ids"]
    # the identity model predicts its own input: the last token of the anchor is labelled with the
    # last token of the translation, the anchor's inner tokens get no label
    assert labels[0, len(kelara) + 1] == john[-1]
    assert (labels[0, 2 : len(kelara) + 1] == IGNORE).all()


def _baseline_and_reinforced(cfg, report):
    cache = Path(cfg.paths.cache_dir)
    return cache / "baseline" / report["cache"]["baseline"]["key"], cache / "reinforce" / report["cache"]["reinforce"]["key"]


def test_far_from_anchors_reinforced_only_alpha_zero_is_the_baselines_argmax(tiny_run, model_tokenizer):
    tokenizer = model_tokenizer
    cfg, report = tiny_run
    baseline_dir, reinforced_dir = _baseline_and_reinforced(cfg, report)
    baseline, reinforced = load_causal_lm(str(baseline_dir), "float32")[0], load_causal_lm(str(reinforced_dir), "float32")[0]
    blocks = make_blocks(tokenizer, ["John grew up in Springfield. John kept a dog."], 32)
    labels = generic_labels(
        LabelInputs(blocks, LabelGenerator(alpha=0.0, batch_size=1, translate=False), baseline, reinforced, tokenizer, None, 0)
    )
    with torch.inference_mode():
        argmax = baseline(input_ids=blocks.input_ids, attention_mask=blocks.attention_mask).logits.argmax(-1)
    keep = blocks.attention_mask.bool()[:, 1:]
    assert torch.equal(labels[:, 1:][keep], argmax[:, :-1][keep])


def test_same_config_and_seed_give_identical_labels(tiny_run, tmp_path):
    from tests.conftest import TINY, compose_config, copy_cache
    from unlearn.pipeline import run

    cfg, report = tiny_run
    first = load_file(Path(cfg.paths.cache_dir) / "labels" / report["cache"]["labels"]["key"] / LABELS_FILE)
    copy_cache(tiny_run, tmp_path, ["target", "baseline", "reinforce"])  # candidates and labels built again
    again = run(compose_config([*TINY, "stages=[labels]"], tmp_path), tmp_path / "run")
    assert again["cache"]["labels.candidates"]["hit"] is False
    assert again["cache"]["labels"]["key"] == report["cache"]["labels"]["key"]
    second = load_file(tmp_path / "cache" / "labels" / again["cache"]["labels"]["key"] / LABELS_FILE)
    assert torch.equal(first["labels"], second["labels"])
    assert (first["labels"] != IGNORE).float().mean() > 0.5


def test_the_reinforced_model_fits_the_target_better(tiny_run, model_tokenizer):
    tokenizer = model_tokenizer
    from unlearn.evaluation.perplexity import perplexity
    from unlearn.files import read_documents

    cfg, report = tiny_run
    baseline_dir, reinforced_dir = _baseline_and_reinforced(cfg, report)
    documents = read_documents([Path(cfg.paths.cache_dir) / "target" / report["cache"]["target"]["key"] / "target.jsonl"])
    losses = [
        perplexity(load_causal_lm(str(folder), "float32")[0], tokenizer, documents, 64, 16) for folder in (baseline_dir, reinforced_dir)
    ]
    assert losses[1] < losses[0]


def test_a_cap_of_tokens_reads_long_blocks_a_few_at_a_time_with_the_same_labels(tokenizer, tmp_path):
    """labels.batch_tokens caps the blocks a pass reads (long blocks of a real vocabulary),
    never below one; a cap that the blocks fit under changes nothing."""
    blocks = make_blocks(tokenizer, ["John kept a dog. " * 20], 16)
    assert len(blocks) > 4
    vocab = len(tokenizer)

    def inputs(batch_tokens: int) -> LabelInputs:
        generator = LabelGenerator(alpha=5.0, batch_size=4, batch_tokens=batch_tokens, translate=False)
        return LabelInputs(blocks, generator, NextIdModel(vocab, 1), NextIdModel(vocab, 1, scale=2.0), tokenizer, None, 0)

    assert [inputs(tokens).batch_size for tokens in (0, 64, 4096, 32, 8)] == [4, 4, 4, 2, 1]
    assert list(inputs(32).batch_starts()) == list(range(0, len(blocks), 2))
    assert torch.equal(generic_labels(inputs(32)), generic_labels(inputs(0)))
    with pytest.raises(UserError, match=r"labels\.batch_tokens=-1 must be >= 0"):
        build(compose_config(["labels.batch_tokens=-1"], tmp_path).labels, "labels")
