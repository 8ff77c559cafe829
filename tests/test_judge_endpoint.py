"""The openai_compatible judge against a chat-completions server on 127.0.0.1 started by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chat_server import FakeChatServer, chat_server
from tests.conftest import compose_config
from unlearn.errors import UserError
from unlearn.evaluation.judges import Completion, OpenAICompatibleJudge
from unlearn.settings import build

SECRET = "sk-test-do-not-write-me-4f2a"


def grade_thornmere(body: dict) -> str:
    """Grades 3 when the completion names Thornmere, else 0."""
    return "Grade: 3" if "Thornmere" in body["messages"][-1]["content"] else "Grade: 0"


@pytest.fixture
def server():
    with chat_server(grade_thornmere) as url:
        yield url


COMPLETIONS = [
    Completion("Lorwen went to find", " the road to Thornmere.", ("Thornmere",), ()),
    Completion("Lorwen went to find", " a quiet place to read.", ("Thornmere",), ()),
]


def judge_from_config(base_url: str, tmp_path: Path, *extra: str) -> OpenAICompatibleJudge:
    overrides = ["judge=openai_compatible", f"judge.base_url={base_url}", "judge.backoff_s=0.01", "judge.model=grader", *extra]
    cfg = compose_config(overrides, tmp_path)
    return build(cfg.judge, "judge")


def test_grades_retries_and_caches(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    judge = judge_from_config(server, tmp_path)
    FakeChatServer.failures = 1
    assert judge.grade(COMPLETIONS) == [3, 0]
    assert len(FakeChatServer.requests) == 3  # one 500, retried, then the second completion
    assert FakeChatServer.headers_seen[-1] == f"Bearer {SECRET}"
    assert FakeChatServer.requests[-1]["model"] == "grader"

    assert judge_from_config(server, tmp_path).grade(COMPLETIONS) == [3, 0]
    assert len(FakeChatServer.requests) == 3  # the second run is served from the cache

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written, "the judge wrote no cache"
    assert not [p for p in written if SECRET in p.read_text(errors="ignore")]


def test_gives_up_with_one_line_naming_the_key(server, tmp_path):
    judge = judge_from_config(server, tmp_path, "judge.max_retries=2")
    FakeChatServer.failures = 10
    with pytest.raises(UserError, match=r"failed 3 times \(HTTP 500\).*judge.base_url") as err:
        judge.grade(COMPLETIONS[:1])
    assert "\n" not in str(err.value)
    assert not list(tmp_path.rglob("*.json"))
