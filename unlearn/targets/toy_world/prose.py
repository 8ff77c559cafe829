"""Turning facts into text: the corpus, the probes and the evaluators' prompt files.

Every fact is told many times in varied phrasings, so that a small model learns the
fact rather than one sentence; paraphrase probes use phrasings the corpus never holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from unlearn.targets.toy_world.world import RELATIONS, Fact, World, lexicon

_ANSWER = "\x00"
# Each person starts the walk through a relation's phrasings at another place, so that a
# world with more phrasings than tellings (the generic one) still uses every phrasing.
PERSON_STRIDE = 5


@dataclass(frozen=True)
class Corpus:
    train: list[str]
    heldout: list[str]


def _fill(template: str, world: World, person: str, answer: str) -> str:
    nouns = {f"{role}_noun": noun for role, noun in world.nouns.items()}
    return template.format(p=person, a=answer, school=world.school, **nouns)


def _asks_after_person(template: str) -> bool:
    """A phrasing can be cut into a cloze probe only if it names the person first."""
    return template.index("{p}") < template.index("{a}")


def cloze(template: str, world: World, fact: Fact) -> str:
    """The phrasing of a fact cut just before its answer."""
    return _fill(template, world, fact.person, _ANSWER).split(_ANSWER)[0].rstrip()


def phrasings(world: World, relation: str) -> list[str]:
    """The phrasings a world's text tells a fact in.

    The retain world has phrasings of its own, as another book has another author's
    style; the generic world uses every phrasing, paraphrases included: like general
    text for a real model, it teaches what they mean, while no target or retain fact is
    told in a paraphrase.
    """
    spec = lexicon()["relations"][relation]
    if world.name == "generic":
        return spec["train"] + spec["retain"] + spec["paraphrase"]
    return spec["retain"] if world.name == "retain" else spec["train"]


def _paragraph(world: World, person: str, rep: int, rng: random.Random, filler_rate: float) -> str:
    facts = world.facts_of(person)
    rng.shuffle(facts)
    sentences = []
    offset = PERSON_STRIDE * world.people.index(person)
    for fact in facts:
        templates = phrasings(world, fact.relation)
        template = templates[(rep + RELATIONS.index(fact.relation) + offset) % len(templates)]
        sentences.append(_fill(template, world, fact.person, fact.answer))
        if rng.random() < filler_rate:
            sentences.append(_fill(rng.choice(world.fillers), world, person, ""))
    return " ".join(sentences)


def write_corpus(world: World, reps: int, heldout_reps: int, people_per_document: int, filler_rate: float, rng: random.Random) -> Corpus:
    """Documents telling every fact `reps` times (train) and `heldout_reps` more times (held out).

    Each repetition walks the phrasings of a relation in turn, so every phrasing of
    every fact occurs once `reps` reaches the number of the world's phrasings.
    """

    def documents(first_rep: int, count: int) -> list[str]:
        docs = []
        for rep in range(first_rep, first_rep + count):
            people = list(world.people)
            rng.shuffle(people)
            for start in range(0, len(people), people_per_document):
                group = people[start : start + people_per_document]
                docs.append("\n\n".join(_paragraph(world, person, rep, rng, filler_rate) for person in group))
        return docs

    return Corpus(train=documents(0, reps), heldout=documents(reps, heldout_reps))


def probes(world: World, split: str, rng: random.Random) -> list[dict]:
    """One recall and one paraphrase probe per fact of the world."""
    relations = lexicon()["relations"]
    rows = []
    for fact in world.facts:
        own = phrasings(world, fact.relation)
        for kind, templates in (("recall", own), ("paraphrase", relations[fact.relation]["paraphrase"])):
            template = rng.choice([t for t in templates if _asks_after_person(t)])
            rows.append(
                {
                    "prompt": cloze(template, world, fact),
                    "answer": fact.answer,
                    "kind": kind,
                    "split": split,
                    "relation": fact.relation,
                    "person": fact.person,
                }
            )
    return rows


def _question(world: World, fact: Fact) -> str:
    return _fill(lexicon()["relations"][fact.relation]["question"], world, fact.person, "")


def question_answers(world: World, split: str) -> list[dict]:
    """One question per fact, answered by the fact's value (knowledge_qa)."""
    return [{"question": _question(world, fact), "answer": fact.answer, "split": split} for fact in world.facts]


def qa_documents(world: World, reps: int, rng: random.Random) -> list[str]:
    """Every fact of the world as question and answer, `reps` times in shuffled order, one person per document."""
    form = lexicon()["question_answer"]
    docs = []
    for _ in range(reps):
        for person in world.people:
            facts = world.facts_of(person)
            rng.shuffle(facts)
            docs.append("\n\n".join(form.format(question=_question(world, fact), answer=fact.answer) for fact in facts))
    return docs


def multiple_choice(world: World, rng: random.Random) -> list[dict]:
    """Cloze questions over the facts of a world with every value of the relation as a choice (lm-eval tasks)."""
    rows = []
    for fact in world.facts:
        template = rng.choice([t for t in phrasings(world, fact.relation) if _asks_after_person(t)])
        choices = list(world.values(fact.relation))
        rows.append({"query": cloze(template, world, fact), "choices": choices, "gold": choices.index(fact.answer)})
    return rows


def completion_prompts(world: World) -> list[dict]:
    """Story openings about each person; the references are that person's facts."""
    rows = []
    for person in world.people:
        references = sorted({fact.answer for fact in world.facts_of(person)})
        for spec in lexicon()["completion_prompts"]:
            prompt = _fill(spec["template"], world, person, "")
            rows.append({"prompt": prompt, "references": references, "subtlety": spec["subtlety"]})
    return rows


def next_token_prompts(world: World, generic: World, rng: random.Random) -> list[dict]:
    """Cloze prompts whose continuation is either this world's kind of name or a generic one."""
    rows = []
    for fact in world.facts:
        template = rng.choice([t for t in phrasings(world, fact.relation) if _asks_after_person(t)])
        rows.append(
            {
                "prompt": cloze(template, world, fact),
                "idiosyncratic": list(world.values(fact.relation)),
                "generic": list(generic.values(fact.relation)),
            }
        )
    return rows


def anchored_terms(world: World, generic: World, alternatives: int, rng: random.Random, titles: bool) -> dict[str, list[str]]:
    """The true dictionary: every invented name of the world -> ordinary names of the same role.
    With titles false a titled name is anchored by its name alone ("Thessell" -> "Brown"), its
    title ("Professor"), an ordinary word, left in the text as a translation would leave it."""
    dictionary = {}
    for relation in ("friend", "home", "group", "pet", "mentor", "item", "skill"):
        pool = list(generic.values(relation))
        title = lexicon()["worlds"][world.name]["names"].get(relation, {}).get("title")
        for term in world.values(relation):
            choice = rng.sample(pool, min(alternatives, len(pool)))
            if title and not titles:
                term, choice = term.removeprefix(f"{title} "), [name.split()[-1] for name in choice]
            dictionary[term] = choice
    dictionary[world.school] = [generic.school]
    for role in lexicon()["worlds"][world.name].get("anchored_nouns", []):
        dictionary[world.nouns[role]] = [generic.nouns[role]]
    return dictionary
