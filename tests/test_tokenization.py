"""The toy tokenizer: lossless, Llama-like BOS and leading spaces, exact offsets."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from unlearn.tokenization import train_bpe_tokenizer

TEXTS = ["Kelara grew up in Ashwick. Kelara's familiar was a glimmerfox.", "John grew up in Springfield."] * 50


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    train_bpe_tokenizer(TEXTS, vocab_size=300, min_frequency=2, model_max_length=64).save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("text", ["Kelara grew up in Ashwick.", "Zorvath's wand, ünïcödé & 123!", "  two  spaces\nand a newline"])
def test_round_trip(tokenizer, text):
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True).strip() == text.strip()


def test_a_word_is_the_same_tokens_at_the_start_and_inside_a_text(tokenizer):
    alone = tokenizer("Kelara", add_special_tokens=False)["input_ids"]
    inside = tokenizer("So Kelara", add_special_tokens=False)["input_ids"]
    assert inside[-len(alone) :] == alone


def test_offsets_point_at_the_characters_of_each_token(tokenizer):
    text = "Kelara grew up in Ashwick."
    encoding = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    pieces = [text[start:end] for start, end in encoding["offset_mapping"]]
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(piece == piece.strip() for piece in pieces)


def test_special_tokens(tokenizer):
    assert {tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token} == {"<s>", "</s>", "<pad>"}
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
