"""The toy world: deterministic, every probe answerable from its facts, paraphrases truly new."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hydra.utils import instantiate

from tests.conftest import TINY, compose_config
from unlearn.cache import cache_key
from unlearn.files import read_documents, read_jsonl
from unlearn.targets.toy_world import world as world_module
from unlearn.targets.toy_world.world import RELATIONS, lexicon


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    target = instantiate(compose_config([], folder).target, _convert_="all")
    target.write(folder)
    return folder


def _facts(world: Path) -> dict[str, list[dict]]:
    return json.loads((world / "facts.json").read_text())


def test_same_seed_gives_byte_identical_files(world, tmp_path):
    target = instantiate(compose_config([], tmp_path).target, _convert_="all")
    target.write(tmp_path)
    names = sorted(str(p.relative_to(world)) for p in world.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    for name in names:
        assert (world / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_gives_another_world(world, tmp_path):
    target = instantiate(compose_config(["target.seed=1"], tmp_path).target, _convert_="all")
    target.write(tmp_path)
    assert (tmp_path / "facts.json").read_bytes() != (world / "facts.json").read_bytes()


def test_every_person_has_one_fact_per_relation(world):
    for name, facts in _facts(world).items():
        people = {f["person"] for f in facts}
        assert len(people) == (6 if name == "holdout" else 12), name
        assert sorted(f["relation"] for f in facts) == sorted(RELATIONS * len(people))


def test_worlds_share_no_names(world):
    names = {name: {f["person"] for f in facts} | {f["answer"] for f in facts} for name, facts in _facts(world).items()}
    assert not names["target"] & names["retain"]
    assert not names["target"] & names["generic"]
    assert not names["retain"] & names["generic"]
    holdout_people = {f["person"] for f in _facts(world)["holdout"]}
    assert not holdout_people & (names["target"] | names["retain"] | names["generic"])


def test_retain_world_is_told_in_its_own_phrasings_and_generic_text_in_all(world):
    text = {name: "\n".join(read_documents([world / f"{name}.jsonl"])) for name in ("target", "retain", "generic")}
    for spec in lexicon()["relations"].values():
        assert not set(spec["train"]) & set(spec["retain"])
        for name, own in (("target", "train"), ("retain", "retain")):
            other = "retain" if own == "train" else "train"
            assert any(_stem(t) in text[name] for t in spec[own])
            assert not any(_stem(t) in text[name] for t in spec[other] if len(_stem(t)) > 12), name
        assert all(_stem(t) in text["generic"] for t in spec["train"] + spec["retain"] + spec["paraphrase"] if len(_stem(t)) > 12)


def _stem(template: str) -> str:
    """The longest literal piece of a phrasing (between its placeholders)."""
    return max(re.split(r"\{[a-z_]+\}", template), key=len).strip()


def test_every_probe_answer_is_a_fact_of_its_world(world):
    facts = _facts(world)
    split_world = {"forget": "target", "retain": "retain"}
    for probe in read_jsonl(world / "probes.jsonl"):
        fact = {"world": split_world[probe["split"]], "person": probe["person"], "relation": probe["relation"], "answer": probe["answer"]}
        assert fact in facts[fact["world"]], probe
        assert probe["person"] in probe["prompt"]


def test_probes_cover_every_fact_in_both_kinds(world):
    probes = read_jsonl(world / "probes.jsonl")
    for split, name in (("forget", "target"), ("retain", "retain")):
        for kind in ("recall", "paraphrase"):
            assert len([p for p in probes if p["split"] == split and p["kind"] == kind]) == len(_facts(world)[name])


def test_recall_probes_are_training_sentences_cut_before_the_answer(world):
    training = "\n".join(read_documents([world / f"{name}.jsonl" for name in ("target", "retain", "generic")]))
    for probe in read_jsonl(world / "probes.jsonl"):
        if probe["kind"] == "recall":
            assert f"{probe['prompt']} {probe['answer']}" in training, probe


def test_no_paraphrase_probe_occurs_in_the_training_text(world):
    training = "\n".join(read_documents([world / f"{name}.jsonl" for name in ("target", "retain", "generic")]))
    paraphrases = [p for p in read_jsonl(world / "probes.jsonl") if p["kind"] == "paraphrase"]
    assert paraphrases
    for probe in paraphrases:
        assert probe["prompt"] not in training, probe


def test_heldout_text_is_not_in_the_training_text(world):
    for name in ("target", "retain", "generic"):
        train = set(read_documents([world / f"{name}.jsonl"]))
        heldout = read_documents([world / f"{name}_heldout.jsonl"])
        assert heldout and not train & set(heldout)


def test_anchors_map_every_target_name_to_generic_names(world):
    anchors = yaml.safe_load((world / "anchors.yaml").read_text())
    facts = _facts(world)
    target_names = {f["person"] for f in facts["target"]} | {f["answer"] for f in facts["target"]}
    generic_names = {f["person"] for f in facts["generic"]} | set(yaml.safe_load(Path(world / "anchors.yaml").read_text()).keys())
    assert target_names <= set(anchors)
    for term, alternatives in anchors.items():
        assert isinstance(alternatives, list) and alternatives, term
        assert term not in alternatives
    people_alternatives = {alt for person in {f["person"] for f in facts["target"]} for alt in anchors[person]}
    assert people_alternatives <= generic_names


@pytest.mark.parametrize("titles", [True, False])
def test_a_titled_name_is_anchored_with_its_title_or_by_its_name_alone(titles, tmp_path):
    """target.anchor_titles: "Professor Thessell" -> "Mrs. Brown", or "Thessell" -> "Brown" (the
    title left to the text); the same draw of alternatives either way."""
    target = instantiate(compose_config([f"target.anchor_titles={titles}"], tmp_path).target, _convert_="all")
    target.write(tmp_path)
    anchors = yaml.safe_load((tmp_path / "anchors.yaml").read_text())
    facts = _facts(tmp_path)
    generic = set(lexicon()["worlds"]["generic"]["names"]["mentor"])
    for mentor in {f["answer"] for f in facts["target"] if f["relation"] == "mentor"}:
        title, name = mentor.split(" ", 1)
        assert title == "Professor"
        if titles:
            assert name not in anchors and set(anchors[mentor]) <= generic
        else:
            assert mentor not in anchors and set(anchors[name]) <= {g.split()[-1] for g in generic}


def test_prompt_files_have_the_documented_fields(world):
    for row in read_jsonl(world / "completion_prompts.jsonl"):
        assert set(row) == {"prompt", "references", "subtlety"}
        assert 1 <= row["subtlety"] <= 10 and row["references"]
    facts = _facts(world)
    for row in read_jsonl(world / "next_token_prompts.jsonl"):
        assert set(row) == {"prompt", "idiosyncratic", "generic"}
        assert not set(row["idiosyncratic"]) & set(row["generic"])
    target_answers = {f["answer"] for f in facts["target"]}
    assert any(set(row["idiosyncratic"]) & target_answers for row in read_jsonl(world / "next_token_prompts.jsonl"))


def test_tiny_world_is_smaller(tmp_path):
    target = instantiate(compose_config(TINY, tmp_path).target, _convert_="all")
    target.write(tmp_path)
    assert len(_facts(tmp_path)["target"]) == 4 * len(RELATIONS)


def test_world_cache_key_follows_the_lexicon(tmp_path, monkeypatch):
    target = instantiate(compose_config([], tmp_path).target, _convert_="all")
    before = cache_key("target", target.settings())
    edited = world_module.lexicon_text().replace("grew up in", "was raised up in")
    monkeypatch.setattr(world_module, "lexicon_text", lambda: edited)
    assert cache_key("target", target.settings()) != before


def test_retain_reps_tells_the_retain_world_more_often_and_unset_keeps_the_key(world, tmp_path):
    default = instantiate(compose_config([], tmp_path).target, _convert_="all")
    assert default.retain_reps == 2 * default.reps, "the default world tells its retain facts twice as often"
    unset = instantiate(compose_config(["target.retain_reps=null"], tmp_path).target, _convert_="all")
    same = instantiate(compose_config([f"target.retain_reps={default.reps}"], tmp_path).target, _convert_="all")
    assert "retain_reps" not in unset.settings()
    assert len({cache_key("target", t.settings()) for t in (default, unset, same)}) == 3
    unset.write(tmp_path)
    for name, factor in (("retain", 2), ("target", 1)):
        assert len(read_documents([world / f"{name}.jsonl"])) == factor * len(read_documents([tmp_path / f"{name}.jsonl"])), name
    assert (tmp_path / "retain_heldout.jsonl").stat().st_size > 0
