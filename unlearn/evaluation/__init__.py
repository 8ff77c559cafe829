"""Evaluators: each measures one property of a model and returns named metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from unlearn.errors import UserError
from unlearn.targets import TargetFiles

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Side = Literal["forget", "utility"]


@dataclass
class Measurement:
    """What one evaluator measured on one model.

    `metrics` are named `<evaluator>/<metric>`; `sides` says for each whether it measures
    what should be forgotten (should fall) or what should be kept (should hold), which
    the report's table and figure group by; `tables` are per-item rows (per-prompt
    probabilities, sampled completions) that the report shows a sample of.
    """

    metrics: dict[str, float]
    sides: dict[str, Side]
    tables: dict[str, list[dict]] = field(default_factory=dict)


class Evaluator(Protocol):
    def check(self, target: TargetFiles) -> None:
        """Read what `evaluate` will read, without a model: a file that is missing (NotApplicable)
        or does not parse (UserError) is found before any stage that trains."""
        ...

    def evaluate(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, target: TargetFiles) -> Measurement: ...


T = TypeVar("T")


class NotApplicable(UserError):
    """The target lacks what an evaluator reads (a file, long enough documents): the run
    skips that evaluator and says so, rather than losing the stages already built."""


def require(path: T | None, evaluator: str, field_name: str, target: TargetFiles) -> T:
    """The target file an evaluator needs, or NotApplicable naming the evaluator and the missing field."""
    if not path:
        raise NotApplicable(
            f"evaluator.{evaluator} needs target.{field_name} and target={target.name} has none; "
            f"give the target a {field_name} file (README, File formats) or leave the evaluator out with ~evaluator.{evaluator}"
        )
    return path
