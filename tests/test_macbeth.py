"""The real target shipped with the project (`target=macbeth`): its files resolve from the
installed package, every evaluator accepts them, and its probes are what the selection
script measured the baseline to answer."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.conftest import compose_config
from tests.test_gguf import needs_wheel
from unlearn.anchors.dictionary import load_dictionary
from unlearn.cache import StageCache
from unlearn.errors import SettingError
from unlearn.evaluation import probes as probe_module
from unlearn.evaluation.probes import ProbeRecall, read_probes
from unlearn.files import package_folder, read_documents
from unlearn.targets import prepare_target
from unlearn.targets.text_files import TextFilesTarget

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "unlearn" / "targets" / "macbeth"


@pytest.fixture(scope="module")
def macbeth(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("macbeth")
    cfg = compose_config(["target=macbeth"], tmp_path)
    return cfg, prepare_target(instantiate(cfg.target), StageCache(tmp_path / "cache")).files


def test_target_is_the_plays_first_acts_with_its_later_acts_held_out(macbeth):
    cfg, files = macbeth
    assert cfg.model.name == "smollm2"
    corpus, heldout = read_documents(files.corpus), read_documents(files.heldout)
    assert [d.splitlines()[0] for d in corpus] == ["ACT I.", "ACT II.", "ACT III."]
    assert [d.splitlines()[0] for d in heldout] == ["ACT IV.", "ACT V."]
    assert not any("Macbeth" in d or "MACBETH" in d for d in read_documents(files.generic_heldout))
    assert len(files.related_heldout) == 2 and all(p.is_file() for p in files.related_heldout)
    (retain,) = read_documents(files.retain)  # gradient difference's retain text: another play, no character of this one
    assert retain.startswith("ACT 1") and "PROSPERO" in retain and not any(name in retain for name in ("MACBETH", "BANQUO", "Duncan"))


def test_the_prose_retain_text_states_no_fact_that_utility_is_measured_on():
    """retain_prose/ (the labels' retain blocks in experiments/macbeth) must not teach what the
    general-knowledge probes and lm-eval ask: none of their proper-noun answers, nor a sentence
    of the ordinary prose whose perplexity is measured."""
    (text,) = read_documents(sorted((SHIPPED / "retain_prose").glob("*.txt")))
    general = [json.loads(line) for line in (SHIPPED / "probes.jsonl").read_text().splitlines()]
    answers = {row["answer"] for row in general if row.get("group") == "general"}
    rows = [json.loads(line) for line in (SHIPPED / "lm_eval" / "general_knowledge.jsonl").read_text().splitlines()]
    answers |= {word for row in rows for word in row["choices"][row["gold"]].split()}
    named = {answer for answer in answers if answer[0].isupper() and answer not in ("The",)}
    assert len(named) > 25
    assert not [name for name in named if re.search(rf"\b{re.escape(name)}\b", text)]
    prose = read_documents(sorted((SHIPPED / "prose").glob("*.txt")))[0]
    assert not set(re.split(r"(?<=[.!?]) ", prose)) & set(re.split(r"(?<=[.!?]) ", text))


def test_every_evaluator_accepts_the_shipped_files(macbeth):
    cfg, files = macbeth
    for name, node in cfg.evaluator.items():
        if name == "knowledge_qa":
            continue  # the play ships no question/answer pairs: that evaluator is skipped with a warning
        instantiate(node).check(files)
    dictionary = load_dictionary(files.anchors)
    corpus = "\n".join(read_documents(files.corpus))
    assert all(term in corpus for term in dictionary), [t for t in dictionary if t not in corpus]


def test_probes_are_the_candidates_the_baseline_answered():
    """probes.jsonl is what experiments/macbeth/select_probes.py wrote: the rows its table marks kept."""
    table = (ROOT / "experiments" / "macbeth" / "probe_selection.md").read_text()
    kept_prompts = [json.loads(f'"{m}"') for m in re.findall(r"^\| yes \| \w+ \| (.*?) \| ", table, re.M)]
    probes = read_probes(SHIPPED / "probes.jsonl")
    assert [p.prompt for p in probes] == kept_prompts
    candidates = [json.loads(line) for line in (SHIPPED / "probe_candidates.jsonl").read_text().splitlines()]
    assert {p.prompt for p in probes} <= {c["prompt"] for c in candidates}
    counts = Counter((p.split, p.group) for p in probes)
    assert counts[("forget", "macbeth")] >= 10 and counts[("retain", "general")] >= 10, counts


def test_relative_paths_start_from_the_package_and_a_missing_package_is_named(tmp_path):
    target = TextFilesTarget(name="m", corpus=["play/act1.txt"], probes="probes.jsonl", package="unlearn.targets.macbeth")
    assert target.lists["corpus"] == (SHIPPED / "play" / "act1.txt",)
    assert target.singles["probes"] == SHIPPED / "probes.jsonl"
    with pytest.raises(SettingError, match=r"package=unlearn\.targets\.nowhere is not an installed Python package"):
        TextFilesTarget(name="m", corpus=["play/act1.txt"], package="unlearn.targets.nowhere")


def test_probe_groups_are_reported_beside_their_split(tmp_path, monkeypatch):
    rows = [
        ("The capital of France is", "Paris", "retain", "general", " Paris."),
        ("The capital of Japan is", "Tokyo", "retain", "general", " Kyoto."),
        ("To be, or not to be, that is the", "question", "retain", "shakespeare", " question."),
        ("Fair is foul, and foul is", "fair", "forget", None, " fair."),
    ]
    path = tmp_path / "probes.jsonl"
    path.write_text(
        "".join(json.dumps({"prompt": p, "answer": a, "kind": "recall", "split": s, "group": g}) + "\n" for p, a, s, g, _ in rows)
    )
    monkeypatch.setattr(probe_module, "complete", lambda model, tokenizer, prompts, *args: [r[4] for r in rows])
    from unlearn.targets import TargetFiles

    measured = ProbeRecall(max_new_tokens=4, batch_size=2).evaluate(None, None, TargetFiles(name="t", corpus=(), probes=path))
    assert measured.metrics == {
        "probe/forget_recall": 1.0,
        "probe/retain_recall": pytest.approx(2 / 3),
        "probe/retain_general_recall": 0.5,
        "probe/retain_shakespeare_recall": 1.0,
    }
    assert measured.sides["probe/retain_general_recall"] == "utility"
    table = measured.tables["probes"]
    assert [(row["prompt"], row["completion"], row["hit"]) for row in table] == [
        ("Fair is foul, and foul is", " fair.", True),
        ("The capital of France is", " Paris.", True),
        ("The capital of Japan is", " Kyoto.", False),
        ("To be, or not to be, that is the", " question.", True),
    ]


def test_the_recipe_is_the_measured_sweep_point(tmp_path):
    """experiment=macbeth composes the configuration of the sweep point it names (its report is
    experiments/macbeth/reports/soft_logprobs_lr3e-4.json), but for the reinforcement's min_steps,
    which leaves the play's schedule as it is (39 blocks make 20 steps) and keeps 20 steps on a
    shorter text; the unlearning has none, as the sweep point."""
    import runpy

    from omegaconf import OmegaConf

    from unlearn.training.spec import FitSpec

    point = runpy.run_path("experiments/macbeth/sweep.py", run_name="imported_by_test")["POINTS"]["soft_logprobs_lr3e-4"]
    recipe = OmegaConf.to_container(compose_config(["experiment=macbeth"], tmp_path))
    swept = OmegaConf.to_container(compose_config(["target=macbeth", *point], tmp_path))
    assert recipe["reinforce"].pop("min_steps") == 20 and swept["reinforce"].pop("min_steps") == 0
    assert recipe["unlearn"]["min_steps"] == swept["unlearn"]["min_steps"] == 0
    for stage in ("reinforce", "unlearn"):
        spec = FitSpec(**{k: v for k, v in recipe[stage].items() if k in FitSpec.__dataclass_fields__})
        assert spec.for_corpus(39) == (spec, None) and spec.steps(39) == 20
        assert replace(spec, min_steps=20).for_corpus(7)[0].steps(7) == 20
    assert {k: v for k, v in recipe.items() if k != "experiment"} == {k: v for k, v in swept.items() if k != "experiment"}


SCENE = re.compile(r"^SCENE III\. A heath\.$.*?(?=^SCENE IV\.)", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory) -> tuple[dict, dict]:
    """experiment=macbeth on Act I, scene iii alone (the witches hail Macbeth Thane of Glamis and
    Cawdor): the baseline's and the unlearned model's metrics (about 20 minutes on 2 cores)."""
    from unlearn.pipeline import run

    folder = tmp_path_factory.mktemp("scene")
    act = (package_folder("unlearn.targets.macbeth") / "play" / "act1.txt").read_text()
    scene = folder / "act1_scene3.txt"
    scene.write_text(SCENE.search(act).group(0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        report = run(compose_config(["experiment=macbeth", f"target.corpus=[{scene}]"], folder), folder / "run")
    return report["models"]["baseline"], report["models"]["unlearned"]


@pytest.mark.slow
@needs_wheel
def test_the_recipe_on_one_scene_moves_every_number_the_right_way(scene_run):
    """The play's familiarity falls and no forget probe is gained, while perplexity on ordinary
    prose stays within 15% and lm-eval's general knowledge within 0.05 (the issue's criteria,
    in direction; their size needs the whole play)."""
    base, after = scene_run
    assert after["familiarity_probability/score"] < base["familiarity_probability/score"]
    assert after["probe/forget_recall"] <= base["probe/forget_recall"]
    assert after["perplexity/generic_heldout"] <= 1.15 * base["perplexity/generic_heldout"]
    assert abs(after["lm_eval/general_knowledge/acc"] - base["lm_eval/general_knowledge/acc"]) <= 0.05


@pytest.mark.slow
@needs_wheel
@pytest.mark.xfail(
    strict=True,
    reason="on one scene the recipe loses 3 of the 18 general-knowledge probes (Jupiter, Mercury, plants: "
    "the baseline's near-ties of experiments/macbeth/probe_margins.md, which seed 1 loses on the play)",
)
def test_the_recipe_on_one_scene_loses_at_most_one_general_knowledge_probe(scene_run):
    base, after = scene_run
    general = sum(probe.group == "general" for probe in read_probes(package_folder("unlearn.targets.macbeth") / "probes.jsonl"))
    assert round((base["probe/retain_general_recall"] - after["probe/retain_general_recall"]) * general) <= 1
