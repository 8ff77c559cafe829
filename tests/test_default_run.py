"""The embedded default, exactly as a newcomer runs it: `python -m unlearn` from an empty
cache meets the toy world's acceptance (experiments/toy_world). About 4.5 minutes: slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import unlearn_cli


@pytest.mark.slow
def test_the_default_run_forgets_the_target_and_keeps_the_rest(tmp_path):
    done = unlearn_cli(f"paths.cache_dir={tmp_path / 'cache'}", f"hydra.run.dir={tmp_path / 'run'}", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr[-3000:]
    models = json.loads((tmp_path / "run" / "report.json").read_text())["models"]
    baseline, unlearned = models["baseline"], models["unlearned"]
    assert baseline["probe/forget_recall"] >= 0.9
    assert unlearned["probe/forget_recall"] <= 0.10
    assert unlearned["probe/retain_recall"] >= baseline["probe/retain_recall"] - 0.05
    assert unlearned["perplexity/generic_heldout"] <= 1.10 * baseline["perplexity/generic_heldout"]
