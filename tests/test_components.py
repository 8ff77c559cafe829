"""Which stages a run goes through: those `stages=` lists and those they need."""

from __future__ import annotations

import pytest

from tests.conftest import compose_config
from unlearn.components import planned_stages
from unlearn.settings import build

ALWAYS = {"target", "baseline", "report"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], ALWAYS | {"blocks", "reinforce", "dictionary", "labels", "unlearn", "evaluate"}),
        (["labels=anchored_only"], ALWAYS | {"blocks", "dictionary", "labels", "unlearn", "evaluate"}),
        (["labels=reinforced_only"], ALWAYS | {"blocks", "reinforce", "labels", "unlearn", "evaluate"}),
        (["stages=[evaluate]"], ALWAYS | {"evaluate"}),
        (["stages=[reinforce]"], ALWAYS | {"blocks", "reinforce"}),
        (["stages=[dictionary]", "anchors=auto", "anchors.reinforced_terms=3"], ALWAYS | {"blocks", "reinforce", "dictionary"}),
        (["stages=[dictionary]", "anchors=auto"], ALWAYS | {"blocks", "reinforce", "dictionary"}),
        (["stages=[dictionary]", "anchors=auto", "anchors.baseline_reference=false"], ALWAYS | {"blocks", "dictionary"}),
        (["stages=[dictionary]", "anchors=auto", "reinforce=none", "labels=anchored_only"], ALWAYS | {"blocks", "dictionary"}),
    ],
)
def test_a_stage_brings_the_stages_it_needs(overrides, expected, tmp_path):
    cfg = compose_config(overrides, tmp_path)
    labels = build(cfg.labels, "labels")
    anchors = build(cfg.anchors, "anchors") if labels.translate else None
    assert planned_stages(list(cfg.stages), labels, anchors, build(cfg.reinforce, "reinforce")) == expected
