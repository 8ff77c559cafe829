"""Utility through lm-evaluation-harness, run on the model in memory.

Tasks are lm-eval task names (the Llama configs ask for the paper's seven benchmarks), or,
when none are named, the target's own task YAMLs (the toy world's multiple-choice tasks
over its generated data), whose relative data paths resolve against their folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from unlearn.errors import SettingError, UserError
from unlearn.evaluation import Measurement, require
from unlearn.files import read_text
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def local_tasks(folder: Path) -> list[dict[str, Any]]:
    """Task configs from the YAML files of `folder`, with relative `data_files` made absolute."""
    tasks = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            config = yaml.safe_load(read_text(path, "target.lm_eval_tasks"))
        except yaml.YAMLError as err:
            raise UserError(f"{path}: not valid YAML ({getattr(err, 'problem', err)}); fix the lm-eval task file") from None
        if not isinstance(config, dict):
            raise UserError(f"{path}: not an lm-eval task (a YAML mapping); fix or remove it")
        data_files = config.get("dataset_kwargs", {}).get("data_files", {})
        for split, file in data_files.items():
            data_files[split] = str((path.parent / file).resolve()) if "://" not in file else file
        tasks.append(config)
    if not tasks:
        raise UserError(f"{folder} has no lm-eval task YAMLs; set evaluator.lm_eval.tasks to task names instead")
    return tasks


@dataclass
class LMEvalHarness:
    """Metrics `lm_eval/<task>/<metric>`; tasks whose name says `forget` count as forget-side.

    `tasks`: lm-eval task names, or null for the target's own tasks; `include_path`: a folder
    of your own task YAMLs; `limit`: documents per task (null: all).
    """

    tasks: list[str] | None
    include_path: str | None
    limit: int | None
    num_fewshot: int | None
    batch_size: int

    def __post_init__(self) -> None:
        if self.include_path is not None and not Path(self.include_path).expanduser().is_dir():
            raise SettingError("include_path", self.include_path, f"is not a folder (looked from {Path.cwd()}); name your tasks' folder")

    def check(self, target: TargetFiles) -> None:
        if self.tasks is None:
            local_tasks(require(target.lm_eval_tasks, "lm_eval", "lm_eval_tasks", target))

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement:
        from lm_eval import simple_evaluate
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager

        logging.getLogger("lm_eval").setLevel(logging.ERROR)
        if self.tasks is None:
            tasks: list = local_tasks(require(target.lm_eval_tasks, "lm_eval", "lm_eval_tasks", target))
            manager = TaskManager(include_defaults=False)
        else:
            tasks = list(self.tasks)
            manager = TaskManager(include_path=self.include_path)
        tokenizer.padding_side = "left"
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=self.batch_size)
        try:
            output = simple_evaluate(
                model=lm,
                tasks=tasks,
                task_manager=manager,
                limit=self.limit,
                num_fewshot=self.num_fewshot,
                log_samples=False,
                bootstrap_iters=0,
                verbosity="WARNING",
            )
        except KeyError as err:
            raise UserError(f"evaluator.lm_eval.tasks names {err}, which lm-eval does not know; check the name or include_path") from None
        metrics, sides = {}, {}
        for task, values in output["results"].items():
            for key, value in values.items():
                metric, _, _filter = key.partition(",")
                if isinstance(value, (int, float)) and not metric.endswith("_stderr") and metric != "sample_len":
                    name = f"lm_eval/{task}/{metric}"
                    metrics[name] = float(value)
                    sides[name] = "forget" if "forget" in task else "utility"
        return Measurement(metrics, sides)
