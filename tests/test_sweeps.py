"""W&B sweep files are valid and compose; one point of each runs; Hydra multirun makes one
W&B run per job and shares the stage cache; the sweep folder report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY, compose_config, unlearn_cli
from unlearn.report.sweep import SWEEP_MD, SWEEP_PNG

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "sweeps").glob("*.yaml"))
COMMAND = ["${env}", "${interpreter}", "-m", "unlearn", "${args_no_hyphens}"]


def first_point(parameters: dict) -> list[str]:
    """One point of the sweep as the agent passes it (`${args_no_hyphens}`): first value, or a range's minimum."""
    args = []
    for key, spec in parameters.items():
        if "value" in spec:
            value = spec["value"]
        elif "values" in spec:
            value = spec["values"][0]
        else:
            value = int(spec["min"]) if spec["distribution"] == "int_uniform" else spec["min"]
        args.append(f"{key}={value}")
    return args


def test_the_sweeps_the_issue_asks_for_are_there():
    assert {p.stem for p in SWEEPS} == {"alpha", "lr_steps", "reinforce", "targets"}


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_file_is_valid_and_every_parameter_composes(path, tmp_path):
    sweeps = pytest.importorskip("sweeps", reason="the W&B sweep schema comes with `pip install --no-deps sweeps` (README)")
    config = yaml.safe_load(path.read_text())
    assert sweeps.schema_violations_from_proposed_config(config) == []
    assert config["command"] == COMMAND
    assert config["metric"] == {"name": "objective", "goal": "minimize"}
    for key, spec in config["parameters"].items():
        values = spec.get("values") or [spec.get("value", spec.get("min")), spec.get("max")]
        for value in filter(lambda v: v is not None, values):
            composed = compose_config([f"{key}={value}"], tmp_path)
            assert composed is not None, key
    assert config["parameters"]["logger"] == {"value": "wandb"}


def test_a_misspelt_sweep_parameter_fails_to_compose(tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match=r"labels\.alpah"):
        compose_config(["labels.alpah=5"], tmp_path)


# A whole run per sweep file (about 25 s each on 2 cores): -m slow. By default every sweep
# file is validated and every parameter composes (above), and a multirun logs one W&B run
# per job (below).
END_TO_END = [pytest.param(p, id=p.stem, marks=pytest.mark.slow) for p in SWEEPS]


@pytest.mark.parametrize("path", END_TO_END)
def test_one_point_of_each_sweep_runs_end_to_end_with_wandb_offline(path, tiny_run, tmp_path):
    cfg, _ = tiny_run
    point = first_point(yaml.safe_load(path.read_text())["parameters"])
    result = unlearn_cli(*point, *TINY, f"paths.cache_dir={cfg.paths.cache_dir}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["objective"] is not None and set(report["models"]) >= {"baseline", "unlearned"}
    assert len(list((tmp_path / "run" / "wandb").glob("offline-run-*"))) == 1


def test_multirun_writes_one_wandb_run_per_job_and_shares_the_cache(tiny_run, tmp_path):
    cfg, report = tiny_run
    sweep = tmp_path / "sweep"
    args = ["-m", "labels.alpha=1,5,10", "logger=wandb", "stages=[labels]", *TINY, f"paths.cache_dir={cfg.paths.cache_dir}"]
    result = unlearn_cli(*args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2"]
    runs = [next((job / "wandb").glob("offline-run-*")).name for job in jobs if len(list((job / "wandb").glob("offline-run-*"))) == 1]
    assert len(runs) == 3 and len({name.rsplit("-", 1)[-1] for name in runs}) == 3
    caches = [json.loads((job / "report.json").read_text())["cache"] for job in jobs]
    assert all(c["reinforce"] == {"key": report["cache"]["reinforce"]["key"], "hit": True} for c in caches)
    # alpha 5 is the tiny run's own (its labels reused); the others' labels come from the stored candidates
    assert all(c["labels"]["hit"] or c["labels.candidates"]["hit"] for c in caches[1:]) and len({c["labels"]["key"] for c in caches}) == 3


def _job(sweep: Path, number: int, alpha: str, objective: float | None) -> None:
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"labels.alpha={alpha}", "seed=0"]))
    if objective is None:
        return
    terms = {"objective": objective, "forget_kept": objective / 2, "utility_lost": objective / 4}
    report = {
        "target": "toy_world",
        "models": {"baseline": {"probe/forget_recall": 0.9}, "unlearned": {"probe/forget_recall": objective}},
        "objective": objective,
        "objective_terms": terms,
        "objective_metrics": {"forget": "probe/forget_recall", "utility": "probe/retain_recall"},
    }
    (job / "report.json").write_text(json.dumps(report))


def test_report_over_a_sweep_folder_tabulates_jobs_and_plots_the_swept_value(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    for number, (alpha, objective) in enumerate([("1", 0.3), ("5", 0.1), ("10", None)]):
        _job(sweep, number, alpha, objective)
    result = subprocess.run([sys.executable, "-m", "unlearn.report", str(sweep)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = (sweep / SWEEP_MD).read_text()
    assert "| job | labels.alpha | objective | forget_kept | utility_lost | probe/forget_recall | probe/retain_recall |" in table
    assert "| 1 | 5 | 0.100 | 0.050 | 0.025 | 0.100 |  |" in table
    assert "| 2 | 10 | no report.json (failed or unfinished)" in table
    assert "Best objective: job 1 (labels.alpha=5)" in table
    assert (sweep / SWEEP_PNG).read_bytes().startswith(b"\x89PNG")
