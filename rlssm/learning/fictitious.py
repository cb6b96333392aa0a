"""Rescorla-Wagner with a fictitious update of the unchosen options (reversal learning)."""

import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule

__all__ = ["DualRateFictitiousRW", "FictitiousRW"]


def _fictitious(
    values: Float[Array, " options"], option: Int[Array, ""], feedback: Float[Array, ""]
) -> tuple[Float[Array, " options"], Float[Array, ""]]:
    """Every option's prediction error (the chosen one's toward ``feedback``, the
    others' toward ``-feedback``), and the chosen option's."""
    chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
    errors = jnp.where(chosen, feedback, -feedback) - values
    return errors, jnp.sum(jnp.where(chosen, errors, 0))


class FictitiousRW(AbstractLearningRule):
    """Rescorla-Wagner with a fictitious update: what was not chosen would have given
    the opposite outcome.

    For reversal-learning tasks whose options are anticorrelated (one rewarded exactly
    when the other is not). With chosen option ``c`` and feedback ``r`` (column
    ``feedback``), on each trial, with one learning rate for both updates,

    ``Q[c] <- Q[c] + alpha * (r - Q[c])``;
    ``Q[u] <- Q[u] + alpha * (-r - Q[u])`` for every ``u != c``.

    hBayesDM's ``prl_fictitious`` and ``prl_fictitious_woa`` (Glascher, Hampton &
    O'Doherty, 2009, *Cereb. Cortex* 19, 483-495), with ``alpha`` its ``eta`` and
    ``initial_value = 0`` (see [`rlssm.hbayesdm`][rlssm.hbayesdm]). It is
    [`CounterfactualRW`][rlssm.CounterfactualRW] with ``feedback_unchosen = -feedback``
    and ``alpha_cf = alpha``, without the extra data column.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5; hBayesDM's 0).

    Notes
    -----
    Sampled parameter (``rl_alpha`` in ``RLSSM.param_names``): ``alpha`` in (0, 1).
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
        errors, _ = _fictitious(values, option, feedback)
        return values + alpha * errors


class DualRateFictitiousRW(AbstractLearningRule):
    """[`FictitiousRW`][rlssm.learning.FictitiousRW] with the learning rate chosen by the
    sign of the chosen option's prediction error.

    With chosen option ``c``, feedback ``r`` and ``delta = r - Q[c]``, on each trial

    ``rate = alpha if delta >= 0 else alpha_neg``;
    ``Q[c] <- Q[c] + rate * delta``;
    ``Q[u] <- Q[u] + rate * (-r - Q[u])`` for every ``u != c``.

    Both updates take the rate of the chosen option's error; a zero error counts as
    positive (it leaves ``Q[c]`` as it is, not the unchosen values). hBayesDM's
    ``prl_fictitious_rp`` and ``prl_fictitious_rp_woa`` (den Ouden et al., 2013,
    *Neuron* 80, 1090-1100), with ``alpha`` its ``eta_pos``, ``alpha_neg`` its
    ``eta_neg`` and ``initial_value = 0``. With ``alpha == alpha_neg`` it is
    `FictitiousRW`.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5; hBayesDM's 0).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``alpha`` in (0, 1),
    the rate after a nonnegative prediction error; ``alpha_neg`` in (0, 1), after a
    negative one.
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
        errors, chosen_error = _fictitious(values, option, feedback)
        rate = jnp.where(chosen_error >= 0, alpha, alpha_neg)
        return values + rate * errors
