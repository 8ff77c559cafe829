"""The embedded toy world: a synthetic saga to forget, a world to keep, and ordinary text."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from unlearn.errors import SettingError, UserError
from unlearn.files import write_jsonl
from unlearn.targets import TargetFiles
from unlearn.targets.toy_world import prose
from unlearn.targets.toy_world.world import ENTITY_KINDS, NamesExhausted, World, build_worlds, generator_fingerprint


@dataclass
class ToyWorldTarget:
    """Generates the toy world's files into the cache, keyed by these parameters.

    `reps` is how often each fact is told in the training text, each time in the next
    of its phrasings; `heldout_reps` more tellings form the held-out text. `retain_reps`,
    when set, tells the retain world's facts that often instead: a pretrained model knows
    the world it should keep far better than the one book it should forget. The generic
    world's text also asks each of its facts as question and answer `qa_reps` times.
    `holdout_people` more people of the target's saga are written about but never
    trained on: the non-members of membership inference.
    """

    name: str
    seed: int
    n_people: int
    n_entities: dict[str, int]
    reps: int
    heldout_reps: int
    people_per_document: int
    filler_rate: float
    alternatives_per_anchor: int
    anchor_titles: bool
    qa_reps: int
    holdout_people: int
    retain_reps: int | None = None

    def __post_init__(self) -> None:
        if self.n_people < 2:
            raise SettingError("n_people", self.n_people, "must be at least 2 (every person has a friend in the world)")
        if sorted(self.n_entities) != sorted(ENTITY_KINDS) or min(self.n_entities.values()) < 1:
            raise SettingError("n_entities", self.n_entities, f"must give each of {list(ENTITY_KINDS)} a count of at least 1")
        at_least_one = {"reps": self.reps, "retain_reps": self.retain_tellings, "people_per_document": self.people_per_document}
        for name, value in at_least_one.items():
            if value < 1:
                raise SettingError(name, value, "must be at least 1")
        for name, value in {"heldout_reps": self.heldout_reps, "qa_reps": self.qa_reps, "holdout_people": self.holdout_people}.items():
            if value < 0:
                raise SettingError(name, value, "must be >= 0")
        if not 0 <= self.filler_rate <= 1:
            raise SettingError("filler_rate", self.filler_rate, "must be in [0, 1] (a chance)")
        try:
            build_worlds(self.seed, self.n_people, self.n_entities, self.holdout_people)
        except NamesExhausted as err:
            field = {"person": "n_people", "holdout": "holdout_people"}.get(err.kind, f"n_entities.{err.kind}")
            value = {"person": self.n_people, "holdout": self.holdout_people}.get(err.kind, self.n_entities.get(err.kind))
            raise SettingError(field, value, f"asks for more names than the lexicon holds ({err}); lower it") from None

    @property
    def retain_tellings(self) -> int:
        return self.reps if self.retain_reps is None else self.retain_reps

    def settings(self) -> dict:
        """The parameters the files depend on; an unset `retain_reps` is left out, so that the
        worlds written before it existed keep their cache keys."""
        settings = {**asdict(self), "generator": generator_fingerprint()}
        if self.retain_reps is None:
            del settings["retain_reps"]
        return settings

    def files(self, folder: Path) -> TargetFiles:
        return TargetFiles(
            name=self.name,
            corpus=(folder / "target.jsonl",),
            heldout=(folder / "target_heldout.jsonl",),
            nonmember=(folder / "holdout.jsonl",),
            generic_heldout=(folder / "generic_heldout.jsonl",),
            generic=(folder / "generic.jsonl",),
            retain=(folder / "retain.jsonl",),
            pretraining=tuple(folder / f"{world}.jsonl" for world in ("target", "retain", "generic")),
            probes=folder / "probes.jsonl",
            completion_prompts=folder / "completion_prompts.jsonl",
            next_token_prompts=folder / "next_token_prompts.jsonl",
            questions=folder / "questions.jsonl",
            lm_eval_tasks=folder / "lm_eval",
            anchors=folder / "anchors.yaml",
        )

    def write(self, folder: Path) -> None:
        """Write every file of the world; identical bytes for identical parameters."""
        rng = random.Random(self.seed)
        worlds = build_worlds(self.seed, self.n_people, self.n_entities, self.holdout_people)
        holdout = worlds.pop("holdout")
        reps = {"retain": self.retain_tellings}
        corpora = {
            name: prose.write_corpus(world, reps.get(name, self.reps), self.heldout_reps, self.people_per_document, self.filler_rate, rng)
            for name, world in worlds.items()
        }
        qa_rng = random.Random(f"{self.seed}-qa")
        corpora["generic"].train.extend(prose.qa_documents(worlds["generic"], self.qa_reps, qa_rng))
        for name, corpus in corpora.items():
            write_jsonl(folder / f"{name}.jsonl", ({"text": doc} for doc in corpus.train))
            write_jsonl(folder / f"{name}_heldout.jsonl", ({"text": doc} for doc in corpus.heldout))
        nonmembers = prose.write_corpus(holdout, self.reps, 0, self.people_per_document, self.filler_rate, qa_rng).train
        write_jsonl(folder / "holdout.jsonl", ({"text": doc} for doc in nonmembers))

        target, retain, generic = worlds["target"], worlds["retain"], worlds["generic"]
        probes = prose.probes(target, "forget", rng) + prose.probes(retain, "retain", rng)
        training_text = "\n".join(doc for corpus in corpora.values() for doc in corpus.train)
        leaked = [p["prompt"] for p in probes if p["kind"] == "paraphrase" and p["prompt"] in training_text]
        if leaked:
            raise UserError(
                f"target: paraphrase probes occur in the training text for these settings ({leaked[:3]}); change target.seed or target.reps"
            )
        write_jsonl(folder / "probes.jsonl", probes)
        write_jsonl(folder / "completion_prompts.jsonl", prose.completion_prompts(target))
        write_jsonl(folder / "next_token_prompts.jsonl", prose.next_token_prompts(target, generic, rng))
        write_jsonl(folder / "questions.jsonl", prose.question_answers(target, "forget") + prose.question_answers(retain, "retain"))
        write_lm_eval_tasks(folder / "lm_eval", {"forget": target, "retain": retain, "generic": generic}, qa_rng)
        anchors = prose.anchored_terms(target, generic, self.alternatives_per_anchor, rng, self.anchor_titles)
        (folder / "anchors.yaml").write_text(yaml.safe_dump(anchors, sort_keys=True, allow_unicode=True), encoding="utf-8")
        facts = {name: [asdict(fact) for fact in world.facts] for name, world in {**worlds, "holdout": holdout}.items()}
        (folder / "facts.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")


def write_lm_eval_tasks(folder: Path, worlds: dict[str, World], rng: random.Random) -> None:
    """One lm-eval multiple-choice task per world over its facts; data paths relative to the YAML."""
    folder.mkdir()
    for split, world in worlds.items():
        name = f"toy_world_{split}"
        write_jsonl(folder / f"{name}.jsonl", prose.multiple_choice(world, rng))
        task = {
            "task": name,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": f"{name}.jsonl"}},
            "output_type": "multiple_choice",
            "test_split": "test",
            "doc_to_text": "{{query}}",
            "doc_to_choice": "{{choices}}",
            "doc_to_target": "{{gold}}",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        }
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(task, sort_keys=False), encoding="utf-8")
