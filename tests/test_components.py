"""Which stages a run goes through: those `stages=` lists and those they need."""

from __future__ import annotations

import pytest

from tests.conftest import compose_config
from unlearn.components import build_components
from unlearn.distributed import Processes

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
        (["compare=[whp_inference]", "stages=[evaluate]"], ALWAYS | {"blocks", "reinforce", "evaluate"}),
        (["unlearn=gradient_ascent"], ALWAYS | {"blocks", "unlearn", "evaluate"}),
        (["unlearn=gradient_difference"], ALWAYS | {"blocks", "unlearn", "evaluate"}),
        (["unlearn=npo", "compare=[whp_inference]"], ALWAYS | {"blocks", "reinforce", "unlearn", "evaluate"}),
    ],
)
def test_a_stage_brings_the_stages_it_needs(overrides, expected, tmp_path):
    assert build_components(compose_config(overrides, tmp_path), Processes()).stages == expected
