"""The one number a sweep minimizes (report.json `objective`, config node `objective`).

objective = forget_kept + utility_weight * utility_lost, where
  forget_kept  = unlearned[forget] / baseline[forget]: the share of the forget-side metric
                 that survived unlearning (0 = all gone, 1 = untouched);
  utility_lost = the relative drop of the utility metric (higher is better) from baseline
                 to unlearned, or 0 when it did not drop.
Both terms are relative to the baseline, so the weight reads as an exchange rate: with
weight 2, losing 1% of utility costs as much as keeping 2% of the familiarity. `forget`
and `utility` are lists in order of preference, and the first metric the run measured is
used, so one configuration serves targets that ship different evaluator files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Objective:
    forget: list[str]
    utility: list[str]
    utility_weight: float

    def metrics(self, models: dict[str, dict[str, float]]) -> dict[str, str] | None:
        """The forget and utility metrics this run measured on both models, first choice first."""
        measured = set(models.get("baseline", {})) & set(models.get("unlearned", {}))
        chosen = {key: next((m for m in getattr(self, key) if m in measured), None) for key in ("forget", "utility")}
        for key, metric in chosen.items():
            if metric is None:
                log.warning("none of objective.%s=%s was measured in this run; report.json gets no objective", key, getattr(self, key))
                return None
        return chosen

    def terms(self, models: dict[str, dict[str, float]]) -> dict[str, float] | None:
        """forget_kept, utility_lost and objective, or None when the run lacks what they need."""
        chosen = self.metrics(models)
        if chosen is None:
            return None
        baseline, unlearned = models["baseline"], models["unlearned"]
        forget, utility = chosen["forget"], chosen["utility"]
        if baseline[forget] == 0 or baseline[utility] == 0:
            log.warning("the baseline scores 0 on %s or %s; report.json gets no objective", forget, utility)
            return None
        forget_kept = unlearned[forget] / baseline[forget]
        utility_lost = max(0.0, (baseline[utility] - unlearned[utility]) / abs(baseline[utility]))
        return {
            "forget_kept": forget_kept,
            "utility_lost": utility_lost,
            "objective": forget_kept + self.utility_weight * utility_lost,
        }
