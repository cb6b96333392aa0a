"""A learning rule that learns from the sign of the feedback."""

import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule, AbstractWrappedLearningRule, RuleState

__all__ = ["SignOfFeedback"]


class SignOfFeedback(AbstractWrappedLearningRule):
    """A learning rule that sees the sign of the feedback (+1, 0 or -1), not its size.

    hBayesDM's reversal-learning models (``prl_*``) read ``sign(outcome)``: their
    preprocessing replaces each outcome by its sign before the Stan model sees it, so a
    file of wins and losses of 25 points is fitted as +1 and -1. Wrapping the rule
    makes that part of the model: the data keeps the outcomes as recorded
    ([`load_hbayesdm`][rlssm.load_hbayesdm] keeps them) and every path (likelihood,
    simulation, ``RLSSM.values``) applies the sign the same way.

    Parameters
    ----------
    rule
        The learning rule; it must read the column ``feedback``.

    Examples
    --------
    ```python
    rule = rlssm.learning.SignOfFeedback(rlssm.learning.FictitiousRW(initial_value=0.0))
    ```
    """

    rule: AbstractLearningRule

    def __init__(self, rule: AbstractLearningRule):
        if isinstance(rule, type) or not isinstance(rule, AbstractLearningRule):
            what = rule.__name__ if isinstance(rule, type) else type(rule).__name__
            raise TypeError(f"SignOfFeedback: expected a learning rule instance, got {what}")
        self.rule = rule

    def __check_init__(self) -> None:
        if "feedback" not in self.rule.fields:
            raise ValueError(
                f"SignOfFeedback: {type(self.rule).__name__} does not read 'feedback' "
                f"(its fields: {self.rule.fields}), so there is no feedback to take the sign of"
            )

    def update(self, state: RuleState, option: Int[Array, ""], **inputs: Float[Array, ""]) -> RuleState:
        inputs["feedback"] = jnp.sign(inputs["feedback"])
        return self.rule.update(state, option, **inputs)
