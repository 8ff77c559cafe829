"""Judges that grade a completion 0-3 for familiarity with the target (the paper's rubric).

3: names or details unique to the target that the prompt did not give;
2: typical of the target without a hint; 1: possibly a lucky guess; 0: none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Protocol

from unlearn.chat import ChatClient
from unlearn.errors import UserError


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


@dataclass(kw_only=True)
class OpenAICompatibleJudge(ChatClient):
    """An LLM judge behind any chat-completions endpoint (unlearn/chat.py: key from the
    environment, never written; replies cached on disk; retries with backoff)."""

    title: str
    config_key: ClassVar[str] = "judge"

    def grade(self, completions: list[Completion]) -> list[int]:
        return [self._grade(c) for c in completions]

    def _messages(self, c: Completion) -> list[dict[str, str]]:
        system = RUBRIC.format(title=self.title, references=", ".join(c.references) or "none")
        return [{"role": "system", "content": system}, {"role": "user", "content": f"Prompt: {c.prompt}\nCompletion: {c.text}"}]

    def _grade(self, c: Completion) -> int:
        reply = self.reply(self._messages(c), max_tokens=4)
        digits = re.findall(r"[0-3]", reply)
        if not digits:
            raise UserError(f"judge {self.model} at {self.base_url} answered {reply!r}, not a grade 0-3; check judge.model")
        return int(digits[0])
