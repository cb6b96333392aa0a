"""Rescorla-Wagner that also learns from the forgone outcome (complete feedback)."""

import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class CounterfactualRW(AbstractLearningRule):
    """Rescorla-Wagner with a counterfactual update of the unchosen option(s).

    For designs with complete feedback, where the outcome of the option not chosen is
    shown too. With chosen option ``c``, its feedback ``r`` (column ``feedback``) and
    the forgone outcome ``r_u`` (column ``feedback_unchosen``), on each trial

    ``Q[c] <- Q[c] + alpha * (r - Q[c])``;
    ``Q[u] <- Q[u] + alpha_cf * (r_u - Q[u])`` for every ``u != c``.

    ``alpha_cf = 0`` is [`RescorlaWagner`][rlssm.RescorlaWagner] (``feedback_unchosen``
    is then read but has no effect). With more than two options, every unchosen option
    moves toward the same ``r_u``: the data has one ``feedback_unchosen`` column, so
    designs that show a different outcome per unchosen option need a rule of their own.

    Sources. Factual and counterfactual learning rates: Palminteri, Khamassi, Joffily &
    Coricelli (2015), *Nat. Commun.* 6, 8096. The fictitious update of Glascher,
    Hampton & O'Doherty (2009), *Cereb. Cortex* 19, 483-495, as hBayesDM's
    ``prl_fictitious`` (and ``prl_fictitious_woa``) fit it, is the special case of two
    options with ``r_u = -r`` and one learning rate, ``alpha_cf = alpha = eta``:
    ``ev[c] += eta * (r - ev[c])``, ``ev[u] += eta * (-r - ev[u])``; write
    ``feedback_unchosen = -feedback`` in the data to fit it. Fontanesi et al.'s (2019)
    ``rlssm`` Stan models update both options on full-feedback trials with one rate:
    the case ``alpha_cf = alpha``.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``alpha`` in
    (0, 1), the factual learning rate; ``alpha_cf`` in (0, 1), the counterfactual one.
    In closed-loop simulation the environment must produce ``feedback_unchosen``:
    [`GaussianBandit`][rlssm.GaussianBandit] and
    [`BernoulliBandit`][rlssm.BernoulliBandit] do with ``complete_feedback=True``.
    """

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "alpha_cf": (0.0, 1.0)}
    domains = {"alpha": "[0, 1]", "alpha_cf": "[0, 1]"}
    fields = ("feedback", "feedback_unchosen")

    def update(
        self,
        values: Float[Array, " options"],
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        feedback_unchosen: Float[Array, ""],
        alpha: Float[Array, ""],
        alpha_cf: Float[Array, ""],
    ) -> Float[Array, " options"]:
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        learned = values + alpha * prediction_error
        counterfactual = values + alpha_cf * (feedback_unchosen - values)
        return jnp.where(chosen, learned, counterfactual)
