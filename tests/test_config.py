"""Every option of every config group composes; the cheap ones build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.conftest import HANG_GUARD_S, compose_config
from unlearn.components import _evaluators
from unlearn.config import CONF_DIR
from unlearn.settings import build

# Not groups of a run: conf/hydra holds options of Hydra's own groups (hydra/launcher=slurm,
# tested in test_distributed.py), conf/adapter what a fine-tune group's option trains
# (reinforce=lora, unlearn=lora, which compose it). The bench's configuration lives apart
# (unlearn/bench/conf).
GROUPS = sorted(p.name for p in CONF_DIR.iterdir() if p.is_dir() and p.name not in ("hydra", "adapter"))
OPTIONS = [(group, option.stem) for group in GROUPS for option in sorted((CONF_DIR / group).glob("*.yaml"))]
REQUIRED = {
    ("model", "hf"): ["model.name_or_path=some/model"],
    ("anchors", "from_file"): ["anchors.path=terms.yaml"],
    ("reinforce", "from_path"): ["reinforce.path=some/reinforced"],
    ("target", "text_files"): ["target.corpus=[book/*.txt]"],
    ("target", "harry_potter"): ["target.corpus=[books/*.txt]"],
}


def test_groups_are_the_documented_ones():
    assert set(GROUPS) == {
        "target", "model", "anchors", "reinforce", "labels", "unlearn", "evaluator", "judge", "trainer", "logger", "paths", "experiment",
    }  # fmt: skip


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(group, option, tmp_path):
    extra = REQUIRED.get((group, option), [])
    cfg = compose_config([f"{group}={option}", *extra], tmp_path)
    OmegaConf.resolve(cfg)
    assert OmegaConf.missing_keys(cfg) == set()


@pytest.mark.parametrize(
    ("group", "option", "expected"),
    [
        ("target", "toy_world", "ToyWorldTarget"),
        ("target", "text_files", "TextFilesTarget"),
        ("target", "muse_news", "DatasetTarget"),
        ("target", "muse_books", "DatasetTarget"),
        ("target", "tofu", "DatasetTarget"),
        ("target", "rwku", "DatasetTarget"),
        ("target", "harry_potter", "HarryPotterTarget"),
        ("model", "llama2_7b_chat", "PretrainedModel"),
        ("model", "llama2_7b", "PretrainedModel"),
        ("model", "toy_llama", "ToyLlama"),
        ("model", "hf", "PretrainedModel"),
        ("anchors", "from_target", "TargetAnchors"),
        ("anchors", "from_file", "FileAnchors"),
        ("anchors", "auto", "AutoAnchors"),
        ("anchors", "llm", "LLMAnchors"),
        ("reinforce", "finetune", "FinetuneReinforcement"),
        ("reinforce", "finetune_toy", "FinetuneReinforcement"),
        ("reinforce", "finetune_smollm2", "FinetuneReinforcement"),
        ("reinforce", "none", "NoneType"),
        ("reinforce", "lora", "FinetuneReinforcement"),
        ("reinforce", "lora_toy", "FinetuneReinforcement"),
        ("reinforce", "from_path", "ReinforcedFromPath"),
        ("labels", "whp", "LabelGenerator"),
        ("labels", "reinforced_only", "LabelGenerator"),
        ("labels", "anchored_only", "LabelGenerator"),
        ("unlearn", "finetune", "FitSpec"),
        ("unlearn", "finetune_toy", "FitSpec"),
        ("unlearn", "finetune_smollm2", "FitSpec"),
        ("unlearn", "lora", "FitSpec"),
        ("unlearn", "gradient_ascent", "GradientAscent"),
        ("unlearn", "gradient_difference", "GradientDifference"),
        ("unlearn", "npo", "NPO"),
        ("labels", "soft", "LabelGenerator"),
        ("labels", "soft_log_probs", "LabelGenerator"),
        ("logger", "csv", "FolderTracker"),
        ("logger", "tensorboard", "FolderTracker"),
        ("logger", "wandb", "WandbTracker"),
        ("judge", "references", "ReferencesJudge"),
        ("judge", "openai_compatible", "OpenAICompatibleJudge"),
    ],
)
def test_cheap_options_build_with_their_settings_checked(group, option, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "terms.yaml").write_text("Kelara: [John]\n")
    for folder in ("book", "books"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_text("Some text.")
    cfg = compose_config([f"{group}={option}", *REQUIRED.get((group, option), [])], tmp_path)
    built = build(cfg[group], group)
    assert type(built).__name__ == expected


def test_toy_model_brings_its_own_scale_and_the_command_line_still_wins(tmp_path):
    toy = compose_config([], tmp_path)
    assert toy.reinforce.lr > 1e-4 and toy.unlearn.accumulate_grad_batches == 1
    assert compose_config(["target=text_files", "target.corpus=[a.txt]"], tmp_path).reinforce.lr == toy.reinforce.lr
    real = compose_config(["model=hf", "model.name_or_path=some/model"], tmp_path)
    assert real.reinforce.lr == 3e-6 and real.unlearn.lr == 1e-6
    paper = compose_config(["reinforce=finetune", "unlearn=finetune"], tmp_path)
    assert paper.reinforce.lr == 3e-6 and paper.reinforce.batch_size * paper.reinforce.accumulate_grad_batches == 128
    assert paper.unlearn.lr == 1e-6 and paper.unlearn.epochs == 2
    assert compose_config(["reinforce=none"], tmp_path).reinforce._target_.endswith("no_reinforcement")


def test_smollm2_brings_the_schedules_measured_on_macbeth_to_any_target(tmp_path):
    """model=smollm2 selects its own schedules and soft labels on log-probabilities, so a new target gets the
    settings measured on Macbeth: target=macbeth alone is experiment=macbeth's run, and
    experiment=macbeth's unlearning values (imposed on every method it is run with) are
    unlearn=finetune_smollm2's. The command line still wins."""
    story = compose_config(["model=smollm2", "target=text_files", "target.corpus=[a.txt]"], tmp_path)
    assert (story.reinforce.lr, story.unlearn.lr, story.labels.targets, story.labels.combine_on) == (3e-5, 3e-4, "soft", "log_probs")
    assert (story.reinforce.min_steps, story.unlearn.min_steps) == (20, 0)
    assert compose_config(["target=macbeth"], tmp_path) == compose_config(["experiment=macbeth"], tmp_path)
    imposed = compose_config(["experiment=macbeth", "unlearn=npo"], tmp_path).unlearn
    schedule = compose_config(["model=smollm2", "unlearn=finetune_smollm2"], tmp_path).unlearn
    assert all(imposed[key] == schedule[key] for key in ("lr", "accumulate_grad_batches", "epochs", "min_steps"))
    paper = compose_config(["target=macbeth", "reinforce=finetune", "unlearn=finetune", "labels=whp"], tmp_path)
    assert (paper.reinforce.lr, paper.unlearn.lr, paper.labels.targets, paper.labels.combine_on) == (3e-6, 1e-6, "hard", "logits")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unlearn", *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_GUARD_S)


def test_help_lists_groups_and_options(tmp_path):
    result = _cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for group, option in OPTIONS:
        assert group in result.stdout and option in result.stdout


def test_cfg_job_prints_the_composed_config(tmp_path):
    result = _cli("--cfg", "job", "model=hf", "model.name_or_path=org/name", cwd=tmp_path)
    assert result.returncode == 0
    printed = OmegaConf.create(result.stdout)
    assert printed.model.name_or_path == "org/name"
    assert printed.target.name == "toy_world"


def test_every_default_evaluator_instantiates(tmp_path):
    cfg = compose_config(["evaluator=default"], tmp_path)
    built = {name: build(spec, f"evaluator.{name}") for name, spec in cfg.evaluator.items()}
    assert set(built) == {
        "probes", "perplexity", "familiarity_completion", "familiarity_probability", "lm_eval", "verbatim", "knowledge_qa", "mia",
    }  # fmt: skip
    assert type(built["familiarity_completion"].judge).__name__ == "ReferencesJudge"


def test_the_toy_world_leaves_out_the_evaluators_that_read_the_same_on_every_model(tmp_path):
    """conf/evaluator/toy_world.yaml, chosen by the toy world's target config; the command line still wins."""
    default = set(compose_config(["evaluator=default"], tmp_path).evaluator)
    toy = compose_config([], tmp_path)
    assert {name for name, spec in toy.evaluator.items() if spec is not None} == default - {"knowledge_qa", "mia"}
    assert set(_evaluators(toy)) == default - {"knowledge_qa", "mia"}
    assert set(_evaluators(compose_config(["evaluator=relearning"], tmp_path))) == default | {"relearn"}
    assert set(compose_config(["target=macbeth"], tmp_path).evaluator) == default


def test_paper_evaluators_measure_utility_on_the_papers_seven_benchmarks(tmp_path):
    cfg = compose_config(["evaluator=paper"], tmp_path)
    assert list(cfg.evaluator.lm_eval.tasks) == ["arc_challenge", "arc_easy", "boolq", "hellaswag", "openbookqa", "piqa", "winogrande"]
    assert set(cfg.evaluator) == set(compose_config([], tmp_path).evaluator)


@pytest.mark.parametrize(
    ("trainer", "deterministic"),
    [("cpu", True), ("ddp_cpu", True), ("fsdp_cpu", True), ("gpu", False), ("ddp", False), ("fsdp", False), ("a100x4", False)],
)
def test_cpu_trainers_use_deterministic_algorithms_and_gpu_trainers_do_not(trainer, deterministic, tmp_path):
    """Free on the CPU (experiments/toy_world/determinism.md), a cost not measured here on GPUs."""
    assert compose_config([f"trainer={trainer}"], tmp_path).trainer.deterministic is deterministic
