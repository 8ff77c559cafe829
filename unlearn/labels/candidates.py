"""Labels for any alpha from one pass over the corpus.

The combined score b - alpha * ReLU(r - b) never exceeds the baseline's logit b, and
equals it wherever the reinforced logit r is not higher. So when the best combined score
among the baseline's top k tokens is above the (k+1)-th baseline logit, no token outside
those k can win, whatever its reinforced logit: the k candidates decide the label. The
store keeps, per labelled position, the k candidates with both models' logits and that
bound. Labels for an alpha come from it; positions it does not decide (all k candidates
pushed down below the bound) go back to a forward pass of the batch they belong to, cut
exactly as the direct computation cuts it, so the labels equal the direct computation's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from unlearn.distributed import Processes
from unlearn.labels import whp_combination
from unlearn.labels.generate import IGNORE, LabelInputs

log = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.safetensors"


def decide(
    candidates: torch.Tensor, base: torch.Tensor, reinforced: torch.Tensor, bound: torch.Tensor, alpha: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The label at each position from its candidates, and whether the candidates decide it.

    Among tied best candidates the lowest token id wins, as argmax over the vocabulary
    picks the first of equal maxima."""
    combined = whp_combination(base, reinforced, alpha)
    best = combined.max(dim=-1, keepdim=True).values
    beyond_vocabulary = torch.iinfo(candidates.dtype).max
    labels = torch.where(combined == best, candidates, beyond_vocabulary).min(dim=-1).values
    return labels, best.squeeze(-1) > bound


@dataclass
class CandidateStore:
    """Per labelled position (block, position in block): k candidate tokens, both logits on them, the bound."""

    positions: torch.Tensor  # [n, 2] int64
    candidates: torch.Tensor  # [n, k] int32
    base: torch.Tensor  # [n, k] float32
    reinforced: torch.Tensor  # [n, k] float32
    bound: torch.Tensor  # [n] float32: the largest baseline logit outside the candidates, -inf if none

    @classmethod
    def collect(cls, inputs: LabelInputs, top_k: int, processes: Processes | None = None) -> CandidateStore | None:
        """The store over all blocks, each process taking its share of the batches; on rank 0
        (None on the others), merged in batch order: the same whatever the number of processes."""
        processes = processes or Processes()
        parts: dict[int, tuple[torch.Tensor, ...]] = {}
        starts = processes.shard(inputs.batch_starts())
        for start in tqdm(starts, desc="label candidates", unit="batch", disable=not processes.is_main):
            batch = inputs.logits(start)
            rows, steps = batch.keep.nonzero(as_tuple=True)
            device = batch.base.device
            base = batch.base[rows.to(device), steps.to(device)]
            top = base.topk(min(top_k + 1, base.shape[-1]), dim=-1)
            candidates = top.indices[:, :top_k]
            bound = top.values[:, top_k] if top.values.shape[-1] > top_k else torch.full_like(top.values[:, 0], -torch.inf)
            reinforced = batch.reinforced[rows.to(device), steps.to(device)].gather(-1, candidates)
            positions = torch.stack([rows + start, steps + 1], dim=-1)
            parts[start] = (positions, candidates.int().cpu(), top.values[:, :top_k].cpu(), reinforced.cpu(), bound.cpu())
        gathered = processes.gather(parts)
        if gathered is None:
            return None
        merged = {start: part for shard in gathered for start, part in shard.items()}
        return cls(*(torch.cat(column) for column in zip(*(merged[start] for start in sorted(merged)), strict=True)))

    def save(self, path: Path) -> None:
        save_file({name: getattr(self, name).contiguous() for name in self.__dataclass_fields__}, path)

    @classmethod
    def load(cls, path: Path) -> CandidateStore:
        return cls(**load_file(path))

    def labels(self, alpha: float, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels for `alpha` where the candidates decide them (IGNORE elsewhere), and the
        (block, position) rows they leave undecided, for `fill_undecided`."""
        labels = torch.full(shape, IGNORE, dtype=torch.long)
        decided_labels, decided = decide(self.candidates, self.base, self.reinforced, self.bound, alpha)
        blocks, steps = self.positions.unbind(-1)
        labels[blocks[decided], steps[decided]] = decided_labels[decided].long()
        log.info("alpha=%s: candidates decide %d of %d positions", alpha, int(decided.sum()), len(decided))
        return labels, self.positions[~decided]


def fill_undecided(labels: torch.Tensor, undecided: torch.Tensor, inputs: LabelInputs, alpha: float) -> int:
    """The undecided positions' labels for `alpha` from a forward pass of the batches they belong
    to, cut exactly as the direct computation cuts them; the number of batches recomputed."""
    size = inputs.generator.batch_size
    starts = sorted({int(block) // size * size for block in undecided[:, 0]})
    for start in tqdm(starts, desc="labels the candidates leave open", unit="batch"):
        batch = inputs.logits(start)
        predicted = whp_combination(batch.base, batch.reinforced, alpha).argmax(dim=-1).cpu()
        here = undecided[(undecided[:, 0] >= start) & (undecided[:, 0] < start + size)]
        labels[here[:, 0], here[:, 1]] = predicted[here[:, 0] - start, here[:, 1] - 1]
    return len(starts)
