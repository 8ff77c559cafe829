"""Soft generic labels: the fine-tune matches the generic distribution, not only its argmax.

Hard labels (the paper's) teach the argmax of v_generic at every position. Wherever the
generic prediction is the baseline's own, that still trains the model on its greedy guess:
on a pretrained model whose guess differs from the text at most positions it sharpens every
prediction, in the target's domain and beyond (experiments/macbeth). The soft target is
softmax(v_generic / temperature): where translation and reinforcement change nothing it is
the baseline's own distribution, whose gradient at the baseline is zero, so the fine-tune
moves only what the method means to move (docs/method.md, "Soft labels").

Per labelled position the store keeps the target's `top_k` most probable tokens with their
probabilities; the rest of the mass stays one bucket, matched by the model's mass on every
other token together. The loss is then the exact cross-entropy to the target over that
partition: no full-vocabulary distribution is stored, and a model that predicts the target
has zero gradient. One pass over the corpus per (alpha, temperature).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from unlearn.blocks import IGNORE
from unlearn.distributed import Processes
from unlearn.labels.generate import LabelInputs


@dataclass
class SoftTargets:
    """Aligned with the blocks' tokens as hard labels are (position t holds the target for the
    token at t, predicted from the output at t-1); zero probabilities where nothing is labelled."""

    ids: torch.Tensor  # [blocks, length, top_k] int32: the target's most probable tokens
    probs: torch.Tensor  # [blocks, length, top_k] float32: their probabilities; 1 - sum is every other token's

    def labels(self) -> torch.Tensor:
        """The hard labels these targets stand for: their argmax (the first token) where a
        position is labelled, IGNORE elsewhere."""
        return torch.where(self.probs.sum(dim=-1) > 0, self.ids[..., 0].long(), IGNORE)


def soft_cross_entropy(logits: torch.Tensor, ids: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """Sum over rows of -(sum_i p_i log q_i + p_rest log q_rest): the cross-entropy between the
    target (probabilities `probs` on tokens `ids`, the rest of its mass on the other tokens) and
    the model's softmax(logits) over the same partition."""
    log_q = logits.float().log_softmax(dim=-1)
    ids = ids.long()
    kept = log_q.gather(-1, ids)
    rest_log_q = log_q.scatter(-1, ids, -torch.inf).logsumexp(dim=-1)
    rest_p = (1 - probs.sum(dim=-1)).clamp(min=0)
    rest = torch.where(rest_p > 0, rest_p * rest_log_q, 0.0)
    return -(probs * kept).sum() - rest.sum()


def soft_targets(inputs: LabelInputs, temperature: float, top_k: int, processes: Processes | None = None) -> SoftTargets | None:
    """The soft targets of every block, each process taking its share of the batches; rank 0
    gets them all (the others None)."""
    processes = processes or Processes()
    parts: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    for start in tqdm(processes.shard(inputs.batch_starts()), desc="soft labels", unit="batch", disable=not processes.is_main):
        batch = inputs.logits(start)
        # A block at a time: the batch's logits are already two full-vocabulary copies.
        tops = [
            (inputs.generator.combine(base[:-1], reinforced[:-1]) / temperature).log_softmax(dim=-1).topk(min(top_k, base.shape[-1]))
            for base, reinforced in zip(batch.base, batch.reinforced, strict=True)
        ]
        ids, log_probs = torch.stack([top.indices for top in tops]), torch.stack([top.values for top in tops])
        keep = batch.keep.unsqueeze(-1).to(log_probs.device)
        parts[start] = (ids.int().cpu(), torch.where(keep, log_probs.exp(), 0.0).cpu())
    gathered = processes.gather(parts)
    if gathered is None:
        return None
    pieces = {start: piece for shard in gathered for start, piece in shard.items()}
    width = next(iter(pieces.values()))[0].shape[-1]
    ids = torch.zeros((*inputs.blocks.input_ids.shape, width), dtype=torch.int32)
    probs = torch.zeros(ids.shape)
    for start, (piece_ids, piece_probs) in pieces.items():
        rows, columns = slice(start, start + len(piece_ids)), slice(1, 1 + piece_ids.shape[1])
        ids[rows, columns], probs[rows, columns] = piece_ids, piece_probs
    return SoftTargets(ids, probs)
