"""Rescorla-Wagner rules with one or two learning rates."""

import jax
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
    domains = {"alpha": "[0, 1]"}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
    ) -> Float[Array, " options"]:
        # A one-hot mask rather than values[option] / .at[option]: inside the scan,
        # and once more in its gradient, XLA's dynamic gather and scatter on a tiny
        # vector cost more than the arithmetic (the scan ran ~30% faster this way).
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        return values + jnp.where(chosen, alpha * prediction_error, 0)


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
    domains = {"alpha": "[0, 1]", "alpha_neg": "[0, 1]"}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
        alpha_neg: Float[Array, ""],
    ) -> Float[Array, " options"]:
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        rate = jnp.where(prediction_error > 0, alpha, alpha_neg)
        return values + jnp.where(chosen, rate * prediction_error, 0)
