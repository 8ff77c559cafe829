"""Anchored terms extracted by an LLM behind any chat-completions endpoint, as the paper
did with GPT-4: passages sampled from the target, each answered with a JSON object of
idiosyncratic expressions and generic alternatives, then merged: every term any reply
named, its alternatives ranked by how many replies proposed them, the merge rules of docs/method.md
applied when the dictionary is loaded."""

from __future__ import annotations

import json
import logging
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import ClassVar

from unlearn.anchors import ReadsNoModel
from unlearn.anchors.model_reference import ModelReading
from unlearn.chat import ChatClient
from unlearn.errors import UserError
from unlearn.files import fingerprint, read_documents
from unlearn.targets import TargetFiles

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "You help make a language model forget the text '{title}'. From the passage below, list its idiosyncratic "
    "expressions: names of people, places, creatures, spells, objects, institutions, invented words and phrases that "
    "identify '{title}'. For each, give {alternatives} generic alternatives that fit the same sentence but have nothing "
    "to do with '{title}' (for example a common first name for a character's name, an ordinary place for an invented "
    "place). Answer with one JSON object mapping each expression, exactly as written in the passage, to a list of "
    "alternatives, and nothing else."
)
JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def sample_passages(documents: list[str], count: int, chars: int, seed: int) -> list[str]:
    """`count` passages of about `chars` characters, cut at whitespace, drawn evenly over the corpus."""
    text = "\n\n".join(documents)
    if len(text) <= chars:
        return [text]
    rng = random.Random(seed)
    starts = sorted(rng.sample(range(0, len(text) - chars), min(count, len(text) - chars)))
    passages = []
    for start in starts:
        begin = text.rfind(" ", 0, start) + 1
        end = text.find(" ", begin + chars)
        passages.append(text[begin : end if end > 0 else len(text)])
    return passages


def parse_terms(reply: str) -> dict[str, list[str]] | None:
    """term -> alternatives from a reply that holds one JSON object (code fences allowed), or None."""
    found = JSON_OBJECT.search(reply)
    if not found:
        return None
    try:
        raw = json.loads(found.group())
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    terms = {}
    for term, alternatives in raw.items():
        alternatives = [alternatives] if isinstance(alternatives, str) else alternatives
        if isinstance(alternatives, list):
            kept = [a.strip() for a in alternatives if isinstance(a, str) and a.strip() and a.strip() != term]
            if term.strip() and kept:
                terms[term.strip()] = kept
    return terms


def consolidate(replies: list[dict[str, list[str]]], per_term: int) -> dict[str, tuple[int, list[str]]]:
    """Every term, with how many replies named it and its alternatives by how often they were proposed;
    an alternative that is itself a term is dropped (it would translate into the target)."""
    named: Counter = Counter()
    proposed: dict[str, Counter] = defaultdict(Counter)
    for reply in replies:
        for term, alternatives in reply.items():
            named[term] += 1
            proposed[term].update(dict.fromkeys(alternatives, 1))
    merged = {}
    for term, count in named.most_common():
        alternatives = [a for a, _ in proposed[term].most_common() if a not in named][:per_term]
        if alternatives:
            merged[term] = (count, alternatives)
    return merged


@dataclass(kw_only=True)
class LLMAnchors(ReadsNoModel, ChatClient):
    title: str
    passages: int
    passage_chars: int
    alternatives: int
    seed: int
    timeout_s: float = 120.0
    review_copy: str | None = None
    config_key: ClassVar[str] = "anchors"

    def check(self, target: TargetFiles) -> None:
        """The endpoint is reached only if the dictionary is not cached; its key is checked then."""

    def settings(self, target: TargetFiles) -> dict:
        """What the dictionary depends on (not where replies are cached, nor where a copy goes)."""
        keys = ("base_url", "model", "title", "passages", "passage_chars", "alternatives", "seed")
        return {"source": "llm", **{k: getattr(self, k) for k in keys}, "corpus": fingerprint(target.corpus)}

    def write(self, target: TargetFiles, reading: ModelReading | None) -> str:
        return "\n".join(self.extract(target)) + "\n"

    def extract(self, target: TargetFiles) -> list[str]:
        """The dictionary file's lines: one term per line with its alternatives and how many passages named it."""
        system = INSTRUCTIONS.format(title=self.title, alternatives=self.alternatives)
        passages = sample_passages(read_documents(target.corpus), self.passages, self.passage_chars, self.seed)
        replies, unreadable = [], 0
        for passage in passages:
            reply = self.reply([{"role": "system", "content": system}, {"role": "user", "content": passage}], max_tokens=2048)
            parsed = parse_terms(reply)
            if parsed is None:
                unreadable += 1
                log.warning("anchors=llm: a reply of %s held no JSON object of term -> alternatives; skipped", self.model)
                continue
            replies.append(parsed)
        merged = consolidate(replies, self.alternatives)
        if not merged:
            raise UserError(
                f"anchors=llm: {self.model} at {self.base_url} named no term with alternatives in {len(passages)} passages "
                f"({unreadable} replies unreadable); check anchors.model, or write the dictionary and use anchors=from_file"
            )
        header = [
            f"# Anchored terms of target {target.name}, extracted by {self.model} from {len(passages)} passages "
            f"({unreadable} unreadable replies skipped).",
            "# Review and edit, then run with anchors=from_file anchors.path=<this file>. Each comment: passages naming the term.",
        ]
        return header + [f"{json.dumps(t)}: {json.dumps(alts)}  # {n}" for t, (n, alts) in merged.items()]
