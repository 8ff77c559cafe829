"""The one number a sweep minimizes (report.json `objective`, config node `objective`).

objective = forget_kept + utility_weight * utility_lost, where
  forget_kept  = unlearned[forget] / baseline[forget]: the share of the forget-side metric
                 that survived unlearning (0 = all gone, 1 = untouched);
  utility_lost = the relative drop of the utility metric from baseline to unlearned, or 0
                 when it did not drop.
Both terms are relative to the baseline, so the weight reads as an exchange rate: with
weight 2, losing 1% of utility costs as much as keeping 2% of the familiarity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Objective:
    forget: str
    utility: str
    utility_weight: float
    utility_higher_is_better: bool = True

    def terms(self, models: dict[str, dict[str, float]]) -> dict[str, float] | None:
        """forget_kept, utility_lost and objective, or None when the run lacks what they need."""
        baseline, unlearned = models.get("baseline", {}), models.get("unlearned")
        if unlearned is None:
            return None
        for key, metric in (("forget", self.forget), ("utility", self.utility)):
            if metric not in baseline or metric not in unlearned:
                log.warning("objective.%s=%s was not measured in this run; report.json gets no objective", key, metric)
                return None
        if baseline[self.forget] == 0 or baseline[self.utility] == 0:
            log.warning("the baseline scores 0 on objective.forget or objective.utility; report.json gets no objective")
            return None
        forget_kept = unlearned[self.forget] / baseline[self.forget]
        change = (unlearned[self.utility] - baseline[self.utility]) / abs(baseline[self.utility])
        utility_lost = max(0.0, -change if self.utility_higher_is_better else change)
        return {
            "forget_kept": forget_kept,
            "utility_lost": utility_lost,
            "objective": forget_kept + self.utility_weight * utility_lost,
        }
