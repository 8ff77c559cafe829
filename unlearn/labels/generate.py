"""Computing generic labels for every block, batch by batch, never holding the corpus's logits."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from unlearn.anchors.alignment import UNLABELLED, Alignment, align, word_spans
from unlearn.anchors.dictionary import AnchorDictionary
from unlearn.blocks import IGNORE, Blocks
from unlearn.distributed import Processes
from unlearn.labels import LabelGenerator


def block_rng(seed: int, index: int) -> random.Random:
    """The draw of alternatives for one block: the same for the same seed and block."""
    return random.Random(seed * 1_000_003 + index)


def translate_batch(
    blocks: Blocks, indices: range, dictionary: AnchorDictionary, tokenizer: PreTrainedTokenizerBase, seed: int, max_length: int,
    by_word: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, list[Alignment]]:  # fmt: skip
    """Translated blocks (BOS, tokens, EOS where the original ends with one), right-padded, and
    their alignments (anchors read word by word with `by_word`: alignment.align)."""
    translations = [dictionary.translate(blocks.texts[i], block_rng(seed, i).choice) for i in indices]
    encoded = tokenizer([t.text for t in translations], add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    rows, alignments = [], []
    for i, translation, ids, offsets in zip(indices, translations, encoded["input_ids"], encoded["offset_mapping"], strict=True):
        length = int(blocks.attention_mask[i].sum())
        original_ids = blocks.input_ids[i, :length].tolist()
        row, row_offsets = [tokenizer.bos_token_id, *ids], [(-1, -1), *offsets]
        if original_ids[-1] == tokenizer.eos_token_id and blocks.offsets[i, length - 1, 0] < 0:
            row.append(tokenizer.eos_token_id)
            row_offsets.append((-1, -1))
        row, row_offsets = row[:max_length], row_offsets[:max_length]
        rows.append(row)
        original = word_spans(blocks.offsets[i, :length].tolist(), blocks.texts[i])
        alignments.append(align(original, translation, row, word_spans(row_offsets, translation.text), by_word))
    input_ids = torch.full((len(rows), max(map(len, rows))), tokenizer.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row)
        attention_mask[r, : len(row)] = 1
    return input_ids, attention_mask, alignments


def flatten_used_translations(logits: torch.Tensor, alignments: list[Alignment]) -> torch.Tensor:
    """Rule 4: from where a translation has appeared on, its first token's logit is the row mean."""
    mean = logits.mean(dim=-1)
    for row, alignment in enumerate(alignments):
        for token, start in alignment.flatten:
            logits[row, start:, token] = mean[row, start:]
    return logits


def _logits(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    output = model(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device))
    return output.logits.float()


def _logits_at(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """[positions, vocabulary]: the logits at the positions `where` marks, the output layer
    applied to those positions alone where the model allows it (training/loss.py)."""
    from unlearn.training.loss import projects_linearly  # imports transformers' models: not before a run is checked

    if not projects_linearly(model):
        return _logits(model, input_ids, attention_mask)[where.to(model.device)]
    hidden = model.base_model(input_ids=input_ids.to(model.device), attention_mask=attention_mask.to(model.device)).last_hidden_state
    return torch.nn.functional.linear(hidden[where.to(model.device)], model.get_output_embeddings().weight).float()


@dataclass
class BatchLogits:
    """Both views of one batch of blocks: the logits at t predict the label stored at t+1 (rule 5)."""

    start: int
    base: torch.Tensor
    reinforced: torch.Tensor
    keep: torch.Tensor  # [blocks, length - 1]: whether position t+1 gets a label


@dataclass
class LabelInputs:
    """Everything label generation reads: the blocks, the generator and the models it combines
    (no reinforced model when the generator's alpha is 0)."""

    blocks: Blocks
    generator: LabelGenerator
    baseline: PreTrainedModel
    reinforced: PreTrainedModel | None
    tokenizer: PreTrainedTokenizerBase
    dictionary: AnchorDictionary | None
    seed: int

    @property
    def batch_size(self) -> int:
        """Blocks per forward pass (LabelGenerator.blocks_per_pass)."""
        return self.generator.blocks_per_pass(self.blocks.input_ids.shape[1])

    def batch_starts(self) -> range:
        return range(0, len(self.blocks), self.batch_size)

    @torch.inference_mode()
    def logits(self, start: int) -> BatchLogits:
        """The batch starting at block `start`, always cut the same way, so its logits are reproducible bit for bit."""
        blocks, generator = self.blocks, self.generator
        indices = range(start, min(start + self.batch_size, len(blocks)))
        input_ids, attention_mask = blocks.input_ids[indices.start : indices.stop], blocks.attention_mask[indices.start : indices.stop]
        valid = attention_mask.bool()
        if generator.translate:
            max_length = self.baseline.config.max_position_embeddings
            translated_ids, translated_mask, alignments = translate_batch(
                blocks, indices, self.dictionary, self.tokenizer, self.seed, max_length, generator.inside_anchors == "by_word"
            )
            translated = flatten_used_translations(_logits(self.baseline, translated_ids, translated_mask), alignments)
            source = torch.full_like(input_ids, UNLABELLED)
            for row, alignment in enumerate(alignments):
                source[row, : len(alignment.source)] = torch.tensor(alignment.source)
            valid &= source >= 0
            rows = torch.arange(len(indices), device=translated.device).unsqueeze(1)
            base = translated[rows, source.clamp(min=0).to(translated.device)]
            if generator.inside_anchors == "original":
                valid |= self._read_inside_anchors(base, alignments, input_ids, attention_mask)
        else:
            base = _logits(self.baseline, input_ids, attention_mask)
        base = generator.scaled(base)
        # Without a reinforced model (alpha = 0) its logits are the baseline's: the combination is then the baseline's own.
        reinforced = generator.scaled(_logits(self.reinforced, input_ids, attention_mask)) if self.reinforced is not None else base
        return BatchLogits(start, base, reinforced, valid[:, :-1] & attention_mask[:, 1:].bool())

    def _read_inside_anchors(
        self, base: torch.Tensor, alignments: list[Alignment], input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Puts the baseline's logits on the original text at the positions inside anchors into
        `base` (in place) and says which those are; the original text is read only when a
        block of the batch has such a position, and projected to the vocabulary only there."""
        inside = torch.zeros_like(attention_mask, dtype=torch.bool)
        for row, alignment in enumerate(alignments):
            inside[row, alignment.inside] = True
        if inside.any():
            base[inside.to(base.device)] = _logits_at(self.baseline, input_ids, attention_mask, inside)
        return inside


def generic_labels(inputs: LabelInputs, processes: Processes | None = None) -> torch.Tensor | None:
    """Labels aligned with `blocks.input_ids` as a causal LM's loss expects them (rule 5):
    the label at position t+1 is the generic prediction made from the output at t.
    Each process labels its share of the batches; rank 0 gets them all (the others None)."""
    processes = processes or Processes()
    predictions: dict[int, torch.Tensor] = {}
    for start in tqdm(processes.shard(inputs.batch_starts()), desc="labels", unit="batch", disable=not processes.is_main):
        batch = inputs.logits(start)
        predicted = inputs.generator.combine(batch.base, batch.reinforced).argmax(dim=-1).cpu()
        predictions[start] = torch.where(batch.keep, predicted[:, :-1], IGNORE)
    gathered = processes.gather(predictions)
    if gathered is None:
        return None
    labels = torch.full_like(inputs.blocks.input_ids, IGNORE)
    for shard in gathered:
        for start, predicted in shard.items():
            labels[start : start + len(predicted), 1 : 1 + predicted.shape[1]] = predicted
    return labels
