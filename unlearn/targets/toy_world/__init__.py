"""The embedded toy world: a synthetic saga to forget, a world to keep, and ordinary text."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from unlearn.cache import StageCache, cache_key
from unlearn.targets import TargetFiles
from unlearn.targets.files import write_jsonl
from unlearn.targets.toy_world import prose
from unlearn.targets.toy_world.world import World, build_worlds, generator_fingerprint


@dataclass
class ToyWorldTarget:
    """Generates the toy world's files into the cache, keyed by these parameters.

    `reps` is how often each fact is told in the training text, each time in the next
    of its phrasings; `heldout_reps` more tellings form the held-out text. The generic
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
    qa_reps: int
    holdout_people: int

    def files(self, cache: StageCache) -> TargetFiles:
        key = cache_key("target", {**asdict(self), "generator": generator_fingerprint()})
        return self.layout(cache.fetch("target", key, self.generate), key)

    def layout(self, folder: Path, key: str) -> TargetFiles:
        return TargetFiles(
            name=self.name,
            key=key,
            corpus=(folder / "target.jsonl",),
            heldout=(folder / "target_heldout.jsonl",),
            nonmember=(folder / "holdout.jsonl",),
            generic_heldout=(folder / "generic_heldout.jsonl",),
            generic=(folder / "generic.jsonl",),
            pretraining=tuple(folder / f"{world}.jsonl" for world in ("target", "retain", "generic")),
            probes=folder / "probes.jsonl",
            completion_prompts=folder / "completion_prompts.jsonl",
            next_token_prompts=folder / "next_token_prompts.jsonl",
            questions=folder / "questions.jsonl",
            lm_eval_tasks=folder / "lm_eval",
            anchors=folder / "anchors.yaml",
        )

    def generate(self, folder: Path) -> None:
        """Write every file of the world; identical bytes for identical parameters."""
        rng = random.Random(self.seed)
        worlds = build_worlds(self.seed, self.n_people, self.n_entities, self.holdout_people)
        holdout = worlds.pop("holdout")
        corpora = {
            name: prose.write_corpus(world, self.reps, self.heldout_reps, self.people_per_document, self.filler_rate, rng)
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
            raise AssertionError(f"paraphrase probes occur in the training text: {leaked[:3]}")
        write_jsonl(folder / "probes.jsonl", probes)
        write_jsonl(folder / "completion_prompts.jsonl", prose.completion_prompts(target))
        write_jsonl(folder / "next_token_prompts.jsonl", prose.next_token_prompts(target, generic, rng))
        write_jsonl(folder / "questions.jsonl", prose.question_answers(target, "forget") + prose.question_answers(retain, "retain"))
        write_lm_eval_tasks(folder / "lm_eval", {"forget": target, "retain": retain, "generic": generic}, qa_rng)
        anchors = prose.anchored_terms(target, generic, self.alternatives_per_anchor, rng)
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
