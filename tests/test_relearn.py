"""The relearning attack (evaluator=relearning): the attacker's text, its binding to the run's
evaluators, and the attack on the toy world: it trains a copy, and re-measures the forget side."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY, compose_config, copy_cache
from unlearn.components import build_components
from unlearn.distributed import Processes
from unlearn.errors import UserError
from unlearn.evaluation.relearn import attack_text


def test_the_attacker_never_reads_a_sentence_holding_a_forget_answer():
    documents = ["Kelara grew up in Ashwick. She kept a dog named Rufus!\nASHWICK is cold; Ashwickers are not.", "Thane of Cawdor"]
    assert attack_text(documents, ["Ashwick", "Cawdor", " "]) == ["She kept a dog named Rufus!", "Ashwickers are not."]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["evaluator=relearning", "evaluator.relearn.measure=[judge]"], r"evaluator\.relearn\.measure names 'judge', which is not another"),
        (["evaluator=relearning", "evaluator.relearn.measure=[relearn]"], r"evaluator\.relearn\.measure names 'relearn'"),
        (["evaluator=relearning", "evaluator.relearn.steps=0"], r"evaluator\.relearn\.steps=0 must be at least 1"),
        (["evaluator=relearning", "evaluator.relearn.measure=[]"], r"evaluator\.relearn\.measure=\[\] must name at least one"),
    ],
)
def test_bad_attack_settings_name_the_key(overrides, message, tmp_path):
    with pytest.raises(UserError, match=message):
        build_components(compose_config(overrides, tmp_path), Processes())


def test_the_attack_trains_a_copy_and_measures_the_forget_side_again(tiny_run, tmp_path):
    from unlearn.pipeline import run

    cfg = compose_config([*TINY, "evaluator=relearning", "evaluator.relearn.steps=6", "stages=[evaluate]"], tmp_path)
    copy_cache(tiny_run, tmp_path, ["target", "baseline"])
    report = run(cfg, tmp_path / "run")
    metrics = report["models"]["baseline"]
    relearned = {name for name in metrics if name.startswith("relearn/")}
    assert relearned == {"relearn/probe/forget_recall", "relearn/probe/forget_paraphrase_recall", "relearn/familiarity_probability/score"}
    assert all(report["sides"][name] == "forget" for name in relearned)
    # the model under evaluation is untouched: its own metrics are those of the run without the attack
    assert {k: v for k, v in metrics.items() if k in tiny_run[1]["models"]["baseline"]} == pytest.approx(
        {k: v for k, v in tiny_run[1]["models"]["baseline"].items() if k in metrics}
    )
    losses = [row["loss"] for row in report["details"]["baseline"]["relearn"]]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))
