"""Evaluators on tiny models: values in range, and each forget-side metric separates a model
that learned the target from one that never saw it."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import TINY, compose_config, target_files
from unlearn.components import prepare
from unlearn.evaluation.familiarity_completion import familiarity_score
from unlearn.evaluation.judges import Completion, ReferencesJudge
from unlearn.evaluation.scoring import roc_auc, rouge_l
from unlearn.pipeline import stage_runner
from unlearn.settings import build
from unlearn.targets import TargetArtifact

# The lm-eval tasks of the toy world are measured separately (test_lm_eval_*), being the slowest.
CHEAP = ["probes", "perplexity", "familiarity_completion", "familiarity_probability", "verbatim", "knowledge_qa", "mia"]


@pytest.fixture(scope="module")
def two_models(tiny_run, tmp_path_factory):
    """The tiny baseline (learned the target world) and a twin pretrained without the target's text."""
    cfg, _ = tiny_run
    prepared = prepare(cfg)
    runner, parts, target = stage_runner(cfg, prepared), prepared.parts, prepared.target
    without = dataclasses.replace(target.files, pretraining=target.files.pretraining[1:])
    assert "target" in target.files.pretraining[0].name
    # half the epochs: it only has to not know the target, and that holds however long it trains
    source = build(compose_config([*TINY, "model.pretrain.epochs=20"], Path("/unused")).model, "model")
    naive = runner.baseline(source, TargetArtifact(without, target.corpus_key, target.key))
    learned = runner.baseline(parts.model, target)
    return cfg, SimpleNamespace(target=target.files, source=parts.model), {"learned": learned.ref, "naive": naive.ref}


@pytest.fixture(scope="module")
def measured(two_models):
    cfg, pipeline, refs = two_models
    results = {}
    for name, ref in refs.items():
        model, tokenizer = pipeline.source.load(ref)
        results[name] = {}
        for evaluator in CHEAP:
            results[name][evaluator] = build(cfg.evaluator[evaluator], evaluator).evaluate(model, tokenizer, pipeline.target)
    return results


@pytest.mark.parametrize("evaluator", CHEAP)
def test_values_in_range_and_sided(measured, evaluator):
    for model in ("learned", "naive"):
        result = measured[model][evaluator]
        assert result.metrics and set(result.sides) == set(result.metrics)
        assert set(result.sides.values()) <= {"forget", "utility"}
        for name, value in result.metrics.items():
            assert math.isfinite(value), name
            if "perplexity" in name:
                assert value >= 1.0
            elif name == "familiarity_completion/score":
                assert 0.0 <= value <= 5.0
            elif "/grade_" not in name:
                assert 0.0 <= value <= 1.0, (name, value)


# forget-side metric -> how far the learned model must be above the naive one
MARGINS = {
    ("probes", "probe/forget_recall"): 0.4,
    ("familiarity_completion", "familiarity_completion/score"): 0.5,
    ("familiarity_probability", "familiarity_probability/score"): 0.3,
    ("verbatim", "verbatim/rouge_l"): 0.2,
    ("mia", "mia/min_k_auc"): 0.2,
}


@pytest.mark.parametrize(("evaluator", "metric"), list(MARGINS))
def test_forget_side_metric_separates_learned_from_naive(measured, evaluator, metric):
    learned = measured["learned"][evaluator].metrics[metric]
    naive = measured["naive"][evaluator].metrics[metric]
    assert measured["learned"][evaluator].sides[metric] == "forget"
    assert learned - naive >= MARGINS[(evaluator, metric)], (learned, naive)


def test_knowledge_qa_separates_a_model_that_knows_the_answers(two_models, tmp_path):
    """Asked in a form both tiny models can read (the target's cloze prompts; the default
    toy model never learned the question-answer form), with the evaluator's own scoring."""
    cfg, pipeline, refs = two_models
    probes = [json.loads(line) for line in pipeline.target.probes.read_text().splitlines()]
    questions = tmp_path / "questions.jsonl"
    rows = [{"question": p["prompt"], "answer": p["answer"], "split": p["split"]} for p in probes if p["kind"] == "recall"]
    questions.write_text("\n".join(json.dumps(r) for r in rows))
    target = dataclasses.replace(pipeline.target, questions=questions)
    evaluator = build(cfg.evaluator.knowledge_qa, "knowledge_qa")
    evaluator.template = "{question}"
    scores = {}
    for name, ref in refs.items():
        model, tokenizer = pipeline.source.load(ref)
        scores[name] = evaluator.evaluate(model, tokenizer, target).metrics
    # A cloze completion runs on past the answer, so exact match is for real questions only.
    assert scores["learned"]["knowledge_qa/forget_rouge_l"] - scores["naive"]["knowledge_qa/forget_rouge_l"] >= 0.2, scores


def test_question_answer_form_is_taught_only_by_the_generic_world_when_asked(tmp_path):
    template = compose_config(["evaluator=default"], tmp_path).evaluator.knowledge_qa.template
    for qa_reps, expected in ((0, False), (2, True)):
        target = target_files(compose_config([*TINY, f"target.qa_reps={qa_reps}"], tmp_path).target, tmp_path / "c")
        texts = {p.stem: p.read_text() for p in target.pretraining}
        assert (template.split("{question}")[0] in texts["generic"]) is expected
        assert template.split("{question}")[0] not in texts["target"] + texts["retain"]


def test_target_perplexity_is_lower_for_the_learned_model(measured):
    learned = measured["learned"]["perplexity"].metrics["perplexity/target_heldout"]
    naive = measured["naive"]["perplexity"].metrics["perplexity/target_heldout"]
    assert learned * 2 < naive


def test_reports_carry_detail_tables(measured):
    tables = measured["learned"]
    assert len(tables["familiarity_completion"].tables["familiarity_completion"]) == 12
    assert {"prompt", "p_idiosyncratic", "p_generic", "top_candidate"} <= set(
        tables["familiarity_probability"].tables["familiarity_probability"][0]
    )
    assert {"prefix", "truth", "output", "rouge_l"} <= set(tables["verbatim"].tables["verbatim"][0])


def test_lm_eval_runs_the_toy_tasks_offline(two_models):
    """The whole forget task (28 questions of 2-3 choices; chance is about 0.43): a model that
    learned the target answers more of them than one that never saw it. Measured on an Intel
    Xeon: 0.82 against 0.43; the margin asked (0.2) leaves five questions of room either way."""
    _, pipeline, refs = two_models
    evaluator = build(compose_config(TINY, Path("/unused")).evaluator.lm_eval, "lm_eval")
    accuracy = {}
    for name, ref in refs.items():
        model, tokenizer = pipeline.source.load(ref)
        metrics = evaluator.evaluate(model, tokenizer, pipeline.target).metrics
        assert set(metrics) == {f"lm_eval/toy_world_{split}/acc" for split in ("forget", "retain", "generic")}
        assert all(0.0 <= value <= 1.0 for value in metrics.values())
        accuracy[name] = metrics["lm_eval/toy_world_forget/acc"]
    assert accuracy["learned"] - accuracy["naive"] >= 0.2, accuracy


def test_references_judge_rubric():
    judge = ReferencesJudge()

    def grade(text: str, prompt: str = "Lorwen went to find") -> int:
        return judge.grade([Completion(prompt, text, ("Thornmere", "Sylvavel"), ("Thornmere", "Sylvavel", "Professor Grimoric"))])[0]

    assert grade(" her way home to Thornmere.") == 3
    assert grade(" Professor Grimoric in the hall.") == 2
    assert grade(" a thorn in the mere.") == 0
    assert grade(" old Grimoric.") == 1
    assert grade(" Thornmere again.", prompt="Back in Thornmere, Lorwen went to find") == 0
    assert grade(" Thornmeres") == 0  # terms and words match whole words only


def test_familiarity_score_formula():
    assert familiarity_score([3, 3, 2, 1, 0]) == (5 * 2 + 1) / 5
    assert familiarity_score([0, 1]) == 0.0


def test_roc_auc_and_rouge():
    assert roc_auc([3, 4], [1, 2]) == 1.0
    assert roc_auc([1, 2], [3, 4]) == 0.0
    assert roc_auc([1, 2], [1, 2]) == 0.5
    recall, f1 = rouge_l("the cat sat", "the cat sat on the mat")
    assert recall == pytest.approx(0.5) and f1 == pytest.approx(2 / 3)


def test_toy_world_files_for_the_evaluators(two_models):
    _, pipeline, _ = two_models
    target = pipeline.target
    facts = json.loads((target.corpus[0].parent / "facts.json").read_text())
    holdout_people = {f["person"] for f in facts["holdout"]}
    training_text = "\n".join(p.read_text() for p in target.pretraining)
    assert holdout_people and not any(person in training_text for person in holdout_people)
    questions = [json.loads(line) for line in target.questions.read_text().splitlines()]
    assert {q["split"] for q in questions} == {"forget", "retain"}
    assert not any(q["question"] in training_text for q in questions)


def test_cache_is_keyed_by_the_world_so_evaluator_files_are_regenerated(tmp_path):
    cfg = compose_config(TINY, tmp_path)
    target = target_files(cfg.target, tmp_path / "cache")
    assert target.questions.is_file() and target.nonmember[0].is_file() and (target.lm_eval_tasks / "toy_world_forget.yaml").is_file()
