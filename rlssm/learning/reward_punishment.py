"""Rescorla-Wagner with learning rates for rewarded and unrewarded trials."""

import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule

__all__ = ["RewardPunishmentRW"]


class RewardPunishmentRW(AbstractLearningRule):
    """Rescorla-Wagner with the learning rate chosen by the outcome: one after a reward,
    another after a punishment (or no reward).

    With chosen option ``c`` and feedback ``r`` (column ``feedback``), on each trial

    ``rate = alpha_rew if r > 0 else alpha_pun``;
    ``Q[c] <- Q[c] + rate * (r - Q[c])``; unchosen options keep their value.

    The rate follows the sign of the *outcome* (a feedback of 0 takes ``alpha_pun``),
    where [`DualRateRW`][rlssm.DualRateRW]'s follows the sign of the prediction error:
    the two differ whenever a reward falls short of the value (``0 < r < Q[c]``) or a
    loss is milder than expected. hBayesDM's ``prl_rp`` and ``prl_rp_multipleB``
    (den Ouden et al., 2013, *Neuron* 80, 1090-1100), with ``alpha_rew`` its ``Arew``,
    ``alpha_pun`` its ``Apun`` and ``initial_value = 0``.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5; hBayesDM's 0).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``alpha_rew`` in
    (0, 1), the rate after a positive outcome; ``alpha_pun`` in (0, 1), after an outcome
    of 0 or below.
    """

    initial_value: float = 0.5
    params = {"alpha_rew": (0.0, 1.0), "alpha_pun": (0.0, 1.0)}
    domains = {"alpha_rew": "[0, 1]", "alpha_pun": "[0, 1]"}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha_rew: Float[Array, ""],
        alpha_pun: Float[Array, ""],
    ) -> Float[Array, " options"]:
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        rate = jnp.where(feedback > 0, alpha_rew, alpha_pun)
        return values + jnp.where(chosen, rate * prediction_error, 0)
