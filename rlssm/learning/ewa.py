"""Experience-weighted attraction: values as experience-weighted averages of payoffs."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule

__all__ = ["EWA"]


class EWA(AbstractLearningRule):
    """Experience-weighted attraction (EWA) of the chosen option, as hBayesDM's
    ``prl_ewa`` implements it.

    Each option keeps an attraction ``A`` (its value) and an experience weight ``N``.
    With chosen option ``c`` and feedback ``r`` (column ``feedback``), on each trial

    ``N[c] <- rho * N_prev + 1``, with ``N_prev = N[c]`` before the trial;
    ``A[c] <- (phi * N_prev * A[c] + r) / N[c]``;

    the unchosen options keep both. ``phi`` discounts past attractions (it is one minus
    a learning rate) and ``rho`` decays the experience: with ``rho = phi`` the
    attraction is an exponentially weighted average of the option's payoffs, with
    ``rho = 0`` it moves toward the payoff at rate ``1 - phi`` as in Rescorla-Wagner.
    With the experience starting at 0, an option's first attraction is its first payoff
    (the initial value then only sets the choice until the option is first chosen).

    This is the reduced EWA of hBayesDM's ``prl_ewa`` (den Ouden et al., 2013, *Neuron*
    80, 1090-1100), with ``initial_value = 0``. Camerer & Ho's (1999) full model also
    updates the unchosen options (with forgone payoffs weighted by ``delta``) and every
    option's experience; hBayesDM's, and this rule, update the chosen option only.

    The state (`EWA.State`) holds ``values`` (the attractions) and ``experience``;
    [`RLSSM.values`][rlssm.RLSSM.values] reports the experience per option.

    Parameters
    ----------
    initial_value
        Attraction of every option before the first trial (default 0.5; hBayesDM's 0).
    initial_experience
        Experience weight of every option before the first trial, a number >= 0
        (default 0, hBayesDM's and Camerer & Ho's ``N(0)`` when fitted at 0).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``phi`` in (0, 1),
    the decay of past attractions; ``rho`` in (0, 1), the decay of experience.

    References
    ----------
    Camerer, C., & Ho, T.-H. (1999). Experience-weighted attraction learning in normal
    form games. *Econometrica*, 67(4), 827-874.

    den Ouden, H. E. M., Daw, N. D., Fernandez, G., Elshout, J. A., Rijpkema, M.,
    Hoogman, M., Franke, B., & Cools, R. (2013). Dissociable effects of dopamine and
    serotonin on reversal learning. *Neuron*, 80(4), 1090-1100.
    """

    initial_value: float = 0.5
    initial_experience: float = 0.0
    params = {"phi": (0.0, 1.0), "rho": (0.0, 1.0)}
    domains = {"phi": "[0, 1]", "rho": "[0, 1]"}
    fields = ("feedback",)

    class State(eqx.Module):
        """Attractions (the values) and experience weights of the options."""

        values: Float[Array, " options"]
        experience: Float[Array, " options"]

    def __check_init__(self) -> None:
        start = self.initial_experience
        if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start) or start < 0:
            raise ValueError(f"EWA: initial_experience must be a finite number >= 0, got {start!r}")

    def init(self, n_options: int, dtype, phi, rho) -> "EWA.State":
        return EWA.State(
            jnp.full((n_options,), self.initial_value, dtype),
            jnp.full((n_options,), self.initial_experience, dtype),
        )

    def update(
        self,
        state: "EWA.State",
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        phi: Float[Array, ""],
        rho: Float[Array, ""],
    ) -> "EWA.State":
        values, experience = state.values, state.experience
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        # Every option's candidate update, kept for the chosen one only: the experience
        # after the trial is at least 1 (the previous one is >= 0), so no division by 0.
        grown = rho * experience + 1
        attraction = (phi * experience * values + feedback) / grown
        return EWA.State(jnp.where(chosen, attraction, values), jnp.where(chosen, grown, experience))
