"""Inference-time WHP (MUSE's "WHP"): the baseline's logits corrected on the fly, no fine-tune.

    v(t) = v_base(t) - alpha * ReLU(v_reinforced(t) - v_base(t))

on the original text, with no anchored translation (docs/method.md, "Inference-time WHP").
It is the paper's label combination applied at inference instead of distilled into
weights: a lower bound on what the fine-tune could reach with these two models and no
dictionary, and the variant MUSE evaluates under the name.

The combined model is the baseline itself with the reinforced model attached and its
forward replaced, so that every evaluator (generation through `generate`, log-likelihoods,
lm-eval's harness) reads it as any causal LM of the same class. In generation, `generate`
keeps the baseline's key-value cache and the combined forward keeps the reinforced model's
beside it, begun anew with each prompt (the baseline's cache still empty), so that each new token costs
one position of each model, not the whole sequence again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unlearn.errors import SettingError
from unlearn.labels import whp_combination

if TYPE_CHECKING:
    from transformers import PreTrainedModel


@dataclass
class InferenceTimeWHP:
    """The settings of the comparison model `compare=[whp_inference]` (config key `whp_inference`)."""

    alpha: float

    def __post_init__(self) -> None:
        if self.alpha < 0:
            raise SettingError("alpha", self.alpha, "must be >= 0 (it scales how far reinforced tokens are pushed down)")

    def combine(self, baseline: PreTrainedModel, reinforced: PreTrainedModel) -> PreTrainedModel:
        return inference_time_whp(baseline, reinforced, self.alpha)


# What `generate` names the key-value cache it hands a model's forward (transformers 5: `cache`).
CACHE_ARGUMENTS = ("cache", "past_key_values")


class CombinedForward:
    """The baseline's forward, followed by the reinforced model's on the same inputs, combined.
    With a key-value cache (generation), the reinforced model reads its own."""

    def __init__(self, model: PreTrainedModel, alpha: float):
        self.forward, self.model, self.alpha = model.forward, model, alpha
        self.reinforced_cache: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = next((key for key in CACHE_ARGUMENTS if kwargs.get(key) is not None), None)
        if name is None or not kwargs.get("use_cache", True):
            kwargs = {key: value for key, value in kwargs.items() if key not in CACHE_ARGUMENTS} | {"use_cache": False}
            output = self.forward(*args, **kwargs)
            reinforced = self.model.whp_reinforced(*args, **kwargs).logits
        else:
            from transformers import DynamicCache

            if self.reinforced_cache is None or kwargs[name].get_seq_length() == 0:  # a new prompt
                self.reinforced_cache = DynamicCache(config=self.model.whp_reinforced.config)
            output = self.forward(*args, **kwargs)
            reinforced = self.model.whp_reinforced(*args, **{**kwargs, name: self.reinforced_cache}).logits
        output.logits = whp_combination(output.logits.float(), reinforced.float(), self.alpha)
        return output


def inference_time_whp(baseline: PreTrainedModel, reinforced: PreTrainedModel, alpha: float) -> PreTrainedModel:
    """`baseline`, changed in place to return the combined logits; the reinforced model becomes
    its submodule, so that moving or evaluating the one moves or evaluates both."""
    baseline.add_module("whp_reinforced", reinforced)
    baseline.forward = CombinedForward(baseline, alpha)
    return baseline
