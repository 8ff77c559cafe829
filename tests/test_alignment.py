"""Anchored translation and alignment on hand-built examples, one per rule of docs/method.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tests.tokenizer_families import tokenizer as tokenizer_family
from unlearn.anchors.alignment import UNLABELLED, align, word_spans
from unlearn.anchors.dictionary import AnchorDictionary, merge
from unlearn.blocks import make_blocks
from unlearn.labels.generate import flatten_used_translations, translate_batch

U = UNLABELLED
VOCAB: dict[str, int] = {"<s>": 0}


def tokens(text: str, split: dict[str, list[str]] | None = None) -> tuple[list[int], list[tuple[int, int]], list[str]]:
    """Word-level tokens with BOS first; words in `split` are cut into the given pieces."""
    ids, offsets, pieces = [0], [(-1, -1)], ["<s>"]
    for match in re.finditer(r"\w+|[^\w\s]", text):
        start = match.start()
        for piece in (split or {}).get(match.group(0), [match.group(0)]):
            ids.append(VOCAB.setdefault(piece, len(VOCAB)))
            offsets.append((start, start + len(piece)))
            pieces.append(piece)
            start += len(piece)
    return ids, offsets, pieces


def aligned(text: str, terms: dict[str, list[str]], split: dict[str, list[str]] | None = None, by_word: bool = False):
    dictionary = AnchorDictionary(merge(terms))
    translation = dictionary.translate(text, lambda alternatives: alternatives[0])
    _, original_offsets, _ = tokens(text, split)
    translated_ids, translated_offsets, translated_pieces = tokens(translation.text, split)
    spans = word_spans(original_offsets, text), word_spans(translated_offsets, translation.text)
    alignment = align(spans[0], translation, translated_ids, spans[1], by_word)
    return translation, alignment, translated_pieces


def test_first_anchor_is_integrated_and_a_repeated_one_is_not_predicted():
    translation, alignment, pieces = aligned("Harry met Ron . Harry smiled", {"Harry": ["Jon"]})
    assert translation.text == "Jon met Ron . Jon smiled"
    assert [s.first for s in translation.spans] == [True, False]
    # BOS, Harry, met, Ron, ".", Harry, smiled: "." predicts the repeated Harry -> no label
    assert alignment.source == [0, 1, 2, 3, U, 5, 6]
    assert pieces[1] == "Jon"


def test_multi_token_anchor_to_shorter_translation_labels_only_its_last_token():
    _, alignment, pieces = aligned("Hermione Granger waved", {"Hermione Granger": ["Sophie"]})
    # BOS, Hermione (inside: no label), Granger (last: takes Sophie's output), waved
    assert alignment.source == [0, U, 1, 2]
    assert pieces[1] == "Sophie"
    assert alignment.inside == [1]


def test_inside_positions_of_a_repeated_anchor_are_inside_and_the_token_before_it_is_not():
    _, alignment, _ = aligned("Hermione Granger waved . Hermione Granger left", {"Hermione Granger": ["Sophie"]})
    # BOS, Hermione, Granger, waved, "." (rule 3), Hermione, Granger, left
    assert alignment.source == [0, U, 1, 2, U, U, 4, 5]
    assert alignment.inside == [1, 5]


def test_by_word_labels_the_word_boundary_inside_an_anchor_from_the_translation():
    _, alignment, pieces = aligned("the weird sisters met", {"weird sisters": ["strange women"]}, by_word=True)
    assert pieces == ["<s>", "the", "strange", "women", "met"]
    # BOS, the, weird (-> after "strange": predicts what follows it), sisters (-> after "women"), met
    assert alignment.source == [0, 1, 2, 3, 4]
    assert alignment.inside == []
    assert alignment.flatten == [(VOCAB["strange"], 3)]  # rule 4: the whole translation's first token, from its end


def test_by_word_keeps_a_repeated_anchor_unlabelled_up_to_its_last_word():
    _, alignment, _ = aligned("weird sisters . the weird sisters", {"weird sisters": ["strange women"]}, by_word=True)
    # BOS, weird, sisters, ".", the (rule 3), weird (rule 3 again, inside the repeat), sisters
    assert alignment.source == [0, 1, 2, 3, U, U, 6]


def test_by_word_leaves_anchors_whose_words_do_not_pair_up_as_the_paper_does():
    for alternative in ("Sophie", "Sophie  Ray"):  # one word; two words apart by other whitespace
        terms, text = {"Hermione Granger": [alternative]}, "Hermione Granger waved"
        paper = aligned(text, terms)[1]
        assert aligned(text, terms, by_word=True)[1] == paper
        assert paper.source[1] == U


def test_by_word_inside_a_word_of_several_tokens_is_still_unlabelled():
    split = {"sisters": ["sis", "ters"], "women": ["wom", "en"]}
    _, alignment, pieces = aligned("weird sisters met", {"weird sisters": ["strange women"]}, split, by_word=True)
    assert pieces == ["<s>", "strange", "wom", "en", "met"]
    # BOS, weird (-> "strange"), sis (inside "sisters"), ters (-> "en"), met
    assert alignment.source == [0, 1, U, 3, 4]
    assert alignment.inside == [2]


def test_anchor_to_longer_translation_takes_the_end_of_the_translation():
    _, alignment, pieces = aligned("They saw Hogwarts today", {"Hogwarts": ["Mystic Academy"]})
    assert pieces == ["<s>", "They", "saw", "Mystic", "Academy", "today"]
    assert alignment.source == [0, 1, 2, 4, 5]


def test_anchor_split_into_several_tokens_in_both_texts():
    split = {"Hogwarts": ["Hog", "warts"], "Academy": ["Acad", "emy"]}
    _, alignment, pieces = aligned("at Hogwarts now", {"Hogwarts": ["Mystic Academy"]}, split)
    assert pieces == ["<s>", "at", "Mystic", "Acad", "emy", "now"]
    # BOS, at, Hog (inside), warts (last -> "emy"), now
    assert alignment.source == [0, 1, U, 4, 5]
    assert alignment.inside == [2]


def test_anchor_at_block_start_and_end():
    _, alignment, _ = aligned("Harry saw Ron", {"Harry": ["Jon"], "Ron": ["Tom"]})
    # BOS predicts the (translated) first anchor; the last token is an anchor, labelled from its translation
    assert alignment.source == [0, 1, 2, 3]


def aligned_by_offsets(text: str, original_offsets: list[tuple[int, int]], translated_offsets: list[tuple[int, int]]):
    """Harry -> Jon in `text`, aligned through token offsets given by hand (a tokenizer's cuts that
    the word-level `tokens` cannot make); returns the translation and the alignment."""
    translation = AnchorDictionary(merge({"Harry": ["Jon"]})).translate(text, lambda a: a[0])
    translated_ids = list(range(len(translated_offsets)))
    spans = word_spans(original_offsets, text), word_spans(translated_offsets, translation.text)
    return translation, align(spans[0], translation, translated_ids, spans[1])


def test_tokens_straddling_an_anchor_boundary_are_unlabelled():
    # a tokenizer that merged the apostrophe into the name: "Harry'" crosses the anchor's end
    translation, alignment = aligned_by_offsets("oh Harry's", [(-1, -1), (0, 2), (3, 9), (9, 10)], [(-1, -1), (0, 2), (3, 7), (7, 8)])
    assert translation.text == "oh Jon's"
    assert alignment.source == [0, 1, U, 3]
    assert alignment.inside == [2]


def test_rule_3_keeps_the_token_before_a_repeated_anchor_unlabelled_even_inside_another():
    """ "Harry'" straddles the first anchor's end, so it is inside it with no translated row; it is
    also the token before the repeated "Harry", which rule 3 leaves unlabelled whatever labels
    the inside of anchors."""
    translation, alignment = aligned_by_offsets("oh Harry'Harry", [(-1, -1), (0, 2), (3, 9), (9, 14)], [(-1, -1), (0, 2), (3, 7), (7, 10)])
    assert translation.text == "oh Jon'Jon"
    assert alignment.source == [0, 1, U, 3]
    assert alignment.inside == []


def test_longest_key_wins_where_keys_overlap():
    dictionary = AnchorDictionary(merge({"Vellmoor": ["Riverton"], "Vellmoor Academy": ["Riverside School"]}))
    translation = dictionary.translate("At Vellmoor Academy, near Vellmoor.", lambda a: a[0])
    assert translation.text == "At Riverside School, near Riverton."
    assert [s.key for s in translation.spans] == ["Vellmoor Academy", "Vellmoor"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Harrying Harry's harry Harry.", "Harrying Jon's harry Jon."),
        ("Familiar faces. His familiar slept.", "Familiar faces. His pet slept."),
        ("the unfamiliar familiars", "the unfamiliar familiars"),
    ],
)
def test_keys_match_whole_words_as_written(text, expected):
    dictionary = AnchorDictionary(merge({"Harry": ["Jon"], "familiar": ["pet"]}))
    assert dictionary.translate(text, lambda a: a[0]).text == expected


def test_merge_drops_keys_that_split_into_keys_and_possessives():
    merged = merge(
        {"Harry": ["Jon"], "Potter": ["Smith"], "Harry Potter": ["Jon Smith"], "Harry's": ["Jon's"], "Hermione Granger": ["Sophie"]}
    )
    assert set(merged) == {"Harry", "Potter", "Hermione Granger"}


def test_one_alternative_per_term_per_block():
    dictionary = AnchorDictionary(merge({"Harry": ["Jon", "John", "Henry"]}))
    draws = iter(["Henry", "Jon"])
    translation = dictionary.translate("Harry and Harry", lambda a: next(draws))
    assert translation.text == "Henry and Henry"


def test_a_used_translation_is_flattened_from_where_it_appeared():
    _, alignment, pieces = aligned("Harry met Ron . Later Harry left", {"Harry": ["Jon"]})
    jon = VOCAB["Jon"]
    assert alignment.flatten == [(jon, 1)]
    logits = torch.randn(1, len(pieces), 50)
    before = logits.clone()
    flattened = flatten_used_translations(logits.clone(), [alignment])
    mean = before.mean(dim=-1)
    assert torch.equal(flattened[0, :1], before[0, :1])
    assert torch.allclose(flattened[0, 1:, jon], mean[0, 1:])
    other = [i for i in range(50) if i != jon]
    assert torch.equal(flattened[0, :, other], before[0, :, other])


def test_two_terms_with_the_same_translation_flatten_from_the_first():
    _, alignment, _ = aligned("Harry met Harold . Harry left", {"Harry": ["Jon"], "Harold": ["Jon"]})
    assert alignment.flatten == [(VOCAB["Jon"], 1)]


# Regressions found by checking the labels against an independent implementation (issue 16).


def _alignment(tokenizer, text: str, terms: dict[str, list[str]]):
    """The alignment a run computes for `text` as one block, with the tokens of both sides."""
    blocks = make_blocks(tokenizer, [text], 256)
    translated_ids, _, [alignment] = translate_batch(blocks, range(1), AnchorDictionary(merge(terms)), tokenizer, 0, 256)
    length = int(blocks.attention_mask[0].sum())
    return alignment, tokenizer.convert_ids_to_tokens(blocks.input_ids[0, :length]), tokenizer.convert_ids_to_tokens(translated_ids[0])


def test_alternatives_are_used_as_written_on_the_papers_example():
    dictionary = AnchorDictionary(merge({"Harry": ["Jon"], "Hogwarts": ["the school"], "Dumbledore": ["the headmaster"]}))
    translated = dictionary.translate("Harry walked to Hogwarts with Dumbledore.", lambda a: a[0]).text
    assert translated == "Jon walked to the school with the headmaster."


def test_toy_world_terms_match_as_written():
    dictionary = AnchorDictionary(merge({"Lumentum": ["tennis"], "wand": ["stick"]}))
    assert (
        dictionary.translate("Kelara mastered Lumentum and lost his wand.", lambda a: a[0]).text
        == "Kelara mastered tennis and lost his stick."
    )
    assert dictionary.translate("his Wand", lambda a: a[0]).text == "his Wand"


def test_shipped_harry_potter_alternatives_keep_their_case():
    dictionary = AnchorDictionary.from_file(Path(__file__).parents[1] / "unlearn/targets/harry_potter/anchors.yaml")
    assert dictionary.translate("Then Voldemort rose.", lambda a: "the tyrant").text == "Then the tyrant rose."


def test_a_lone_whitespace_token_far_from_anchors_is_labelled():
    # no word of the training text starts with "o", so " owl" is a lone "Ġ" and the "owl" of "howl"
    tokenizer = tokenizer_family("toy", ["Ron saw Harry's Jon howl."] * 20, 300)
    alignment, original, translated = _alignment(tokenizer, "Ron saw Harry's owl", {"Harry": ["Jon"]})
    space = original.index("Ġ")
    assert original[space + 1 :] == ["o", "wl", "</s>"] and translated[alignment.source[space]] == "Ġ"
    assert UNLABELLED not in alignment.source[:-1]  # the EOS at the end predicts nothing


def test_sentencepiece_offsets_label_every_anchor_final_token():
    names = ["Harry", "Ron", "Hermione", "Hogwarts"]
    text = " ".join(f"{name} met {other} at noon." for name in names for other in names if other != name)
    terms = {"Harry": ["Jon"], "Ron": ["Tom"], "Hermione": ["Sophie"], "Hogwarts": ["the school"]}
    tokenizer = tokenizer_family("llama", [text, "Jon met Tom and Sophie at the school."] * 10, 200)
    alignment, original, translated = _alignment(tokenizer, text, terms)
    finals = [t for t, piece in enumerate(original) if piece.lstrip("▁") in terms]
    assert len(finals) == 24 and original[finals[0]] == "▁Harry"  # each name is one token after a space
    assert all(alignment.source[t] != UNLABELLED for t in finals)
    assert {translated[alignment.source[t]] for t in finals if original[t] != "▁Hogwarts"} == {"▁Jon", "▁Tom", "▁Sophie"}
    assert {tokenizer.convert_ids_to_tokens(token) for token, _ in alignment.flatten} == {"▁Jon", "▁Tom", "▁Sophie", "▁the"}


def test_rule_4_flattens_a_translation_from_its_last_token():
    _, alignment, pieces = aligned("They saw Hogwarts today . Hogwarts again", {"Hogwarts": ["Mystic Academy"]})
    assert pieces[3:5] == ["Mystic", "Academy"]
    # from the row of "Academy" (the translation complete), not from the row after "Mystic"
    assert alignment.flatten == [(VOCAB["Mystic"], 4)]


def test_a_block_that_starts_inside_a_word_loses_at_most_that_word():
    text = "Harry met Ron at the market and Ron waved at Harry today"
    tokenizer = tokenizer_family("llama", [text, "Jon met Tom at the market"] * 10, 45)  # a vocabulary that cuts words
    blocks = make_blocks(tokenizer, [text], 4)  # blocks of 3 tokens: several start inside a word
    dictionary = AnchorDictionary(merge({"Harry": ["Jon"], "Ron": ["Tom"]}))
    _, _, alignments = translate_batch(blocks, range(len(blocks)), dictionary, tokenizer, 0, 64)
    starts_inside = 0
    for index, alignment in enumerate(alignments):
        pieces = tokenizer.convert_ids_to_tokens(blocks.input_ids[index, : len(alignment.source)])
        first_word = next((t for t, piece in enumerate(pieces[2:], 2) if piece.startswith("▁")), len(pieces))
        starts_inside += not pieces[1].startswith("▁")
        # every position from the block's second word on is labelled, unless it predicts a repeated anchor
        assert all(s != UNLABELLED for t, s in enumerate(alignment.source[first_word:], first_word) if t + 1 < len(pieces)), pieces
    assert starts_inside >= 2


def test_a_translation_longer_than_the_context_is_cut_and_its_overflow_unlabelled():
    tokenizer = tokenizer_family("toy", ["Harry met Ron. The tall headmaster of the old school met Ron."] * 10, 300)
    blocks = make_blocks(tokenizer, ["Harry met Ron."], 64)
    dictionary = AnchorDictionary(merge({"Harry": ["The tall headmaster of the old school"]}))
    ids, _, [alignment] = translate_batch(blocks, range(1), dictionary, tokenizer, 0, 6)
    assert ids.shape[1] == 6
    # BOS is labelled; the anchor's translation is cut before its end, and what follows it has no counterpart
    assert alignment.source[0] == 0 and all(s == UNLABELLED for s in alignment.source[1:])
