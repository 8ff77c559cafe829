"""Benchmark targets (MUSE-News, MUSE-Books, TOFU) map their datasets onto a target's files:
checked offline on tiny local files of the same schema, each source pointed at one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import compose_config, target_files
from unlearn.errors import UserError
from unlearn.files import read_documents, read_jsonl

# The fields of each benchmark's rows, as the dataset cards give them.
MUSE_ROWS = {
    "corpus": [{"text": "Forget article one."}, {"text": "Forget article two."}],
    "heldout": [{"text": "Held-out article."}],
    "nonmember": [{"text": "PrivLeak holdout article."}],
    "generic": [{"text": "Retain article one."}],
    "generic_heldout": [{"text": "Retain article two."}],
    "questions.forget": [{"question": "Who resigned?", "answer": "The minister"}],
    "questions.retain": [{"question": "Who won?", "answer": "The team"}],
}
TOFU_ROWS = {
    "corpus": [{"question": "Where was Basil Mahfouz born?", "answer": "In Kuwait City."}],
    "generic": [{"question": "What genre does Jaime Vasquez write?", "answer": "True crime."}],
    "questions.forget": [{"question": "Where was Basil Mahfouz born?", "answer": "In Kuwait City."}],
    "questions.retain": [{"question": "What genre does Jaime Vasquez write?", "answer": "True crime."}],
}


def local_sources(rows: dict[str, list[dict]], tmp_path: Path) -> list[str]:
    """Overrides pointing every source of the target at a local JSONL file holding `rows`."""
    overrides = []
    for role, role_rows in rows.items():
        path = tmp_path / "data" / f"{role}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in role_rows))
        overrides += [
            f"target.{role}.path=json",
            f"target.{role}.name=null",
            f"target.{role}.split=train",
            f"++target.{role}.data_files={path}",
        ]
    return overrides


@pytest.mark.parametrize("option", ["muse_news", "muse_books"])
def test_muse_maps_raw_privleak_and_knowmem(option, tmp_path):
    cfg = compose_config([f"target={option}", *local_sources(MUSE_ROWS, tmp_path)], tmp_path)
    files = target_files(cfg.target, tmp_path / "cache")
    assert read_documents(files.corpus) == ["Forget article one.", "Forget article two."]
    assert read_documents(files.nonmember) == ["PrivLeak holdout article."] and read_documents(files.heldout) == ["Held-out article."]
    assert read_documents(files.generic) == ["Retain article one."] and read_documents(files.generic_heldout) == ["Retain article two."]
    assert read_jsonl(files.questions) == [
        {"question": "Who resigned?", "answer": "The minister", "split": "forget"},
        {"question": "Who won?", "answer": "The team", "split": "retain"},
    ]


def test_tofu_writes_its_question_answer_pairs_as_the_corpus_and_probes(tmp_path):
    cfg = compose_config(
        ["target=tofu", "target.sets.forget=forget05", "target.sets.retain=retain95", *local_sources(TOFU_ROWS, tmp_path)], tmp_path
    )
    assert cfg.target.name == "tofu_forget05"
    files = target_files(cfg.target, tmp_path / "cache")
    assert read_documents(files.corpus) == ["Question: Where was Basil Mahfouz born?\nAnswer: In Kuwait City."]
    assert [q["split"] for q in read_jsonl(files.questions)] == ["forget", "retain"]


def test_hub_sources_compose_with_the_published_names(tmp_path):
    news = compose_config(["target=muse_news"], tmp_path).target
    assert (news.corpus.path, news.corpus.name, news.corpus.split) == ("muse-bench/MUSE-News", "raw", "forget")
    tofu = compose_config(["target=tofu", "target.sets.forget=forget01", "target.sets.retain=retain99"], tmp_path).target
    assert (tofu.questions.forget.name, tofu.questions.retain.name) == ("forget01", "retain99")


def test_a_template_field_the_rows_lack_names_the_key_and_the_fields(tmp_path):
    rows = {**MUSE_ROWS, "corpus": [{"body": "text under another field"}]}
    cfg = compose_config(["target=muse_news", *local_sources(rows, tmp_path)], tmp_path)
    with pytest.raises(UserError, match=r"target\.corpus\.text='\{text\}' uses 'text'.*their fields are \['body'\]"):
        target_files(cfg.target, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "target").glob("*"))


def test_an_unreachable_dataset_is_one_clear_line(tmp_path):
    cfg = compose_config(["target=muse_news"], tmp_path)
    with pytest.raises(
        UserError, match=r"target\.corpus: could not load muse-bench/MUSE-News \(name=raw, split=forget\).*hf auth login"
    ) as err:
        target_files(cfg.target, tmp_path / "cache")
    assert "\n" not in str(err.value)


RWKU_ROWS = {
    "corpus": [{"subject": "Stephen King", "text": "Stephen King wrote Carrie."}, {"subject": "Bruce Lee", "text": "Bruce Lee acted."}],
    "questions.forget": [
        {"subject": "Stephen King", "query": "Who wrote Carrie?", "answer": "Stephen King", "level": "2", "type": "direct"},
        {"subject": "Bruce Lee", "query": "Who founded Jeet Kune Do?", "answer": "Bruce Lee", "level": "2", "type": "direct"},
    ],
    "questions.retain": [{"subject": "Stephen King", "query": "Who directed The Shining?", "answer": "Stanley Kubrick", "level": "2"}],
}


def test_rwku_keeps_the_chosen_persons_rows(tmp_path):
    cfg = compose_config(["target=rwku", "target.sets.subject=Stephen King", *local_sources(RWKU_ROWS, tmp_path)], tmp_path)
    files = target_files(cfg.target, tmp_path / "cache")
    assert read_documents(files.corpus) == ["Stephen King wrote Carrie."]
    assert read_jsonl(files.questions) == [
        {"question": "Who wrote Carrie?", "answer": "Stephen King", "split": "forget"},
        {"question": "Who directed The Shining?", "answer": "Stanley Kubrick", "split": "retain"},
    ]
    published = compose_config(["target=rwku"], tmp_path).target
    assert (published.corpus.path, published.corpus.name, published.questions.forget.name) == (
        "jinzhuoran/RWKU", "train_original_passage", "forget_level2"
    )  # fmt: skip


def test_rwku_with_an_unknown_person_names_the_key(tmp_path):
    cfg = compose_config(["target=rwku", "target.sets.subject=Nobody", *local_sources(RWKU_ROWS, tmp_path)], tmp_path)
    with pytest.raises(UserError, match=r"target.corpus.where=\{'subject': 'Nobody'\} matches none"):
        target_files(cfg.target, tmp_path / "cache")
