"""anchors=llm against a chat-completions server on 127.0.0.1: passages asked, replies
parsed and merged per docs/method.md, retries, the disk cache, and the key kept out of files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chat_server import FakeChatServer, chat_server
from tests.conftest import compose_config, stage_runner
from unlearn.anchors.llm import consolidate, parse_terms, sample_passages
from unlearn.errors import UserError
from unlearn.settings import build
from unlearn.targets import TargetArtifact, TargetFiles

SECRET = "sk-test-anchors-never-written-77"
CORPUS = [
    "Harriet Quill walked to Thornmere Castle with her owl Pipwick. At Thornmere Castle the Ember Hall was warm.",
    "Harriet's owl Pipwick carried letters. Harriet Quill cast Lumos in the Ember Hall.",
]


def extract(body: dict) -> str:
    """What an LLM might answer: terms of the passage it was given, sometimes fenced, once not JSON at all."""
    passage = body["messages"][-1]["content"]
    if "Lumos" in passage:
        return "```json\n" + json.dumps({"Lumos": ["a light spell"], "Harriet Quill": ["Mary Smith"], "Harriet": ["Mary"]}) + "\n```"
    if "Pipwick" in passage:
        return json.dumps({"Harriet Quill": ["Mary Smith", "Anna Brown"], "Harriet": ["Mary"], "Quill": ["Smith"], "Pipwick": ["Max"]})
    return "I could not find any."


def test_replies_are_parsed_and_merged_by_how_often_they_agree():
    assert parse_terms('Here: {"Hogwarts": ["the school", "Hogwarts"], "x": []}') == {"Hogwarts": ["the school"]}
    assert parse_terms("no json") is None and parse_terms("[1, 2]") is None
    merged = consolidate([{"Harry": ["Jon", "John"]}, {"Harry": ["John", "Hermione"], "Hermione": ["Emma"]}], per_term=2)
    assert merged == {"Harry": (2, ["John", "Jon"]), "Hermione": (1, ["Emma"])}


def test_passages_cover_the_corpus_and_are_drawn_from_the_seed():
    documents = [f"Sentence number {i} of the corpus." for i in range(200)]
    passages = sample_passages(documents, count=5, chars=300, seed=0)
    assert len(passages) == 5 and all(250 <= len(p) <= 400 for p in passages)
    assert passages == sample_passages(documents, count=5, chars=300, seed=0) != sample_passages(documents, count=5, chars=300, seed=1)


@pytest.fixture
def target(tmp_path) -> TargetFiles:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in CORPUS))
    return TargetFiles(name="quill", corpus=(corpus,))


def _anchors(base_url: str, tmp_path: Path, *extra: str):
    overrides = ["anchors=llm", f"anchors.base_url={base_url}", "anchors.model=extractor", "anchors.backoff_s=0.01"]
    return build(compose_config([*overrides, "anchors.passages=2", "anchors.passage_chars=60", *extra], tmp_path).anchors, "anchors")


def _dictionary(anchors, target: TargetFiles, cache: Path):
    return stage_runner(cache).dictionary(anchors, TargetArtifact(target, "corpus", "files"), None, None, None, None, 8).dictionary


def test_llm_dictionary_is_merged_cached_and_never_holds_the_key(target, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with chat_server(extract) as url:
        FakeChatServer.failures = 1
        dictionary = _dictionary(_anchors(url, tmp_path), target, tmp_path / "cache")
        asked = len(FakeChatServer.requests)
        assert FakeChatServer.headers_seen[-1] == f"Bearer {SECRET}" and FakeChatServer.requests[-1]["model"] == "extractor"
        assert "Harriet Quill" not in dictionary.terms  # splits into the keys Harriet and Quill (docs/method.md's merge rule)
        assert dictionary.terms["Harriet"] == ("Mary",) and dictionary.terms["Pipwick"] == ("Max",)
        review = (tmp_path / "run" / "anchors_llm.yaml").read_text()
        assert review.startswith("# Anchored terms of target quill, extracted by extractor")
        again = _dictionary(_anchors(url, tmp_path), target, tmp_path / "other-cache")
        assert len(FakeChatServer.requests) == asked and again.terms == dictionary.terms  # replies came from the disk cache
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_an_endpoint_that_names_nothing_is_a_clear_error_and_leaves_nothing(target, tmp_path):
    with (
        chat_server(lambda body: "Sorry, nothing here.") as url,
        pytest.raises(UserError, match=r"anchors=llm: extractor at .* named no term"),
    ):
        _dictionary(_anchors(url, tmp_path), target, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "dictionary").glob("*"))
