"""The unlearning fine-tune's learning rate (and, with soft labels, alpha) on Macbeth with SmolLM2, against the issue's
criteria: the forget side halved (probability familiarity, forget probes) while utility
holds (general-knowledge probes lose at most one, lm-eval within 0.05, perplexity on
ordinary prose at most +15%). Perplexity on the same author's other plays is reported.

    python experiments/macbeth/sweep.py [point ...]     # all points, or the named ones
    python experiments/macbeth/sweep.py --summarize     # results.md and tradeoff.png from the reports alone

Each point is one `python -m unlearn target=macbeth ...` run (the reinforced model and the
labels are shared through the cache, so a point costs its unlearning fine-tune and the
evaluation); its report.json is copied to reports/<point>.json, and results.md and
tradeoff.png (every point against the criteria, forget side against utility) are written
from every reports/*.json. Timings are of whatever else the machine was doing at the time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNS = HERE / "reports"
# The reinforced model of every point: 4 epochs of 5 batches of 8 blocks, one step a batch.
# Each point names the paper's schedules (and hard labels where it uses them) and sets every
# value it changes, so that it composes what it composed when it was run, before
# model=smollm2 chose schedules and labels of its own.
REINFORCE = ["reinforce=finetune", "reinforce.lr=3e-5", "reinforce.accumulate_grad_batches=1", "reinforce.epochs=4"]
UNLEARN = ["unlearn=finetune", "unlearn.accumulate_grad_batches=1", "unlearn.epochs=4"]
LOG_PROBS = ["labels=soft", "labels.combine_on=log_probs"]
RETAIN_PROSE = ["target.retain=[retain_prose/*.txt]", "labels.retain_blocks=7"]
# A point on each seed: the suffix of its name, and the override that chooses the seed.
SEEDS = (("", []), ("_seed1", ["seed=1"]), ("_seed2", ["seed=2"]))
POINTS = (
    {f"unlearn_lr{lr}": [*REINFORCE, "labels=whp", f"unlearn.lr={lr}", *UNLEARN] for lr in ("1e-5", "3e-5", "1e-4")}
    | {f"soft_lr{lr}": [*REINFORCE, "labels=soft", f"unlearn.lr={lr}", *UNLEARN] for lr in ("3e-5", "1e-4", "3e-4")}
    | {
        # The recipe's point with the reinforced model's weight in the labels halved and doubled (alpha 5 above).
        f"soft_alpha{alpha}_lr1e-4": [*REINFORCE, "labels=soft", f"labels.alpha={alpha}", "unlearn.lr=1e-4", *UNLEARN]
        for alpha in ("2.5", "10")
    }
    | {
        # The recipe's point with the two views combined as log-probabilities instead of raw logits.
        f"soft_logprobs_lr{lr}": [*REINFORCE, "labels=soft", "labels.combine_on=log_probs", f"unlearn.lr={lr}", *UNLEARN]
        for lr in ("1e-4", "3e-4")
    }
    | {
        # The recipe's point again with other seeds (the reinforced model, the labels' translations, the batches' order).
        f"soft_logprobs_lr3e-4_seed{seed}": [*REINFORCE, *LOG_PROBS, "unlearn.lr=3e-4", *UNLEARN, f"seed={seed}"]
        for seed in (1, 2)
    }
    | {
        # The recipe's point with the tokens inside anchors labelled (from the original text, or from the
        # translation at the word boundaries of anchors translated word for word), on both seeds.
        f"soft_logprobs_{name}_lr3e-4{suffix}": [
            *REINFORCE,
            *LOG_PROBS,
            f"labels.inside_anchors={inside}",
            "unlearn.lr=3e-4",
            *UNLEARN,
            *seed,
        ]
        for name, inside in (("inside", "original"), ("byword", "by_word"))
        for suffix, seed in (("", []), ("_seed1", ["seed=1"]))
    }
    | {
        # The recipe's point with the dictionary anchors=auto discovers against the baseline instead of the hand-written one.
        f"soft_logprobs_auto_lr3e-4{suffix}": [*REINFORCE, *LOG_PROBS, "anchors=auto", "unlearn.lr=3e-4", *UNLEARN, *seed]
        for suffix, seed in SEEDS
    }
    | {
        # The same at lr 2e-4 on the seeds that forget past 50% with it: do they keep their general probes at a lower rate?
        f"soft_logprobs_auto_lr2e-4_seed{seed}": [*REINFORCE, *LOG_PROBS, "anchors=auto", "unlearn.lr=2e-4", *UNLEARN, f"seed={seed}"]
        for seed in (1, 2)
    }
    | {
        # And at lr 1e-4, where the full fine-tune fits the hand-written labels without first overshooting them (README,
        # "Adapters"): do the labels of the discovered dictionary forget more than those when fitted, on every seed?
        f"soft_logprobs_auto_lr1e-4{suffix}": [*REINFORCE, *LOG_PROBS, "anchors=auto", "unlearn.lr=1e-4", *UNLEARN, *seed]
        for suffix, seed in SEEDS
    }
    | {
        # The same labels fitted by low-rank adapters, which kept the utility side with the hand-written ones.
        "soft_logprobs_auto_lora_lr1e-3_seed1": [
            *REINFORCE,
            *LOG_PROBS,
            "anchors=auto",
            "unlearn=lora",
            "unlearn.lr=1e-3",
            *UNLEARN[1:],
            "seed=1",
        ],
    }
    | {
        # The recipe's point with the reinforced model's weight in the log-probability labels doubled and
        # quadrupled: each token pushed down alpha times as far as reinforcement raised it.
        f"soft_logprobs_alpha{alpha}_lr3e-4": [*REINFORCE, *LOG_PROBS, f"labels.alpha={alpha}", "unlearn.lr=3e-4", *UNLEARN]
        for alpha in ("10", "20")
    }
    | {
        # The recipe's point with a reinforced model trained at lr 1e-4 instead of 3e-5: a stronger expert on the
        # play, whose gains the labels take away.
        "soft_logprobs_reinforce1e-4_lr3e-4": [
            "reinforce=finetune",
            "reinforce.lr=1e-4",
            *REINFORCE[2:],
            *LOG_PROBS,
            "unlearn.lr=3e-4",
            *UNLEARN,
        ]
    }
    | {
        # The recipe's point on blocks of 128 tokens instead of 512, 32 a batch so that a step reads as many
        # tokens as before (both fine-tunes): each position is learnt and unlearnt with at most 127 tokens of the
        # play before it, nearer the short prompts that evaluate the play's knowledge. Perplexity and membership
        # inference still read windows of 512.
        "soft_logprobs_context128_lr3e-4": [
            *REINFORCE,
            "reinforce.batch_size=32",
            *LOG_PROBS,
            "unlearn.lr=3e-4",
            *UNLEARN,
            "unlearn.batch_size=32",
            "context_length=128",
            "evaluator.perplexity.context_length=512",
            "evaluator.mia.max_tokens=512",
        ]
    }
    | {
        # The recipe's point with the target's retain text (act I of The Tempest, 18 blocks) labelled with the
        # baseline's own distribution and mixed into the unlearning fine-tune (labels.retain_blocks, beyond the paper):
        # does holding the model to the baseline off the play keep what the play's forgetting costs?
        "soft_logprobs_retain18_lr3e-4": [*REINFORCE, *LOG_PROBS, "labels.retain_blocks=18", "unlearn.lr=3e-4", *UNLEARN],
        # The same with ordinary prose of general knowledge written for this project (retain_prose/, 7 blocks; none of
        # the general probes' or lm-eval's facts) as the retain text instead of another play of the same author.
        "soft_logprobs_retainprose_lr3e-4": [*REINFORCE, *LOG_PROBS, *RETAIN_PROSE, "unlearn.lr=3e-4", *UNLEARN],
    }
    | {
        # The prose retain point on the recipe's other seeds: is its seed-0 gain on the forget side more than a draw?
        f"soft_logprobs_retainprose_lr3e-4_seed{seed}": [*REINFORCE, *LOG_PROBS, *RETAIN_PROSE, "unlearn.lr=3e-4", *UNLEARN, f"seed={seed}"]
        for seed in (1, 2)
    }
    | {
        # The recipe's point with 5 epochs (25 optimizer steps, between the 24 and 32 that the retain points make with
        # their extra blocks) and no retain text: how much of what the retain points change is their extra steps?
        "soft_logprobs_epochs5_lr3e-4": [*REINFORCE, *LOG_PROBS, "unlearn.lr=3e-4", *UNLEARN, "unlearn.epochs=5"]
    }
    | {
        # The recipe's point with low-rank adapters (unlearn=lora: rank 16 on every linear layer, merged back) trained
        # instead of every weight, at adapters' larger learning rates: does an update of low rank keep the general
        # probes that every full fine-tune on the play moves?
        f"soft_logprobs_lora_lr{lr}{suffix}": [*REINFORCE, *LOG_PROBS, "unlearn=lora", f"unlearn.lr={lr}", *UNLEARN[1:], *seed]
        for lr, suffix, seed in (("1e-3", "", []), ("3e-3", "", []), ("1e-3", "_seed1", ["seed=1"]), ("1e-3", "_seed2", ["seed=2"]))
    }
    | {
        # The discovered dictionary's point with the embeddings and the output layer (tied) left as the baseline has
        # them: its general probes lost are near-ties between two tokens (probe_margins.md), and a token's row there
        # moves it after every context. Does training only the decoder layers keep them? At lr 4e-4: does seed 0,
        # whose "Weird Sisters" holds at lr 3e-4 though every "weird sisters" of the corpus is labelled away, let go?
        # With the prose retain text held to the baseline too (retainprose, at lr 4e-4 where every seed meets the
        # forget side and misses one utility criterion): does it keep lm-eval and the general probes? At lr 5e-4:
        # seed 2 at lr 4e-4 kept lm-eval and prose but forgot one probe too few; can the retain text hold a larger step?
        f"soft_logprobs_auto_noembed{variant}_lr{lr}{suffix}": [
            *REINFORCE,
            *LOG_PROBS,
            *retain,
            "anchors=auto",
            f"unlearn.lr={lr}",
            *UNLEARN,
            "unlearn.train_embeddings=false",
            *seed,
        ]
        for variant, retain, rates in (("", [], ("3e-4", "4e-4")), ("_retainprose", RETAIN_PROSE, ("4e-4", "5e-4")))
        for lr in rates
        for suffix, seed in SEEDS
    }
    | {
        # Seed 1's discovered dictionary without its term "Witches" (dictionaries/): is that term why it forgets more?
        "soft_logprobs_auto_no_witches_lr3e-4_seed1": [
            *REINFORCE,
            *LOG_PROBS,
            "anchors=from_file",
            f"anchors.path={HERE / 'dictionaries' / 'auto_seed1_without_witches.yaml'}",
            "unlearn.lr=3e-4",
            *UNLEARN,
            "seed=1",
        ]
    }
)
FORGET = ("familiarity_probability/score", "probe/forget_recall", "familiarity_completion/score")
UTILITY = ("probe/retain_general_recall", "lm_eval/general_knowledge/acc", "perplexity/generic_heldout")
PROBES = HERE.parent.parent / "unlearn" / "targets" / "macbeth" / "probes.jsonl"
GENERAL = sum(json.loads(line).get("group") == "general" for line in PROBES.read_text().splitlines())


@contextmanager
def built(point: str) -> Iterator[tuple[Any, Any]]:
    """The point's prepared run and its artifacts (models, labels), read from the cache the
    point's run filled (for the scripts beside this one that look closer at a point)."""
    from unlearn.components import prepare
    from unlearn.config import compose_config
    from unlearn.pipeline import build_models

    with tempfile.TemporaryDirectory() as scratch:
        cfg = compose_config(["target=macbeth", *POINTS[point], "stages=[unlearn]", f"paths.output_dir={scratch}"])
        prepared = prepare(cfg)
        yield prepared, build_models(cfg, prepared)


def each_model(point: str, measure: Callable[[Any, Any], Any]) -> dict[str, Any]:
    """`measure(model, tokenizer)` of the point's baseline and unlearned model."""
    with built(point) as (prepared, run):
        measured = {}
        for name, model in (("baseline", run.baseline), ("unlearned", run.unlearned)):
            loaded, tokenizer = prepared.parts.model.load(model.ref)
            measured[name] = measure(loaded.eval(), tokenizer)
    return measured


def run(name: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "unlearn", "target=macbeth", *POINTS[name], f"hydra.run.dir={scratch}"]
        subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
        RUNS.mkdir(exist_ok=True)
        shutil.copyfile(Path(scratch) / "report.json", RUNS / f"{name}.json")


def measures(models: dict) -> dict[str, float]:
    """What the criteria read of a point: familiarity and forget probes as shares of the
    baseline's, general probes lost, the change in lm-eval accuracy, and ordinary prose's
    perplexity as a ratio."""
    base, after = models["baseline"], models["unlearned"]
    return {
        "familiarity": after["familiarity_probability/score"] / base["familiarity_probability/score"],
        "forget probes": after["probe/forget_recall"] / base["probe/forget_recall"],
        "general probes lost": round((base["probe/retain_general_recall"] - after["probe/retain_general_recall"]) * GENERAL),
        "lm-eval change": after["lm_eval/general_knowledge/acc"] - base["lm_eval/general_knowledge/acc"],
        "prose perplexity": after["perplexity/generic_heldout"] / base["perplexity/generic_heldout"],
    }


# Each criterion: (the measure it reads, its bound, whether the measure must be at most the bound or within it either way).
CRITERIA = {
    "familiarity <= 50%": ("familiarity", 0.5, "at most"),
    "probes <= half": ("forget probes", 0.5, "at most"),
    "general probes lose <= 1": ("general probes lost", 1, "at most"),
    "lm-eval within 0.05": ("lm-eval change", 0.05, "within"),
    "prose perplexity <= +15%": ("prose perplexity", 1.15, "at most"),
}


def verdicts(models: dict) -> dict[str, bool]:
    measured = measures(models)
    return {
        name: (abs(measured[measure]) if sense == "within" else measured[measure]) <= bound
        for name, (measure, bound, sense) in CRITERIA.items()
    }


def summarize() -> str:
    lines = [
        "| point | "
        + " | ".join(f"{m} (baseline -> unlearned)" for m in (*FORGET, *UTILITY))
        + " | related plays' perplexity | criteria met | unlearn s | evaluate s |",
        "|---" * (len(FORGET) + len(UTILITY) + 5) + "|",
    ]
    for path in sorted(RUNS.glob("*.json")):
        report = json.loads(path.read_text())
        models = report["models"]
        cells = [f"{models['baseline'][m]:.3f} -> {models['unlearned'][m]:.3f}" for m in (*FORGET, *UTILITY)]
        related = f"{models['baseline']['perplexity/related_heldout']:.1f} -> {models['unlearned']['perplexity/related_heldout']:.1f}"
        met = [k for k, ok in verdicts(models).items() if ok]
        timings = report["timings_s"]
        lines.append(f"| {path.stem} | " + " | ".join(cells) + f" | {related} | {len(met)}/5: {', '.join(met)} | "
                     f"{timings.get('unlearn', 0):.0f} | {timings.get('evaluate', 0):.0f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def tradeoff() -> list[dict]:
    """Each point's measures (measures()) and how many of the criteria it meets."""
    points = []
    for path in sorted(RUNS.glob("*.json")):
        models = json.loads(path.read_text())["models"]
        points.append({"point": path.stem, **measures(models), "criteria met": sum(verdicts(models).values())})
    return points


# Each panel: two criteria, the first read along x, the second along y.
PANELS = (
    ("familiarity <= 50%", "lm-eval within 0.05"),
    ("probes <= half", "prose perplexity <= +15%"),
    ("familiarity <= 50%", "general probes lose <= 1"),
)


def plot(points: list[dict], path: Path) -> None:
    """One panel per pair of criteria, the criteria holding in the shaded corner; each point is
    numbered (the key on the right) and coloured by how many of the five criteria it meets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Tall enough for the key's one line a point (7-point type).
    height = max(5.0, 0.14 * len(points) + 1.0)
    figure, axes = plt.subplots(1, len(PANELS) + 1, figsize=(5.5 * len(PANELS) + 4, height), width_ratios=[5.5] * len(PANELS) + [4])
    colours = plt.get_cmap("viridis")
    for axis, criteria in zip(axes, PANELS, strict=False):
        (x, x_bound, _), (y, y_bound, y_sense) = (CRITERIA[c] for c in criteria)
        # The y values where the y criterion holds: up to its bound, or within it either way.
        y_lines = (-y_bound, y_bound) if y_sense == "within" else (y_bound,)
        for number, point in enumerate(points, start=1):
            axis.scatter(point[x], point[y], color=colours(point["criteria met"] / 5), s=30, zorder=3)
            axis.annotate(str(number), (point[x], point[y]), fontsize=7, xytext=(3, 2), textcoords="offset points")
        xs, ys = [p[x] for p in points], [*(p[y] for p in points), *y_lines]
        span = max(ys) - min(ys)
        axis.set_xlim(min(*xs, x_bound) - 0.2, max(xs) + 0.05)
        axis.set_ylim(min(ys) - 0.1 * span, max(ys) + 0.1 * span)
        (left, _), (low, _) = axis.get_xlim(), axis.get_ylim()
        axis.fill_between([left, x_bound], y_lines[0] if y_sense == "within" else low, y_lines[-1], color="green", alpha=0.1)
        axis.axvline(x_bound, color="gray", linestyle="--", linewidth=0.8)
        for line in y_lines:
            axis.axhline(line, color="gray", linestyle="--", linewidth=0.8)
        axis.set_xlabel(f"{x}, unlearned / baseline (criterion: {criteria[0]})", fontsize=8)
        axis.set_ylabel(f"{y} (criterion: {criteria[1]})", fontsize=8)
    key = axes[-1]
    key.axis("off")
    key.text(0, 1, "\n".join(f"{n:2d}  {p['point']}: {p['criteria met']}/5" for n, p in enumerate(points, start=1)),
             va="top", fontsize=7, family="monospace", transform=key.transAxes)  # fmt: skip
    figure.suptitle("Macbeth sweep: every point against the criteria (shaded: both of a panel's criteria hold; "
                    "colour: criteria met of 5, dark to light)", fontsize=10)  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    if sys.argv[1:] != ["--summarize"]:
        for point in sys.argv[1:] or POINTS:
            run(point)
    (HERE / "results.md").write_text(summarize())
    plot(tradeoff(), HERE / "tradeoff.png")
