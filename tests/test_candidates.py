"""Labels for any alpha from the candidate store equal the direct computation, fallback included."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY, compose_config
from unlearn.blocks import IGNORE, Blocks
from unlearn.components import prepare
from unlearn.labels import LabelGenerator, whp_combination
from unlearn.labels.candidates import CandidateStore, beyond_candidates, candidates_of, decide, fill_undecided
from unlearn.labels.generate import LabelInputs, generic_labels
from unlearn.pipeline import build_models, run
from unlearn.stages import LABELS_FILE, label_inputs

ALPHAS = [0.0, 1.0, 2.5, 5.0, 10.0, 20.0]


def _original(alpha: float, batch_size: int, top_k: int, store_alphas: tuple[float, ...] = (1.25, 2.5, 5.0, 10.0, 20.0)) -> LabelGenerator:
    """Labels from both models on the original text (labels=reinforced_only)."""
    return LabelGenerator(alpha=alpha, batch_size=batch_size, top_k=top_k, translate=False, store_alphas=list(store_alphas))


def test_decided_positions_match_the_argmax_over_the_whole_vocabulary():
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(4000, 50, generator=generator)
    reinforced = base + torch.randn(4000, 50, generator=generator).clamp(min=0) * 3
    reinforced[:1000] = base[:1000] + 5  # every token boosted: high alphas leave these open
    base[1000:1100, :3] = base[1000:1100].max(dim=-1, keepdim=True).values  # ties among the best
    knots = (2.5, 10.0)
    candidates, base_kept, reinforced_kept, bounds = candidates_of(base, reinforced, top_k=4, alphas=knots)
    undecided_somewhere = False
    for alpha in [*ALPHAS, 40.0]:
        beyond = beyond_candidates(bounds, torch.tensor((0.0, *knots), dtype=torch.float64), alpha)
        labels, decided = decide(candidates.int(), base_kept, reinforced_kept, beyond, alpha)
        direct = whp_combination(base, reinforced, alpha).argmax(dim=-1)
        assert torch.equal(labels[decided].long(), direct[decided]), alpha
        if alpha <= 10.0:
            assert decided[1000:].float().mean() > 0.99, alpha
        undecided_somewhere |= bool((~decided).any())
    assert undecided_somewhere


def test_the_candidates_of_the_combination_decide_where_the_baselines_top_k_cannot():
    """Reinforcement pushing up the baseline's whole top k is what left positions open: the
    combination's own top k at the store's alphas, and the chords between its bounds there,
    decide them for every alpha up to the largest."""
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(2000, 200, generator=generator) * 3
    reinforced = base.clone()
    reinforced.scatter_(-1, base.topk(12, dim=-1).indices, base.topk(12, dim=-1).values + 4)
    knots = (1.25, 2.5, 5.0, 10.0, 20.0)
    candidates, base_kept, reinforced_kept, bounds = candidates_of(base, reinforced, top_k=8, alphas=knots)
    for alpha in (2.0, 5.0, 7.0, 20.0):
        beyond = beyond_candidates(bounds, torch.tensor((0.0, *knots), dtype=torch.float64), alpha)
        labels, decided = decide(candidates.int(), base_kept, reinforced_kept, beyond, alpha)
        assert decided.float().mean() > 0.99, alpha
        assert torch.equal(labels[decided].long(), whp_combination(base, reinforced, alpha).argmax(dim=-1)[decided])
        top_only = base.topk(9, dim=-1)
        baseline_top = whp_combination(top_only.values[:, :8], reinforced.gather(-1, top_only.indices[:, :8]), alpha).amax(dim=-1)
        assert (baseline_top > top_only.values[:, 8]).float().mean() < 0.5, "the baseline's top k alone decides few"


class TableModel(torch.nn.Module):
    """A stand-in causal LM: the logits at t are a fixed random row for (token, position)."""

    def __init__(self, vocab: int, length: int, seed: int, boost: torch.Tensor | None = None):
        super().__init__()
        self.table = torch.randn(length, vocab, vocab, generator=torch.Generator().manual_seed(seed))
        if boost is not None:
            self.table = self.table + boost
        self.config = SimpleNamespace(max_position_embeddings=length)
        self.device = torch.device("cpu")

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        return SimpleNamespace(logits=self.table[positions, input_ids])


def test_store_with_fallback_gives_the_direct_labels_for_every_alpha():
    vocab, length, blocks_n = 30, 12, 11
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, vocab, (blocks_n, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[3, 7:] = 0
    blocks = Blocks(input_ids, attention_mask, torch.full((blocks_n, length, 2), -1), ("",) * blocks_n)
    baseline = TableModel(vocab, length, seed=2)
    reinforced = TableModel(vocab, length, seed=2, boost=torch.rand(vocab, generator=generator) * 6)
    store = CandidateStore.collect(LabelInputs(blocks, _original(0.0, 4, 3, store_alphas=(5.0,)), baseline, reinforced, None, None, 0))
    recomputed = 0
    for alpha in ALPHAS:
        inputs = LabelInputs(blocks, _original(alpha, 4, 3), baseline, reinforced, None, None, 0)
        direct = generic_labels(inputs)
        labels, undecided = store.labels(alpha, input_ids.shape)
        recomputed += fill_undecided(labels, undecided, inputs, alpha) if len(undecided) else 0
        assert torch.equal(labels, direct), alpha
    assert recomputed > 0
    assert (labels[3, 8:] == IGNORE).all() and (labels[:, 0] == IGNORE).all()


def test_store_round_trips_through_a_file(tmp_path):
    store = CandidateStore(
        torch.tensor([[0, 1]]), torch.tensor([[5, 2]], dtype=torch.int32), torch.tensor([[1.0, 0.5]]), torch.tensor([[2.0, 0.0]]),
        torch.tensor([[-torch.inf, -torch.inf]]), torch.tensor([0.0, 20.0], dtype=torch.float64),
    )  # fmt: skip
    store.save(tmp_path / "c.safetensors")
    loaded = CandidateStore.load(tmp_path / "c.safetensors")
    assert all(torch.equal(getattr(store, f), getattr(loaded, f)) for f in store.__dataclass_fields__)


@pytest.mark.parametrize("alpha", [5.0, 20.0])
def test_pipeline_labels_equal_the_direct_computation_on_the_tiny_world(tiny_run, tmp_path, alpha):
    cfg, _ = tiny_run
    cache = cfg.paths.cache_dir
    overrides = [*TINY, f"labels.alpha={alpha}", "stages=[labels]", f"paths.cache_dir={cache}"]
    report = run(compose_config(overrides, tmp_path), tmp_path / "run")
    stored = load_file(Path(cache) / "labels" / report["cache"]["labels"]["key"] / LABELS_FILE)["labels"]
    cfg = compose_config(overrides, tmp_path)
    prepared = prepare(cfg)
    built, parts = build_models(cfg, prepared), prepared.parts
    inputs = label_inputs(parts.labels, parts.model, built.baseline, built.blocks, built.reinforced, built.dictionary, 0)
    assert torch.equal(stored, generic_labels(inputs))
    assert report["labels"]["decided_fraction"] > 0.9
