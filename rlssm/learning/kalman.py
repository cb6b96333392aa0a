"""The Kalman filter of Daw et al. (2006): values with an uncertainty that learning shrinks."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class KalmanFilter(AbstractLearningRule):
    """Bayesian learning of drifting option means: each value carries a variance.

    The model of Daw, O'Doherty, Dayan, Seymour & Dolan (2006), "Cortical substrates for
    exploratory decisions in humans", *Nature* 441, 876-879 (Supplementary Methods),
    as hBayesDM's ``bandit4arm2_kalman_filter`` implements it. Each option's mean
    reward is believed to diffuse, ``mu' = decay * mu + (1 - decay) * decay_center +
    noise`` with noise sd ``sigma_d``, and feedback to scatter around it with sd
    ``sigma_obs``. The rule tracks the posterior mean ``M`` and variance ``S`` of every
    option. With chosen option ``c`` and feedback ``r``, in this order:

    1. update the chosen option (the Kalman step): gain ``k = S[c] / (S[c] +
       sigma_obs**2)``; ``M[c] += k * (r - M[c])``; ``S[c] *= 1 - k``;
    2. then diffuse **every** option, the chosen one included:
       ``M = decay * M + (1 - decay) * decay_center``;
       ``S = decay**2 * S + sigma_d**2``.

    The order is Daw et al.'s exactly: the trial's prior is the previous trial's
    posterior carried through one diffusion step, so the values a trial's decision sees
    have already decayed, and the chosen option decays right after its update. ``M``
    starts at ``initial_value`` and ``S`` at ``sigma0**2`` (at every participant's and
    block's first trial). The values are ``M``; the state (`KalmanFilter.State`) also
    holds ``variance`` (``S``), which mappings may read (see
    [`UncertaintyDrift`][rlssm.UncertaintyDrift]) and
    [`RLSSM.values`][rlssm.RLSSM.values] reports per option. A missed trial changes
    neither (no diffusion step either), as for every rule.

    With ``decay = 1`` and ``sigma_d = 0`` (a stationary world) the rule is the
    conjugate update of a normal mean with known noise variance ``sigma_obs**2``: after
    rewards ``r_1 .. r_n`` from one option, ``S = 1 / (1 / sigma0**2 + n /
    sigma_obs**2)`` and ``M = S * (initial_value / sigma0**2 + sum(r) / sigma_obs**2)``
    (the model of Gershman, 2018, *Cognition* 173, 34-42).

    **Scales and bounds.** The defaults are for feedback in ``[0, 1]``: ``decay`` in
    (0, 1), ``decay_center`` in (0, 1), ``sigma0`` in (0, 1), ``sigma_d`` in (0, 0.5), and
    the setting ``sigma_obs = 0.2``. ``sigma_obs`` is a setting, not a parameter, because
    only the ratios ``sigma0 / sigma_obs`` and ``sigma_d / sigma_obs`` change the values
    (scaling all three scales ``S`` alone): it fixes the unit of the variances, as Daw
    et al. and hBayesDM fix ``sigma_obs = 4`` for payoffs of 1-100. With
    ``sigma_obs = 0.2`` the bounds let the gain take every value a learning rate can: the
    first gain ``sigma0**2 / (sigma0**2 + 0.04)`` spans (0, 0.96) over ``sigma0`` in (0, 1),
    and ``sigma_d`` up to 0.5 (the largest sd of a quantity confined to [0, 1]) keeps
    ``S >= 0.25`` and so the gain above 0.86 in a fast-changing world, while ``sigma_d``
    near 0 lets it fall toward 0. The upper bounds are finite so that hierarchical
    (logit) links work. For feedback on another scale, rescale with it: multiply
    ``sigma_obs`` and the bounds of ``sigma0`` and ``sigma_d`` by the feedback's range,
    and move ``initial_value`` and the bounds of ``decay_center`` onto the feedback's
    interval (``decay`` has no unit); bounds are overridden in [`RLSSM`][rlssm.RLSSM].
    For Daw et al.'s payoffs of 1-100: ``KalmanFilter(initial_value=50.0,
    sigma_obs=4.0)`` with ``bounds={"rl_sigma0": (0, 100), "rl_sigma_d": (0, 50),
    "rl_decay_center": (0, 100)}``. For feedback in ``[-1, 1]`` (range 2):
    ``KalmanFilter(initial_value=0.0, sigma_obs=0.4)`` with bounds ``(0, 2)``,
    ``(0, 1)`` and ``(-1, 1)``.

    Parameters
    ----------
    initial_value
        The mean ``M`` of every option before the first trial (default 0.5).
    sigma_obs
        Standard deviation of the feedback around an option's mean (default 0.2, for
        feedback in ``[0, 1]``); positive.
    """

    initial_value: float = 0.5
    sigma_obs: float = 0.2
    params = {
        "decay": (0.0, 1.0, 0.9),
        "decay_center": (0.0, 1.0),
        "sigma0": (0.0, 1.0, 0.3),
        "sigma_d": (0.0, 0.5, 0.1),
    }
    # decay_center is on the feedback's scale: any real.
    domains = {"decay": "[0, 1]", "sigma0": "[0, inf)", "sigma_d": "[0, inf)"}
    fields = ("feedback",)

    class State(eqx.Module):
        """Posterior means (the values) and variances of the options."""

        values: Float[Array, " options"]
        variance: Float[Array, " options"]

    def __check_init__(self) -> None:
        if not (math.isfinite(self.sigma_obs) and self.sigma_obs > 0):
            raise ValueError(f"KalmanFilter: sigma_obs must be a positive number, got {self.sigma_obs!r}")

    def init(self, n_options: int, dtype, decay, decay_center, sigma0, sigma_d) -> "KalmanFilter.State":
        means = jnp.full((n_options,), self.initial_value, dtype)
        return KalmanFilter.State(means, jnp.full((n_options,), sigma0**2, dtype))

    def update(
        self,
        state: "KalmanFilter.State",
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        decay: Float[Array, ""],
        decay_center: Float[Array, ""],
        sigma0: Float[Array, ""],
        sigma_d: Float[Array, ""],
    ) -> "KalmanFilter.State":
        means, variance = state.values, state.variance
        # The gain of the chosen option, 0 elsewhere (one-hot: see RescorlaWagner).
        chosen = jax.nn.one_hot(option, means.shape[0], dtype=bool)
        gain = jnp.where(chosen, variance / (variance + self.sigma_obs**2), 0)
        means = means + gain * (feedback - means)
        variance = variance * (1 - gain)
        # Then every option diffuses (Daw et al. 2006).
        means = decay * means + (1 - decay) * decay_center
        variance = decay**2 * variance + sigma_d**2
        return KalmanFilter.State(means, variance)

    def named_state(self, state: "KalmanFilter.State") -> dict[str, Array]:
        # The variance reaches mappings through `_zero_is_flat`: at the domain's edge
        # (sigma0 = 0, and sigma_d = 0 or decay = 0 after it) it is exactly 0, where a
        # mapping's sqrt has an infinite derivative; see there.
        return {"variance": _zero_is_flat(state.variance)}


@jax.custom_jvp
def _zero_is_flat(variance: Array) -> Array:
    """The identity, whose derivative is taken as 0 where ``variance`` is 0.

    A variance is at its minimum where it is 0, so its derivative there is 0 already
    (``d sigma0**2 = 2 sigma0 d sigma0``); saying so keeps a reader's infinite
    derivative there (``sqrt``, as in [`UncertaintyDrift`][rlssm.UncertaintyDrift])
    from making ``inf * 0 = NaN`` in the gradient. Values are unchanged.
    """
    return variance


@_zero_is_flat.defjvp
def _zero_is_flat_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (variance,), (dv,) = primals, tangents
    return variance, jnp.where(variance > 0, dv, jnp.zeros_like(dv))
