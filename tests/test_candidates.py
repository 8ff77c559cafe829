"""Labels for any alpha from the candidate store equal the direct computation, fallback included."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import TINY, compose_config
from unlearn.labels import ReinforcedOnlyLabels, whp_combination
from unlearn.labels.candidates import CandidateStore, decide
from unlearn.labels.generate import IGNORE, LabelInputs, generic_labels
from unlearn.pipeline import LABELS_FILE, Pipeline, run
from unlearn.training.data import Blocks

ALPHAS = [0.0, 1.0, 2.5, 5.0, 10.0, 20.0]


def test_decided_positions_match_the_argmax_over_the_whole_vocabulary():
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(4000, 50, generator=generator)
    reinforced = base + torch.randn(4000, 50, generator=generator).clamp(min=0) * 3
    reinforced[:1000] = base[:1000] + 5  # every token boosted: high alphas leave these open
    base[1000:1100, :3] = base[1000:1100].max(dim=-1, keepdim=True).values  # ties among the best
    k = 4
    top = base.topk(k + 1, dim=-1)
    candidates, bound = top.indices[:, :k].int(), top.values[:, k]
    undecided_somewhere = False
    for alpha in ALPHAS:
        labels, decided = decide(candidates, top.values[:, :k], reinforced.gather(-1, top.indices[:, :k]), bound, alpha)
        direct = whp_combination(base, reinforced, alpha).argmax(dim=-1)
        assert torch.equal(labels[decided].long(), direct[decided]), alpha
        assert decided[1000:].float().mean() > 0.9
        undecided_somewhere |= bool((~decided).any())
    assert undecided_somewhere


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
    inputs = LabelInputs(blocks, ReinforcedOnlyLabels(alpha=0.0, batch_size=4, top_k=3), baseline, reinforced, None, None, 0)
    store = CandidateStore.collect(inputs, top_k=3)
    recomputed = 0
    for alpha in ALPHAS:
        direct = generic_labels(LabelInputs(blocks, ReinforcedOnlyLabels(alpha=alpha, batch_size=4), baseline, reinforced, None, None, 0))
        labels, stats = store.labels(alpha, input_ids.shape, lambda: inputs)
        assert torch.equal(labels, direct), alpha
        recomputed += stats["recomputed_batches"]
    assert recomputed > 0
    assert (labels[3, 8:] == IGNORE).all() and (labels[:, 0] == IGNORE).all()


def test_store_round_trips_through_a_file(tmp_path):
    store = CandidateStore(
        torch.tensor([[0, 1]]), torch.tensor([[5, 2]], dtype=torch.int32), torch.tensor([[1.0, 0.5]]), torch.tensor([[2.0, 0.0]]),
        torch.tensor([-torch.inf]),
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
    pipeline = Pipeline(compose_config(overrides, tmp_path), tmp_path / "direct")
    assert torch.equal(stored, generic_labels(pipeline._label_inputs()))
    assert report["labels"]["decided_fraction"] > 0.9
