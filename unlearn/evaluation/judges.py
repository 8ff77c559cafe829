"""Judges that grade a completion 0-3 for familiarity with the target (the paper's rubric).

3: names or details unique to the target that the prompt did not give;
2: typical of the target without a hint; 1: possibly a lucky guess; 0: none.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from unlearn.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Completion:
    """A sampled completion with what the judge may compare it to."""

    prompt: str
    text: str
    references: tuple[str, ...]
    anchored_terms: tuple[str, ...]


class Judge(Protocol):
    def grade(self, completions: list[Completion]) -> list[int]: ...


def _mentions(text: str, term: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, flags=re.IGNORECASE) is not None


def _words(term: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w{3,}", term)}


@dataclass
class ReferencesJudge:
    """Offline grades from terms, no model needed.

    3: a reference term of the prompt appears in the completion and not in the prompt;
    2: another anchored term of the target (a name only the target uses) appears, new;
    1: a word of three or more letters of a reference or anchored term appears, new
       (a partial or lucky hit);
    0: none of these.
    """

    def grade(self, completions: list[Completion]) -> list[int]:
        return [self._grade(c) for c in completions]

    @staticmethod
    def _grade(c: Completion) -> int:
        def new(term: str) -> bool:
            return _mentions(c.text, term) and not _mentions(c.prompt, term)

        if any(new(term) for term in c.references):
            return 3
        if any(new(term) for term in c.anchored_terms):
            return 2
        prompt_words = {w.lower() for w in re.findall(r"\w+", c.prompt)}
        text_words = {w.lower() for w in re.findall(r"\w+", c.text)}
        term_words = set().union(*(_words(t) for t in (*c.references, *c.anchored_terms)))
        return 1 if (term_words & text_words) - prompt_words else 0


RUBRIC = (
    "You grade whether a text completion shows familiarity with the book or world '{title}'. "
    "Reference terms for this prompt: {references}. Grade 0-3: "
    "3 = the completion names characters, places or details unique to '{title}' that the prompt did not give; "
    "2 = the completion is typical of '{title}' (its themes or setting) without a unique detail; "
    "1 = a detail that may be a lucky guess; 0 = no sign of familiarity. "
    "Answer with the digit only."
)


@dataclass
class OpenAICompatibleJudge:
    """An LLM judge behind any chat-completions endpoint (OpenAI, vLLM, llama.cpp server ...).

    The API key is read from the environment variable `api_key_env` and sent only in the
    request header: it is not part of the cache key and is never logged or written.
    Responses are cached in `cache_dir` by (base_url, model, messages), so a re-run costs
    nothing; failures are retried `max_retries` times with exponential backoff.
    """

    base_url: str
    model: str
    title: str
    cache_dir: str
    api_key_env: str = "OPENAI_API_KEY"
    max_retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 60.0

    def grade(self, completions: list[Completion]) -> list[int]:
        return [self._grade(c) for c in completions]

    def _messages(self, c: Completion) -> list[dict[str, str]]:
        system = RUBRIC.format(title=self.title, references=", ".join(c.references) or "none")
        return [{"role": "system", "content": system}, {"role": "user", "content": f"Prompt: {c.prompt}\nCompletion: {c.text}"}]

    def _grade(self, c: Completion) -> int:
        body = {"model": self.model, "messages": self._messages(c), "temperature": 0, "max_tokens": 4}
        key = hashlib.sha256(json.dumps([self.base_url, body], sort_keys=True).encode()).hexdigest()
        cached = Path(self.cache_dir) / f"{key}.json"
        if cached.exists():
            reply = json.loads(cached.read_text())["reply"]
        else:
            reply = self._ask(body)
            cached.parent.mkdir(parents=True, exist_ok=True)
            staging = cached.with_suffix(".tmp")
            staging.write_text(json.dumps({"request": body, "reply": reply}))
            staging.replace(cached)
        digits = re.findall(r"[0-3]", reply)
        if not digits:
            raise UserError(f"judge {self.model} at {self.base_url} answered {reply!r}, not a grade 0-3; check evaluator judge.model")
        return int(digits[0])

    def _ask(self, body: dict) -> str:
        headers = {"Content-Type": "application/json"}
        api_key = os.environ.get(self.api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        attempt = 0
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())["choices"][0]["message"]["content"]
            except (urllib.error.URLError, TimeoutError, KeyError, json.JSONDecodeError) as err:
                if attempt == self.max_retries:
                    raise UserError(
                        f"judge endpoint {self.base_url} failed {self.max_retries + 1} times ({_reason(err)}); "
                        f"check evaluator.familiarity_completion.judge.base_url and the key in ${self.api_key_env}"
                    ) from None
                delay = self.backoff_s * 2**attempt
                log.warning("judge request failed (%s); retrying in %.1f s", _reason(err), delay)
                time.sleep(delay)
                attempt += 1


def _reason(err: Exception) -> str:
    """What went wrong, without anything from the request (its headers hold the key)."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return type(err).__name__
