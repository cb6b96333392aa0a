"""Rescorla-Wagner rules with one or two learning rates."""

import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class RescorlaWagner(AbstractLearningRule):
    """Rescorla-Wagner (delta rule): the chosen option moves toward the feedback.

    ``Q[c] <- Q[c] + alpha * (feedback - Q[c])``; unchosen options keep their value.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5, as in the seed
        tutorial).
    """

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0)}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        choice: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
    ) -> Float[Array, " options"]:
        prediction_error = feedback - values[choice]
        return values.at[choice].add(alpha * prediction_error)


class DualRateRW(AbstractLearningRule):
    """Rescorla-Wagner with separate rates for positive and negative prediction errors.

    ``delta = feedback - Q[c]``; ``Q[c] <- Q[c] + (alpha if delta > 0 else alpha_neg) * delta``.
    With ``alpha == alpha_neg`` it is [`RescorlaWagner`][rlssm.RescorlaWagner].

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5).
    """

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "alpha_neg": (0.0, 1.0)}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        choice: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
        alpha_neg: Float[Array, ""],
    ) -> Float[Array, " options"]:
        prediction_error = feedback - values[choice]
        rate = jnp.where(prediction_error > 0, alpha, alpha_neg)
        return values.at[choice].add(rate * prediction_error)
