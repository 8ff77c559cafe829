"""The anchored-term dictionary: loading, the merge rules (docs/method.md, "Anchored terms"), and matching in text."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from unlearn.errors import UserError
from unlearn.files import read_text

_POSSESSIVE = re.compile(r"['\u2019]s$")


def load_dictionary(path: Path) -> dict[str, list[str]]:
    """term -> generic alternatives, from YAML or JSON; a single string counts as one alternative."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"anchored-term dictionary {path} does not exist; point anchors.path at a YAML or JSON file")
    text = read_text(path, "anchors")
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise UserError(
            f"{path}:{err.lineno}: not valid JSON ({err.msg}); the dictionary maps each term to a list of alternatives"
        ) from err
    except yaml.YAMLError as err:
        line = err.problem_mark.line + 1 if getattr(err, "problem_mark", None) else "?"
        raise UserError(
            f"{path}:{line}: not valid YAML ({getattr(err, 'problem', err)}); the dictionary maps each term to a list of alternatives"
        ) from err
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{path}: expected a non-empty mapping of term -> list of alternatives")
    dictionary = {}
    for term, alternatives in raw.items():
        if term is None or not str(term).strip():
            raise UserError(f"{path}: term {term!r} is not a non-empty string; remove it or write the term")
        alternatives = [alternatives] if isinstance(alternatives, str) else alternatives
        if not isinstance(alternatives, list) or not alternatives or not all(isinstance(a, str) and a.strip() for a in alternatives):
            raise UserError(f"{path}: term {term!r} needs a non-empty list of non-empty strings as alternatives")
        dictionary[str(term)] = alternatives
    return dictionary


def _splits_into_keys(words: list[str], keys: set[str]) -> bool:
    """Whether the words can be cut into two or more consecutive groups that are each a key."""
    reachable = {0: 0}
    for end in range(1, len(words) + 1):
        for start, groups in list(reachable.items()):
            if start < end and " ".join(words[start:end]) in keys and (end not in reachable or reachable[end] < groups + 1):
                reachable[end] = groups + 1
    return reachable.get(len(words), 0) >= 2


def merge(dictionary: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """Apply the merge rules of docs/method.md: drop a key that splits into other keys ("Harry Potter" when
    "Harry" and "Potter" are keys) and a possessive whose stem is a key ("Harry's")."""
    keys = set(dictionary)
    merged = {}
    for term, alternatives in dictionary.items():
        stem = _POSSESSIVE.sub("", term)
        if stem != term and stem in keys:
            continue
        if _splits_into_keys(term.split(), keys - {term}):
            continue
        merged[term] = tuple(dict.fromkeys(alternatives))
    return merged


@dataclass(frozen=True)
class AnchorSpan:
    """One anchored term in a text and its translation: character ranges [start, end)."""

    key: str
    original: tuple[int, int]
    translated: tuple[int, int]
    first: bool


_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Translation:
    text: str
    spans: tuple[AnchorSpan, ...]

    def by_word(self) -> tuple[AnchorSpan, ...]:
        """The spans with every anchor of several words whose translation has as many words,
        apart by the same whitespace ("weird sisters" -> "strange women"), cut into one span per
        word, each keeping its anchor's key and `first`: the word boundaries inside such an
        anchor then have a translated counterpart (labels.inside_anchors=by_word, docs/method.md)."""
        spans = []
        for span in self.spans:
            words = list(_WORD.finditer(span.key))
            translated = list(_WORD.finditer(self.text[span.translated[0] : span.translated[1]]))
            if len(words) < 2 or _gaps(span.key, words) != _gaps(self.text[span.translated[0] : span.translated[1]], translated):
                spans.append(span)
                continue
            (start, _), (t_start, _) = span.original, span.translated
            spans += [
                AnchorSpan(span.key, (start + w.start(), start + w.end()), (t_start + t.start(), t_start + t.end()), span.first)
                for w, t in zip(words, translated, strict=True)
            ]
        return tuple(spans)


def _gaps(text: str, words: list[re.Match]) -> list[str]:
    """The whitespace between consecutive words: as many as the words, less one."""
    return [text[a.end() : b.start()] for a, b in itertools.pairwise(words)]


@dataclass(frozen=True)
class AnchorDictionary:
    """Merged terms, matched as written on word boundaries, longest first, and replaced by an
    alternative exactly as written (docs/method.md, "Anchored terms"): "Harry" never matches
    "harry", and "Hogwarts" -> "the school" stays lowercase mid-sentence as the authors' code has it."""

    terms: dict[str, tuple[str, ...]]
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alternation = "|".join(re.escape(term) for term in sorted(self.terms, key=lambda term: (-len(term), term)))
        object.__setattr__(self, "_pattern", re.compile(rf"(?<!\w)(?:{alternation or '(?!)'})(?!\w)"))

    @classmethod
    def from_file(cls, path: Path) -> AnchorDictionary:
        return cls(merge(load_dictionary(path)))

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.terms, sort_keys=True).encode()).hexdigest()[:16]

    def translate(self, text: str, draw) -> Translation:
        """Replace every anchored term; `draw(alternatives)` picks one alternative per term for the text."""
        chosen: dict[str, str] = {}
        pieces, spans = [], []
        cursor = length = 0
        for match in self._pattern.finditer(text):
            key = match.group(0)
            if key not in chosen:
                chosen[key] = draw(self.terms[key])
            alternative = chosen[key]
            pieces.append(text[cursor : match.start()])
            length += match.start() - cursor
            first = all(span.key != key for span in spans)
            spans.append(AnchorSpan(key, (match.start(), match.end()), (length, length + len(alternative)), first))
            pieces.append(alternative)
            length += len(alternative)
            cursor = match.end()
        pieces.append(text[cursor:])
        return Translation("".join(pieces), tuple(spans))
