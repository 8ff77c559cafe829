"""The facts of the toy worlds: who lives where, keeps what, learns from whom.

Facts are data, drawn by a seeded generator, so that every probe asked of a model has
a known answer and the anchored-term dictionary is exact ground truth.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

RELATIONS = ("home", "group", "pet", "friend", "mentor", "item", "skill")
ENTITY_KINDS = ("home", "group", "pet", "mentor", "item", "skill")


@dataclass(frozen=True)
class Fact:
    world: str
    person: str
    relation: str
    answer: str


@dataclass(frozen=True)
class World:
    name: str
    title: str
    school: str
    nouns: dict[str, str]
    people: tuple[str, ...]
    entities: dict[str, tuple[str, ...]]
    facts: tuple[Fact, ...]
    fillers: tuple[str, ...]

    def facts_of(self, person: str) -> list[Fact]:
        return [fact for fact in self.facts if fact.person == person]

    def values(self, relation: str) -> tuple[str, ...]:
        """Every name a fact of this relation can take in this world."""
        return self.people if relation == "friend" else self.entities[relation]


# Part of the world's cache key: raise it when a change to the generator changes its output.
GENERATOR_VERSION = 2


def lexicon_text() -> str:
    """worlds.yaml beside this module: the toy world's vocabulary and phrasings."""
    return resources.files(__package__).joinpath("worlds.yaml").read_text(encoding="utf-8")


@cache
def lexicon() -> dict[str, Any]:
    return yaml.safe_load(lexicon_text())


def generator_fingerprint() -> str:
    """Identifies what the generator writes beyond its parameters: its version and its lexicon."""
    return f"{GENERATOR_VERSION}-{hashlib.sha256(lexicon_text().encode()).hexdigest()[:16]}"


class NamesExhausted(Exception):
    """The lexicon has fewer distinct names of `kind` than the world asks for."""

    def __init__(self, kind: str, available: int, asked: int):
        self.kind, self.available, self.asked = kind, available, asked
        super().__init__(f"only {available} distinct {kind} names are available, {asked} were asked for")


def _invented_names(kind: str, spec: dict[str, Any], count: int, rng: random.Random, taken: set[str]) -> list[str]:
    """Distinct names of prefix + suffix, one per prefix so that no two names start alike."""
    prefixes = [p for p in spec["prefixes"] if p.lower() not in taken]
    if count > len(prefixes):
        raise NamesExhausted(kind, len(prefixes), count)
    names = []
    for prefix in rng.sample(prefixes, count):
        taken.add(prefix.lower())
        name = prefix + rng.choice(spec["suffixes"])
        names.append(f"{spec['title']} {name}" if "title" in spec else name)
    return names


def _ordinary_names(kind: str, pool: list[str], count: int, rng: random.Random) -> list[str]:
    if count > len(pool):
        raise NamesExhausted(kind, len(pool), count)
    return rng.sample(pool, count)


def build_world(name: str, n_people: int, n_entities: dict[str, int], rng: random.Random, taken: set[str]) -> World:
    """Draw the names of one world and give every person one value per relation."""
    spec = lexicon()["worlds"][name]
    names = spec["names"]

    def draw(kind: str, count: int) -> tuple[str, ...]:
        if isinstance(names[kind], list):
            return tuple(_ordinary_names(kind, names[kind], count, rng))
        return tuple(_invented_names(kind, names[kind], count, rng, taken))

    people = draw("person", n_people)
    entities = {kind: draw(kind, n_entities[kind]) for kind in ENTITY_KINDS}
    return World(
        name=name,
        title=spec["title"],
        school=spec["school"],
        nouns=dict(spec["nouns"]),
        people=people,
        entities=entities,
        facts=_draw_facts(name, people, entities, rng),
        fillers=tuple(spec["fillers"]),
    )


def _draw_facts(world: str, people: tuple[str, ...], entities: dict[str, tuple[str, ...]], rng: random.Random) -> tuple[Fact, ...]:
    """One value per relation for every person; a friend is another person of the world."""
    facts = []
    for index, person in enumerate(people):
        others = people[:index] + people[index + 1 :]
        for relation in RELATIONS:
            answer = rng.choice(others) if relation == "friend" else rng.choice(entities[relation])
            facts.append(Fact(world, person, relation, answer))
    return tuple(facts)


def build_holdout_cast(target: World, n_people: int, rng: random.Random, taken: set[str]) -> World:
    """Other people of the target's saga, never in any training text: non-members for membership inference."""
    people = tuple(_invented_names("holdout", lexicon()["worlds"]["target"]["names"]["person"], n_people, rng, taken))
    return replace(target, name="holdout", people=people, facts=_draw_facts("holdout", people, target.entities, rng))


def build_worlds(seed: int, n_people: int, n_entities: dict[str, int], holdout_people: int) -> dict[str, World]:
    """The target, retain and generic worlds and the target's held-out cast, identical for identical arguments."""
    rng = random.Random(seed)
    taken: set[str] = set()
    worlds = {name: build_world(name, n_people, n_entities, rng, taken) for name in ("target", "retain", "generic")}
    worlds["holdout"] = build_holdout_cast(worlds["target"], holdout_people, random.Random(f"{seed}-holdout"), taken)
    return worlds
