"""Labels for any alpha from one pass over the corpus.

The combined score of a token, b - alpha * ReLU(r - b), never exceeds its baseline logit b
and falls linearly as alpha grows. The store keeps, per labelled position, a few candidate
tokens with both models' logits: the baseline's top k, and the combination's top k at each
of a few alphas (`store_alphas`; the tokens reinforcement did not push up win at high
alphas). Every other token's score is linear in alpha, so between two of those alphas (and
0) it lies below the chord between its scores there; the store keeps the best score among
the other tokens at each (`bounds`). Where the best candidate beats the chord between the
bounds, no outside token can win: the candidates decide the label. Positions they do not
decide go back to a forward pass of the batch they belong to, cut exactly as the direct
computation cuts it, so the labels equal the direct computation's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from unlearn.blocks import IGNORE
from unlearn.distributed import Processes
from unlearn.labels import whp_combination
from unlearn.labels.generate import LabelInputs

log = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.safetensors"


def candidates_of(
    base: torch.Tensor, reinforced: torch.Tensor, top_k: int, alphas: tuple[float, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per row of logits: the candidates (the top k at alpha 0, the baseline's, then at each
    of `alphas`; a token may appear more than once), both logits on them, and the best score
    among the other tokens at 0 and at each of `alphas` (-inf when there are none).

    One pass over the vocabulary per alpha: the scores are computed fused (b + (-alpha) *
    boost) into one buffer, and its top (all candidates + 1) holds both that alpha's
    candidates and, among the rest, the best score outside every alpha's candidates. The
    fused scores may differ from whp_combination's by a rounding, which the bounds' margin in
    `decide` absorbs; the candidates' own logits are stored exactly."""
    vocabulary = base.shape[-1]
    top_k = min(top_k, vocabulary)
    boost = torch.relu(reinforced - base)
    buffer = torch.empty_like(base)
    reach = min((1 + len(alphas)) * top_k + 1, vocabulary)
    tops = [base.topk(reach, dim=-1)]
    tops += [torch.add(base, boost, alpha=-alpha, out=buffer).topk(reach, dim=-1) for alpha in alphas]
    candidates = torch.cat([top.indices[:, :top_k] for top in tops], dim=-1)
    chosen = torch.zeros_like(base, dtype=torch.bool).scatter_(-1, candidates, True)
    bounds = [top.values.masked_fill(chosen.gather(-1, top.indices), -torch.inf).amax(dim=-1) for top in tops]
    return candidates, base.gather(-1, candidates), reinforced.gather(-1, candidates), torch.stack(bounds, dim=-1)


def beyond_candidates(bounds: torch.Tensor, knots: torch.Tensor, alpha: float) -> torch.Tensor:
    """The most any token outside the candidates can score at `alpha`: the chord between its
    bounds at the knots (0 and the store's alphas) on either side, and past the last knot the
    bound there (scores only fall)."""
    if alpha >= knots[-1]:
        return bounds[:, -1]
    right = int(torch.searchsorted(knots, torch.tensor(alpha, dtype=knots.dtype), right=True))
    low, high = bounds[:, right - 1], bounds[:, right]
    share = (alpha - float(knots[right - 1])) / float(knots[right] - knots[right - 1])
    return torch.where(torch.isinf(low), low, (1 - share) * low + share * high)


def decide(
    candidates: torch.Tensor, base: torch.Tensor, reinforced: torch.Tensor, beyond: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The label at each position from its candidates, and whether the candidates decide it:
    their best score beats `beyond` by more than the rounding of the chord.

    Among tied best candidates the lowest token id wins, as argmax over the vocabulary
    picks the first of equal maxima."""
    combined = whp_combination(base, reinforced, alpha)
    best = combined.max(dim=-1, keepdim=True).values
    beyond_vocabulary = torch.iinfo(candidates.dtype).max
    labels = torch.where(combined == best, candidates, beyond_vocabulary).min(dim=-1).values
    rounding = torch.where(torch.isinf(beyond), 0.0, 1e-5 * (1 + beyond.abs()))
    return labels, best.squeeze(-1) > beyond + rounding


@dataclass
class CandidateStore:
    """Per labelled position (block, position in block): candidate tokens, both logits on them,
    and the best score outside them at each knot (alpha 0, then the generator's store_alphas)."""

    positions: torch.Tensor  # [n, 2] int64
    candidates: torch.Tensor  # [n, k * knots] int32
    base: torch.Tensor  # [n, k * knots] float32
    reinforced: torch.Tensor  # [n, k * knots] float32
    bounds: torch.Tensor  # [n, knots] float32: the best score outside the candidates at each knot, -inf if none
    knots: torch.Tensor  # [knots] float64: 0, then the store's alphas

    @classmethod
    def collect(cls, inputs: LabelInputs, processes: Processes | None = None) -> CandidateStore | None:
        """The store over all blocks, each process taking its share of the batches; on rank 0
        (None on the others), merged in batch order: the same whatever the number of processes."""
        processes = processes or Processes()
        generator = inputs.generator
        alphas = tuple(generator.store_alphas)
        parts: dict[int, tuple[torch.Tensor, ...]] = {}
        starts = processes.shard(inputs.batch_starts())
        for start in tqdm(starts, desc="label candidates", unit="batch", disable=not processes.is_main):
            batch = inputs.logits(start)
            rows, steps = batch.keep.nonzero(as_tuple=True)
            device = batch.base.device
            here = (rows.to(device), steps.to(device))
            candidates, base, reinforced, bounds = candidates_of(batch.base[here], batch.reinforced[here], generator.top_k, alphas)
            positions = torch.stack([rows + start, steps + 1], dim=-1)
            parts[start] = (positions, candidates.int().cpu(), base.cpu(), reinforced.cpu(), bounds.cpu())
        gathered = processes.gather(parts)
        if gathered is None:
            return None
        merged = {start: part for shard in gathered for start, part in shard.items()}
        columns = (torch.cat(column) for column in zip(*(merged[start] for start in sorted(merged)), strict=True))
        return cls(*columns, knots=torch.tensor((0.0, *alphas), dtype=torch.float64))

    def save(self, path: Path) -> None:
        save_file({name: getattr(self, name).contiguous() for name in self.__dataclass_fields__}, path)

    @classmethod
    def load(cls, path: Path) -> CandidateStore:
        return cls(**load_file(path))

    def labels(self, alpha: float, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels for `alpha` where the candidates decide them (IGNORE elsewhere), and the
        (block, position) rows they leave undecided, for `fill_undecided`."""
        labels = torch.full(shape, IGNORE, dtype=torch.long)
        beyond = beyond_candidates(self.bounds, self.knots, alpha)
        decided_labels, decided = decide(self.candidates, self.base, self.reinforced, beyond, alpha)
        blocks, steps = self.positions.unbind(-1)
        labels[blocks[decided], steps[decided]] = decided_labels[decided].long()
        log.info("alpha=%s: candidates decide %d of %d positions", alpha, int(decided.sum()), len(decided))
        return labels, self.positions[~decided]


def fill_undecided(labels: torch.Tensor, undecided: torch.Tensor, inputs: LabelInputs, alpha: float) -> int:
    """The undecided positions' labels for `alpha` from a forward pass of the batches they belong
    to, cut exactly as the direct computation cuts them; the number of batches recomputed."""
    size = inputs.batch_size
    starts = sorted({int(block) // size * size for block in undecided[:, 0]})
    for start in tqdm(starts, desc="labels the candidates leave open", unit="batch"):
        batch = inputs.logits(start)
        predicted = whp_combination(batch.base, batch.reinforced, alpha).argmax(dim=-1).cpu()
        here = undecided[(undecided[:, 0] >= start) & (undecided[:, 0] < start + size)]
        labels[here[:, 0], here[:, 1]] = predicted[here[:, 0] - start, here[:, 1] - 1]
    return len(starts)
