"""The pipeline's generic labels against the plain reference of tests/label_oracle.py, position by
position, on randomized texts, for three tokenizer families, alpha 0, 1 and 5, and both views
combined as raw logits (the paper's) and as log-probabilities, with the positions inside anchors
unlabelled (the paper's), labelled from the original text, and labelled from the translation
where an anchor is translated word for word.

The labels come the way a run computes them: anchored translation, batched forward passes,
the candidate store and its fallback for the positions it leaves open. The reference recomputes
every block alone in float64; a position agrees when the pipeline's label is the reference's
argmax, or scores within 1e-5 relative of it (a tie that float32 and float64 may break apart).
"""

from __future__ import annotations

import copy
import random

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tests import label_oracle
from tests.tokenizer_families import FAMILIES, tokenizer
from unlearn.anchors.dictionary import AnchorDictionary, merge
from unlearn.blocks import IGNORE, make_blocks
from unlearn.labels import LabelGenerator
from unlearn.labels.candidates import CandidateStore, fill_undecided
from unlearn.labels.generate import LabelInputs, block_rng

ALPHAS = [0.0, 1.0, 5.0]
CONTEXT = 24
MAX_POSITIONS = 30  # translations longer than this are cut, as the model's positions cut them
SEED = 3

# Multi-word keys and translations of other lengths, overlapping keys (Vellmoor, Vellmoor
# Academy), keys the merge rules drop (Harry Potter, Harry's), two keys sharing a translation,
# a lowercase key that must not match its capitalised form, alternatives in lowercase.
TERMS = {
    "Harry": ["Jon", "John Smith", "Henry"],
    "Potter": ["Parker"],
    "Harry Potter": ["Jon Parker"],
    "Harry's": ["Jon's"],
    "Harold": ["Jon"],
    "Ron": ["Tom", "Rob"],
    "Hermione": ["Sophie", "Emma Clarke"],
    "Vellmoor": ["Riverton"],
    "Vellmoor Academy": ["Riverside School", "the school"],
    "Professor Ebbane": ["the teacher", "Mr Brown"],
    "Dumbledore": ["the headmaster", "Dunmore"],
    "wand": ["stick", "rod"],
}
WORDS = [
    "the",
    "a",
    "saw",
    "met",
    "at",
    "walked",
    "to",
    "with",
    "and",
    "owl",
    "book",
    "in",
    "said",
    "over",
    "under",
    "green",
    "old",
    "quickly",
    "café",
]
PUNCTUATION = ["", "", "", ",", ".", "!", "'s", "?", ";"]
RARE = "üß→"  # never in the tokenizers' training text: byte fallback for the Llama family


def sentence(rng: random.Random, rare: bool) -> str:
    words = []
    for _ in range(rng.randint(2, 9)):
        word = rng.choice(list(TERMS)) if rng.random() < 0.35 else rng.choice(WORDS)
        if rng.random() < 0.05:
            word = word.capitalize()
        if rare and rng.random() < 0.05:
            word += rng.choice(RARE)
        words.append(word + rng.choice(PUNCTUATION))
    return rng.choice([" ", "  "]).join(words)


def document(rng: random.Random, rare: bool = True) -> str:
    pieces = [sentence(rng, rare)]
    for _ in range(rng.randint(1, 10)):
        pieces.append(rng.choice([" ", " ", "\n", "\n\n"]) + sentence(rng, rare))
    return "".join(pieces)


def tiny_llama(vocabulary: int, tok, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocabulary, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=MAX_POSITIONS, initializer_range=0.3,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module", params=FAMILIES)
def world(request):
    rng = random.Random(SEED)
    training = [document(rng, rare=False) for _ in range(200)]
    alternatives = [a for options in TERMS.values() for a in options]
    tok = tokenizer(request.param, [*training, " ".join(alternatives)] * 2, 500)
    documents = [document(rng) for _ in range(150)]
    blocks = make_blocks(tok, documents, CONTEXT)
    baseline = tiny_llama(len(tok), tok, SEED)
    reinforced = copy.deepcopy(baseline)
    with torch.no_grad():
        for parameter in reinforced.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    return request.param, tok, blocks, baseline, reinforced


def pipeline_labels(
    tok, blocks, baseline, reinforced, top_k: int, combine_on: str, inside_anchors: str
) -> dict[float, tuple[torch.Tensor, dict]]:
    """Per alpha, the labels and their statistics from one candidate store, as a run keys it
    without alpha; stored at one alpha far above those asked, so that the chords are loose and
    the fallback to a forward pass labels some positions too."""
    generator = LabelGenerator(alpha=0.0, batch_size=8, top_k=top_k, store_alphas=[1000.0], combine_on=combine_on,
                               inside_anchors=inside_anchors)  # fmt: skip
    inputs = LabelInputs(blocks, generator, baseline, reinforced, tok, AnchorDictionary(merge(TERMS)), SEED)
    store = CandidateStore.collect(inputs)
    results = {}
    for alpha in ALPHAS:
        labels, undecided = store.labels(alpha, blocks.input_ids.shape)
        results[alpha] = labels, {"recomputed_batches": fill_undecided(labels, undecided, inputs, alpha) if len(undecided) else 0}
    return results


@pytest.mark.parametrize(
    ("combine_on", "inside_anchors"),
    [("logits", "unlabelled"), ("log_probs", "unlabelled"), ("logits", "original"), ("log_probs", "by_word")],
)
def test_pipeline_labels_equal_the_reference_position_by_position(world, combine_on, inside_anchors):
    family, tok, blocks, baseline, reinforced = world
    assert len(blocks) >= 500
    reference_models = (copy.deepcopy(baseline).double(), copy.deepcopy(reinforced).double())
    references = []
    for index in range(len(blocks)):
        length = int(blocks.attention_mask[index].sum())
        references.append(
            label_oracle.block_labels(
                tok,
                *reference_models,
                blocks.input_ids[index, :length].tolist(),
                blocks.offsets[index, :length].tolist(),
                blocks.texts[index],
                TERMS,
                block_rng(SEED, index),
                ALPHAS,
                MAX_POSITIONS,
                combine_on,
                inside_anchors,
            )
        )
    counts = {"positions": 0, "labelled": 0, "beyond_paper": 0, "exact": 0, "ties": 0, "recomputed_batches": 0}
    computed = pipeline_labels(tok, blocks, baseline, reinforced, top_k=1, combine_on=combine_on, inside_anchors=inside_anchors)
    for alpha, (labels, stats) in computed.items():
        counts["recomputed_batches"] += stats["recomputed_batches"]
        for index, (positions, scores, beyond_paper) in enumerate(references):
            length = int(blocks.attention_mask[index].sum())
            expected_labelled = torch.zeros(blocks.input_ids.shape[1], dtype=torch.bool)
            expected_labelled[positions] = True
            labelled = labels[index] != IGNORE
            assert torch.equal(labelled, expected_labelled), (family, alpha, index, blocks.texts[index], labelled, expected_labelled)
            counts["positions"] += length
            counts["labelled"] += len(positions)
            counts["beyond_paper"] += len(beyond_paper)
            if not positions:
                continue
            chosen = labels[index, positions]
            best = scores[alpha].max(dim=-1).values
            exact = chosen == scores[alpha].argmax(dim=-1)
            near = scores[alpha].gather(-1, chosen.unsqueeze(-1)).squeeze(-1) >= best - 1e-5 * best.abs().clamp(min=1.0)
            assert bool((exact | near).all()), (family, alpha, index, [p for p, ok in zip(positions, exact | near, strict=True) if not ok])
            counts["exact"] += int(exact.sum())
            counts["ties"] += int((~exact).sum())
    print(f"{family}, {combine_on}, inside anchors {inside_anchors}: {len(blocks)} blocks x {len(ALPHAS)} alphas: {counts}")
    assert counts["labelled"] > 0.5 * counts["positions"]
    assert (counts["beyond_paper"] > 0.01 * counts["labelled"]) == (inside_anchors != "unlabelled")
    # The fallback runs on the paper's raw logits; on log-probabilities the store decides every position of these texts.
    assert counts["recomputed_batches"] > 0 or combine_on == "log_probs"
