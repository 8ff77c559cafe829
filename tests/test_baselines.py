"""The baseline methods (unlearn=gradient_ascent, gradient_difference, npo): each loss against
a hand computation on a tiny batch, the batches they read, their settings' errors, and each
run end to end on the toy world, raising the target's loss."""

from __future__ import annotations

import math

import pytest
import torch

from tests.conftest import TINY, compose_config, copy_cache
from tests.test_loss import _model
from unlearn.baselines.gradient_ascent import GradientAscent
from unlearn.baselines.gradient_difference import GradientDifference
from unlearn.baselines.npo import NPO
from unlearn.blocks import IGNORE, WEIGHTLESS, BlockDataset, Blocks
from unlearn.components import build_components, prepare
from unlearn.distributed import Processes
from unlearn.errors import UserError
from unlearn.training.loss import sequence_logprobs
from unlearn.training.sampling import collate_trimmed

SCHEDULE = {"epochs": 1, "lr": 1e-5, "batch_size": 2}


def _blocks(seed: int, lengths: list[int], width: int = 12) -> Blocks:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, 97, (len(lengths), width), generator=generator)
    attention_mask = (torch.arange(width) < torch.tensor(lengths).unsqueeze(1)).long()
    offsets = torch.zeros(len(lengths), width, 2, dtype=torch.long)
    return Blocks(input_ids * attention_mask, attention_mask, offsets, ["" for _ in lengths])


def _log_likelihoods(model, input_ids: torch.Tensor, length: int) -> list[float]:
    """log p(x_t | x_<t) for t = 1 .. length-1, one position at a time, by hand."""
    with torch.no_grad():
        logits = model(input_ids=input_ids[None, :length]).logits[0].double()
    return [float(logits[t - 1].log_softmax(-1)[input_ids[t]]) for t in range(1, length)]


def _batch(dataset: BlockDataset, indices: list[int]) -> dict[str, torch.Tensor]:
    return collate_trimmed([dataset[i] for i in indices])


def test_gradient_ascent_is_minus_the_mean_token_cross_entropy():
    model, blocks = _model(), _blocks(0, [12, 7])
    batch = _batch(BlockDataset.next_tokens(blocks), [0, 1])
    by_hand = [lp for row, length in ((0, 12), (1, 7)) for lp in _log_likelihoods(model, blocks.input_ids[row], length)]
    loss = GradientAscent(**SCHEDULE).objective(model, 4)(batch)
    assert float(loss) == pytest.approx(sum(by_hand) / len(by_hand), rel=1e-5)


def test_gradient_difference_ascends_on_the_target_and_descends_on_retain_blocks_of_their_own_length():
    model, forget, retain = _model(), _blocks(0, [6, 5]), _blocks(1, [12, 9])
    extra = {"retain_input_ids": retain.input_ids, "retain_attention_mask": retain.attention_mask, "retain_labels": retain.input_ids}
    extra["retain_labels"] = extra["retain_labels"].masked_fill(retain.attention_mask == 0, IGNORE)
    batch = _batch(BlockDataset.next_tokens(forget, extra), [0, 1])
    assert batch["input_ids"].shape[1] == 6 and batch["retain_input_ids"].shape[1] == 12  # each trimmed by its own mask
    forget_lp = [lp for row, n in ((0, 6), (1, 5)) for lp in _log_likelihoods(model, forget.input_ids[row], n)]
    retain_lp = [lp for row, n in ((0, 12), (1, 9)) for lp in _log_likelihoods(model, retain.input_ids[row], n)]
    expected = sum(forget_lp) / len(forget_lp) - 0.5 * sum(retain_lp) / len(retain_lp)
    loss = GradientDifference(**SCHEDULE, retain_weight=0.5).objective(model, 3)(batch)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_the_weightless_block_carries_no_label_of_either_kind():
    forget, retain = _blocks(0, [6, 5]), _blocks(1, [12, 9])
    row = BlockDataset.next_tokens(forget, {"retain_labels": retain.input_ids, "reference_logprob": torch.tensor([-3.0, -4.0])})[WEIGHTLESS]
    assert (row["labels"] == IGNORE).all() and (row["retain_labels"] == IGNORE).all()


@pytest.mark.parametrize("chunk", [0, 5])
def test_npo_is_the_papers_loss_on_each_blocks_likelihood_ratio(chunk):
    model, blocks = _model(), _blocks(2, [12, 8, 10])
    reference = torch.tensor([-40.0, -31.0, -35.0])
    batch = _batch(BlockDataset.next_tokens(blocks, {"reference_logprob": reference}), [0, 1, 2])
    sums = [sum(_log_likelihoods(model, blocks.input_ids[row], n)) for row, n in enumerate((12, 8, 10))]
    assert torch.allclose(sequence_logprobs(model, batch, chunk).double(), torch.tensor(sums, dtype=torch.float64), rtol=1e-5)
    beta = 0.1

    def log_sigmoid(x: float) -> float:
        return -math.log1p(math.exp(-x))

    expected = sum(-(2 / beta) * log_sigmoid(-beta * (s - r)) for s, r in zip(sums, reference.tolist(), strict=True)) / 3
    assert float(NPO(**SCHEDULE, beta=beta).objective(model, chunk)(batch)) == pytest.approx(expected, rel=1e-5)


def test_npo_leaves_out_a_block_without_labels():
    model, blocks = _model(), _blocks(2, [12, 8])
    dataset = BlockDataset.next_tokens(blocks, {"reference_logprob": torch.tensor([-40.0, -31.0])})
    alone = NPO(**SCHEDULE).objective(model, 4)(_batch(dataset, [0]))
    with_empty = NPO(**SCHEDULE).objective(model, 4)(_batch(dataset, [0, WEIGHTLESS]))
    assert float(with_empty) == pytest.approx(float(alone), rel=1e-6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["unlearn=npo", "unlearn.beta=0"], r"unlearn\.beta=0(\.0)? must be > 0"),
        (["unlearn=gradient_difference", "unlearn.retain_weight=-1"], r"unlearn\.retain_weight=-1(\.0)? must be >= 0"),
        (["unlearn=gradient_ascent", "unlearn.lr=0"], r"unlearn\.lr=0(\.0)? must be > 0"),
    ],
)
def test_bad_baseline_settings_name_the_key(overrides, message, tmp_path):
    with pytest.raises(UserError, match=message):
        build_components(compose_config(overrides, tmp_path), Processes())


def test_gradient_difference_without_retain_text_is_refused_before_training(tmp_path):
    corpus = tmp_path / "story.txt"
    corpus.write_text("Kelara grew up in Ashwick and kept a dog.")
    overrides = ["target=text_files", f"target.corpus=[{corpus}]", "unlearn=gradient_difference"]
    with pytest.raises(UserError, match=r"unlearn=gradient_difference trains on retain text, and target=text_files has none"):
        prepare(compose_config(overrides, tmp_path))


@pytest.mark.parametrize(
    "method", [["unlearn=gradient_ascent"], ["unlearn=gradient_difference"], ["unlearn=npo", "unlearn.beta=0.1"]], ids=lambda m: m[0]
)
def test_each_baseline_runs_on_the_toy_world_and_raises_the_targets_loss(method, tiny_run, tmp_path):
    from unlearn.pipeline import run

    quick = ["unlearn.lr=3e-4", "unlearn.epochs=1", "unlearn.batch_size=8", "unlearn.accumulate_grad_batches=1", "evaluator=default"]
    only = [
        f"~evaluator.{name}" for name in ("familiarity_completion", "familiarity_probability", "lm_eval", "verbatim", "knowledge_qa", "mia")
    ]
    copy_cache(tiny_run, tmp_path, ["target", "baseline"])
    report = run(compose_config([*TINY, *method, *quick, *only], tmp_path), tmp_path / "run")
    assert list(report["models"]) == ["baseline", "unlearned"] and "labels" not in report
    base, after = report["models"]["baseline"], report["models"]["unlearned"]
    assert after["perplexity/target_heldout"] > base["perplexity/target_heldout"]
    assert report["losses"]["unlearned"]
