"""The report: markdown table with deltas, figures, and `python -m unlearn.report` over saved runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import HANG_GUARD_S
from unlearn.report import markdown
from unlearn.report.render import write_report

ROOT = Path(__file__).resolve().parents[1]


def a_report(forget: float) -> dict:
    return {
        "target": "toy_world",
        "models": {
            "baseline": {"probe/forget_recall": 0.9, "perplexity/generic_heldout": 30.0},
            "unlearned": {"probe/forget_recall": forget, "perplexity/generic_heldout": 31.0},
        },
        "sides": {"probe/forget_recall": "forget", "perplexity/generic_heldout": "utility"},
        "details": {"unlearned": {"familiarity_completion": [{"prompt": "a|b", "completion": "x\ny", "grade": 0}]}},
        "timings_s": {"evaluate": 1.0},
        "cache": {},
        "losses": {"unlearned": [3.0, 2.0, 1.5]},
    }


def test_markdown_orders_forget_side_first_and_shows_deltas():
    text = markdown(a_report(0.1), ["metrics.png"])
    rows = [line for line in text.splitlines() if line.startswith("| probe/") or line.startswith("| perplexity/")]
    assert rows[0] == "| probe/forget_recall | forget | 0.900 | 0.100 | -0.800 |"
    assert rows[1] == "| perplexity/generic_heldout | utility | 30.000 | 31.000 | +1.000 |"
    assert "| a\\|b | x y | 0 |" in text
    assert "![metrics](metrics.png)" in text


def test_write_report_makes_the_figures(tmp_path):
    figures = write_report(tmp_path, a_report(0.1))
    assert [f.name for f in figures] == ["metrics.png", "losses.png"]
    assert all(f.read_bytes().startswith(b"\x89PNG") for f in figures)
    assert json.loads((tmp_path / "report.json").read_text())["models"]["unlearned"]["probe/forget_recall"] == 0.1


def _report_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn.report", *args], cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_report_cli_compares_two_runs(tmp_path):
    for name, forget in (("alpha1", 0.2), ("alpha5", 0.05)):
        write_report(tmp_path / name, a_report(forget))
    out = tmp_path / "cmp"
    result = _report_cli(str(tmp_path / "alpha1"), str(tmp_path / "alpha5"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = (out / "comparison.md").read_text()
    assert "| metric | side | alpha1/baseline | alpha1/unlearned | alpha5/baseline | alpha5/unlearned |" in table
    assert "| probe/forget_recall | forget | 0.900 | 0.200 | 0.900 | 0.050 |" in table
    assert (out / "metrics.png").read_bytes().startswith(b"\x89PNG")


def test_report_cli_rebuilds_one_run_and_rejects_a_folder_without_report(tmp_path):
    write_report(tmp_path / "run", a_report(0.1))
    (tmp_path / "run" / "report.md").unlink()
    assert _report_cli(str(tmp_path / "run")).returncode == 0
    assert (tmp_path / "run" / "report.md").is_file()
    result = _report_cli(str(tmp_path / "nothing"))
    assert result.returncode != 0 and result.stderr.strip().startswith("error:") and "report.json" in result.stderr


def test_training_code_does_not_load_the_figures():
    code = "import sys, unlearn.stages, unlearn.training.trainer; print('unlearn.report.figures' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False", "only writing the report (unlearn/report/render.py) draws figures"


def test_greedy_completions_are_set_side_by_side_once_not_per_model():
    details = {
        model: {
            "completions": [{"prompt": "Macbeth's castle is at", "completion": text}, {"prompt": "The witches", "completion": "a|b\nc"}]
        }
        for model, text in (("baseline", " Inverness, where"), ("unlearned", " the top of the hill"))
    }
    report = {"target": "macbeth", "models": {"baseline": {}, "unlearned": {}}, "details": details}
    text = markdown(report, [])
    assert "| prompt | baseline | unlearned |" in text
    assert "| Macbeth's castle is at |  Inverness, where |  the top of the hill |" in text
    assert "| The witches | a\\|b c | a\\|b c |" in text
    assert "### completions:" not in text
