"""Running variants of the default configuration that share one cache (used by this folder's scripts)."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from unlearn.config import compose_config
from unlearn.pipeline import run

# Probe recall and perplexity decide these experiments; the other evaluators are left out to save time.
LEFT_OUT = ("familiarity_completion", "familiarity_probability", "lm_eval", "verbatim", "knowledge_qa", "mia")
PROBES_ONLY = [f"evaluator.{name}=null" for name in LEFT_OUT]  # null: off, whether or not the evaluator list has it


def run_variant(cache_dir: str, run_dir: Path, overrides: list[str]) -> dict:
    """The report of `python -m unlearn <overrides>`, written into run_dir."""
    cfg = compose_config([f"paths.cache_dir={cache_dir}", f"paths.output_dir={run_dir}", *PROBES_ONLY, *overrides])
    return run(cfg, run_dir)


def experiment_arguments(doc: str, resumable: bool = False) -> argparse.Namespace:
    """--cache-dir (shared with `python -m unlearn` by default), --out (this folder) and
    overrides that every variant of an experiment script gets (e.g. model.pretrain.epochs=60);
    with `resumable`, --resume: keep what an earlier run of the script recorded with the same
    settings and measure the rest."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "unlearn"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    if resumable:
        parser.add_argument("--resume", action="store_true", help="keep the variants recorded with the same overrides, run the rest")
    parser.add_argument("overrides", nargs="*", help="key=value, as for python -m unlearn")
    return parser.parse_args()


def acceptance(baseline: dict, unlearned: dict) -> dict:
    """The toy world's criteria (this folder's README): forget recall <= 0.10, retain recall
    within 0.05 of the baseline's, generic perplexity at most 10% higher."""
    forget = unlearned["probe/forget_recall"]
    retain_drop = baseline["probe/retain_recall"] - unlearned["probe/retain_recall"]
    perplexity_up = unlearned["perplexity/generic_heldout"] / baseline["perplexity/generic_heldout"] - 1
    return {
        "forget_recall": forget,
        "retain_drop": retain_drop,
        "perplexity_up": perplexity_up,
        "met": forget <= 0.10 and retain_drop <= 0.05 + 1e-9 and perplexity_up <= 0.10,
    }


def margin(forget_recall: list[float], retain_drop: list[float]) -> dict:
    """The demo's margin over seeds (issue 19): on every seed forget recall <= 0.10 and retain
    recall within 0.05 of the baseline's, and on average forget recall <= 0.06 and a loss
    of retain recall <= 0.03. `misses` names the means that exceed their limit."""
    means = {"forget recall": statistics.fmean(forget_recall), "retain loss": statistics.fmean(retain_drop)}
    misses = [name for name, limit in (("forget recall", 0.06), ("retain loss", 0.03)) if means[name] > limit + 1e-9]
    worst = {"forget recall": max(forget_recall), "retain loss": max(retain_drop)}
    every_seed = worst["forget recall"] <= 0.10 and worst["retain loss"] <= 0.05 + 1e-9
    return {"means": means, "worst": worst, "misses": misses, "holds": every_seed and not misses}
