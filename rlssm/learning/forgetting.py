"""Rescorla-Wagner whose unchosen values drift back toward their start."""

import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class ForgettingRW(AbstractLearningRule):
    """Rescorla-Wagner with forgetting: every unchosen option decays toward its start.

    With chosen option ``c``, feedback ``r`` and ``Q0 = initial_value``, on each trial

    ``Q[c] <- Q[c] + alpha * (r - Q[c])``;
    ``Q[j] <- Q[j] + forget * (Q0 - Q[j])`` for every ``j != c``.

    The chosen option learns and does not decay; ``forget = 0`` is
    [`RescorlaWagner`][rlssm.RescorlaWagner], ``forget = 1`` resets the unchosen options
    to ``Q0`` after every trial.

    Sources. Decay of unchosen values is the forgetting of Ito & Doya (2009), *J.
    Neurosci.* 29, 9861-9874 ("F-Q learning", decay toward 0) and of Niv, Daniel,
    Geana, Gershman, Leong, Radulescu & Wilson (2015), *J. Neurosci.* 35, 8145-8157
    (feature weights of unchosen stimuli decay toward 0). hBayesDM's
    ``bandit4arm_lapse_decay`` (Aylward et al., 2018, after Niv et al. 2015) applies
    this update to each of its reward and punishment values with ``Q0 = 0``: it is
    ``ForgettingRW(initial_value=0.0)`` per value stream (its lapse and separate
    streams are not part of this rule). Decay toward the initial value rather than to
    0 follows the form of Collins & Frank's (2012) working-memory forgetting, *Eur. J.
    Neurosci.* 35, 1024-1035 (there applied to every weight, toward ``1 / n_options``).
    The two coincide when ``initial_value = 0``.

    Parameters
    ----------
    initial_value
        ``Q0``: value of every option before the first trial, and the value unchosen
        options decay toward (default 0.5; 0.0 gives decay toward zero as in Ito &
        Doya 2009 and hBayesDM).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``alpha`` in
    (0, 1), the learning rate; ``forget`` in (0, 1), the forgetting rate.
    """

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "forget": (0.0, 1.0)}
    domains = {"alpha": "[0, 1]", "forget": "[0, 1]"}
    fields = ("feedback",)

    def update(
        self,
        values: Float[Array, " options"],
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
        forget: Float[Array, ""],
    ) -> Float[Array, " options"]:
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        learned = values + alpha * prediction_error
        decayed = values + forget * (self.initial_value - values)
        return jnp.where(chosen, learned, decayed)
