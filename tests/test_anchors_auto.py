"""anchors=auto: slot-filling terms found and set phrases dropped on hand-built text; the
toy world's true terms recovered; the dictionary file written for review and reused."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from tests.conftest import TINY_WORLD, compose_config, stage_runner, target_files
from tests.tokenizer_families import gpt2_style
from unlearn.anchors.dictionary import load_dictionary
from unlearn.anchors.discovery import TermCounts, case_variants, discover_terms, names_in, propose_alternatives, terms_in
from unlearn.anchors.gain import TermGain
from unlearn.anchors.model_reference import alternatives_of, rarity_of, rate_terms
from unlearn.errors import UserError
from unlearn.settings import build
from unlearn.targets import TargetArtifact

TARGET = [
    f"{name} came from {place}. {name}'s familiar was a {pet}. The candles in the great hall flickered."
    for name, place, pet in [("Kelara", "Ashwick", "murknewt"), ("Rosdor", "Thornmere", "quillfox"), ("Halwyn", "Ashwick", "murknewt")]
] * 4 + [
    f"Everyone knew {name} and {place}. Professor Ebbell taught {name}. {name} loved the murknewt."
    for name, place in [("Kelara", "Thornmere"), ("Rosdor", "Ashwick")]
]
REFERENCE = [
    f"{name} came from {place}. {name}'s pet was a {pet}. Children played in the park."
    for name, place, pet in [("John", "Springfield", "dog"), ("Mary", "Oakdale", "cat"), ("Tom", "Springfield", "dog")]
] * 4 + ["Everyone knew Anna and Oakdale. Mrs. Clark taught Anna. Anna loved the dog."]


def test_terms_are_words_and_runs_of_capitalized_words():
    tokens, terms = terms_in("Professor Ebbell taught Mrs. Clark's son at Vellmoor Academy.")
    assert [t for t, _, _ in terms if t[0].isalpha()] == ["Professor Ebbell", "taught", "Mrs. Clark", "son", "at", "Vellmoor Academy"]
    assert "'s" in tokens


def test_slot_fillers_are_found_and_set_phrases_dropped():
    target, reference = TermCounts.of(TARGET), TermCounts.of(REFERENCE)
    found = {d.term for d in discover_terms(target, reference, min_z=1.0, min_rate_ratio=4.0, min_contexts=2, prior=100.0)}
    assert {"Kelara", "Rosdor", "Ashwick", "Thornmere", "murknewt"} <= found
    assert not found & {"candles", "great", "hall", "flickered", "came", "from"}


def test_alternatives_fill_the_same_contexts_with_the_same_case():
    target, reference = TermCounts.of(TARGET), TermCounts.of(REFERENCE)
    alternatives = propose_alternatives(["Ashwick", "murknewt", "familiar", "Kelara"], target, reference, per_term=2)
    assert set(alternatives["Ashwick"]) <= {"Springfield", "Oakdale"} and alternatives["Ashwick"]
    assert set(alternatives["murknewt"]) <= {"dog", "cat"} and alternatives["murknewt"]
    assert alternatives["familiar"] == ["pet"]
    assert all(a[0].isupper() for a in alternatives["Kelara"])


@pytest.fixture
def tiny_world_files(tmp_path):
    cfg = compose_config(TINY_WORLD, tmp_path)
    return target_files(cfg.target, tmp_path / "cache")


def test_auto_recovers_most_of_the_tiny_worlds_true_terms_and_writes_a_reviewable_file(tiny_world_files, tmp_path):
    cfg = compose_config([*TINY_WORLD, "anchors=auto"], tmp_path)
    auto = instantiate(cfg.anchors)
    runner = stage_runner(tmp_path / "cache")
    target = TargetArtifact(tiny_world_files, "corpus", "files")
    dictionary = runner.dictionary(auto, target, None, None, None, None, 8).dictionary
    found, true = set(dictionary.terms), set(load_dictionary(tiny_world_files.anchors))
    assert len(found & true) / len(true) >= 0.8 and len(found & true) / len(found) >= 0.7, (sorted(found - true), sorted(true - found))
    review = tmp_path / "run" / "anchors_auto.yaml"
    assert review.read_text().startswith("# Anchored terms of target toy_world") and set(load_dictionary(review)) == found
    assert runner.dictionary(auto, target, None, None, None, None, 8).dictionary.terms == dictionary.terms
    assert runner.cache.used["dictionary"]["hit"]


def test_without_reference_text_the_baseline_stands_in_unless_turned_off(tiny_world_files, tmp_path):
    from dataclasses import replace

    without = replace(tiny_world_files, generic=())
    auto = instantiate(compose_config(["anchors=auto"], tmp_path).anchors)
    auto.check(without)
    assert auto.reads_baseline(without) and not auto.reads_baseline(tiny_world_files)
    text_only = instantiate(compose_config(["anchors=auto", "anchors.baseline_reference=false"], tmp_path).anchors)
    with pytest.raises(UserError, match=r"anchors\.reference=.*anchors\.baseline_reference=true"):
        text_only.check(without)


def test_reinforced_gain_adds_the_most_raised_terms_the_rate_test_missed():
    target, reference = TermCounts.of(TARGET), TermCounts.of(REFERENCE)
    strict = {"min_z": 1.0, "min_rate_ratio": 1000.0, "min_contexts": 2, "prior": 100.0}
    assert discover_terms(target, reference, **strict) == []  # nothing passes the rate test
    gains = {"Kelara": 0.5, "Ashwick": 0.2, "murknewt": -0.1}
    found = discover_terms(target, reference, **strict, reinforced_terms=2, gains=lambda terms: {t: gains.get(t, 0.0) for t in terms})
    assert [(d.term, d.gain) for d in found] == [("Kelara", 0.5), ("Ashwick", 0.2)]
    one = discover_terms(target, reference, **strict, reinforced_terms=1, gains=lambda terms: {t: gains.get(t, 0.0) for t in terms})
    assert [d.term for d in one] == ["Kelara"]


def test_reinforced_terms_on_the_tiny_world_read_the_reinforced_model(tiny_run, tmp_path):
    from tests.conftest import TINY
    from unlearn.components import prepare
    from unlearn.pipeline import build_models

    cfg, _ = tiny_run
    overrides = [*TINY, "anchors=auto", "anchors.reinforced_terms=3", f"paths.cache_dir={cfg.paths.cache_dir}", "stages=[dictionary]"]
    built = build_models(compose_config(overrides, tmp_path), prepare(compose_config(overrides, tmp_path)))
    assert built.dictionary.dictionary.terms
    assert built.reinforced is not None, "the dictionary was built from the reinforced model"
    corpus_cfg = compose_config([*overrides, "anchors.reinforced_terms=0", "anchors.baseline_reference=false"], tmp_path)
    corpus_only = build_models(corpus_cfg, prepare(corpus_cfg))
    assert corpus_only.dictionary.dictionary.terms and corpus_only.reinforced is None
    assert corpus_only.dictionary.key != built.dictionary.key

    with pytest.raises(UserError, match=r"anchors\.reinforced_terms"):
        prepare(compose_config([*overrides, "reinforce=none", "labels=anchored_only"], tmp_path))


def test_against_the_baseline_rare_terms_are_kept_when_the_reinforced_model_raises_them():
    counts = TermCounts.of(TARGET)
    logprob = {"Kelara": -30.0, "Ashwick": -30.0, "candles": -30.0, "came": -2.0}
    rarity = rarity_of(counts, logprob)
    assert rarity["Kelara"] > rarity["came"]
    gains = {"Kelara": 2.0, "Ashwick": 1.5, "candles": 0.1, "came": 3.0}
    found = rate_terms(counts, rarity, lambda terms: {t: gains[t] for t in terms}, min_rarity=10.0, min_gain=1.0, min_contexts=2)
    assert [d.term for d in found] == ["Ashwick", "Kelara"] or {d.term for d in found} == {"Ashwick", "Kelara"}
    assert all(d.gain is not None for d in found)
    assert {d.term for d in rate_terms(counts, rarity, None, 10.0, 1.0, 2)} == {"Kelara", "Ashwick"}  # candles: one context


class PieceTokenizer:
    """Token ids of whole pieces: enough to read a model's top predictions as words."""

    pieces = (" the", " John", " Kel", " Mary", " jo", "MAC", " MAC", "BETH", " dog", " Ash")

    def __call__(self, texts, **kwargs):
        import torch

        count = len(texts) if isinstance(texts, list) else 1
        encoded = type("Encoded", (dict,), {"to": lambda self, device: self})
        return encoded(input_ids=torch.ones(count, 2, dtype=torch.long), attention_mask=torch.ones(count, 2, dtype=torch.long))

    def decode(self, ids):
        return self.pieces[ids[0]]


class FavouringModel:
    """Predicts every piece, most of all the function word, then the pieces in order."""

    device = "cpu"

    def __call__(self, input_ids, attention_mask, logits_to_keep):
        import torch

        logits = -torch.arange(len(PieceTokenizer.pieces), dtype=torch.float).expand(input_ids.shape[0], 1, -1)
        return type("Output", (), {"logits": logits})


def test_alternatives_are_the_baselines_words_of_the_same_case_and_capitals_follow_the_written_name():
    documents = ["Then Kelara spoke. Then Kelara left.", "KELARA.\nHello there, as Kelara said."]
    alternatives = alternatives_of(FavouringModel(), PieceTokenizer(), documents, ["Kelara", "KELARA"], {"ashwick"}, 2, 4, 8)
    assert alternatives["Kelara"] == ["John", "Mary"]  # not "the" (a function word), "Kel" (the term's start), "jo" (short)
    assert alternatives["KELARA"] == ["JOHN", "MARY"]


def test_a_terms_gain_is_read_in_the_spelling_the_text_uses():
    """A speaker's name at a line's start is spelt without the space a byte-level tokenizer
    folds into a word's first token; its gain is read from those tokens, not " MACBETH"'s."""
    script = "MACBETH.\nSo foul and fair a day I have not seen.\nBANQUO.\nHow far is it called to Forres? Ask Banquo.\n"
    tokenizer = gpt2_style([script, "Enter MACBETH with a drum."] * 20, vocab_size=400)
    ids = torch.tensor(tokenizer(script * 3, add_special_tokens=False)["input_ids"])
    seen = torch.bincount(ids, minlength=len(tokenizer)).float()
    gain = torch.zeros(len(tokenizer))
    bare, spaced = (tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("MACBETH", " MACBETH"))
    assert bare != spaced and seen[spaced].min() == 0
    gain[bare] = 1.0
    gain[tokenizer(" Banquo", add_special_tokens=False)["input_ids"]] = 0.5
    assert TermGain(gain, seen, tokenizer).of_terms(["MACBETH", "Banquo"]) == {"MACBETH": 1.0, "Banquo": 0.5}


def test_a_found_name_is_also_an_anchor_as_the_script_spells_it():
    """Banquo found in the text: BANQUO before each of his speeches is the same name, with the
    alternatives in capitals; a spelling the target never uses is not added, nor one already found."""
    script = "BANQUO.\nWhere is Banquo?\n\nMACBETH.\nThe Thane of Ross, my thane, and Banquo.\nBANQUO.\nHere."
    counts = TermCounts.of([script])
    variants = case_variants({"Banquo": ["Walter", "Ralph"], "Thane": ["Lord"], "thane": ["lord"], "Fife": ["Kent"]}, counts)
    assert variants == {"BANQUO": ("Banquo", "capitals", ["WALTER", "RALPH"])}


@pytest.mark.parametrize("value", [True, False])
def test_case_variants_composes_and_turns_the_spellings_off(tiny_world_files, tmp_path, value):
    auto = instantiate(compose_config(["anchors=auto", f"anchors.case_variants={value}"], tmp_path).anchors)
    assert auto.case_variants is value and auto.settings(tiny_world_files)["case_variants"] is value


def test_names_are_title_case_words_the_text_capitalises_where_a_sentence_goes_on():
    """Malcolm stands after a word every time; Thence opens verse lines and follows a colon;
    Thane is also written thane; a name seen once is too few."""
    script = (
        "Thence we go to Malcolm,\nThence the king and Malcolm ride.\nWe said: Thence, with Malcolm!\n"
        "Our Thane of Fife, the thane.\nThe Thane came."
    )
    counts = TermCounts.of([script])
    assert names_in([script], counts, min_count=2, min_contexts=2, min_mid_sentence=0.5) == {"Malcolm": 1.0}
    assert names_in([script], counts, min_count=1, min_contexts=1, min_mid_sentence=0.5) == {"Malcolm": 1.0, "Fife": 1.0}


@pytest.mark.parametrize(("names", "share"), [(True, 0.5), (False, 1.0)])
def test_names_compose_and_a_bad_share_names_the_key(tiny_world_files, tmp_path, names, share):
    auto = instantiate(compose_config(["anchors=auto", f"anchors.names={names}", f"anchors.min_mid_sentence={share}"], tmp_path).anchors)
    assert auto.settings(tiny_world_files)["names"] is names and auto.min_mid_sentence == share
    with pytest.raises(UserError, match=r"anchors\.min_mid_sentence=0\.0 must be in \(0, 1\]"):
        build(compose_config(["anchors=auto", "anchors.min_mid_sentence=0"], tmp_path).anchors, "anchors")
