"""A drift rate that values uncertainty: directed exploration."""

import jax.numpy as jnp

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["UncertaintyDrift"]


class UncertaintyDrift(AbstractMapping):
    """Drift from the value difference plus a bonus for relative uncertainty.

    ``v = scaler * (Q[1] - Q[0]) + phi * (sqrt(S[1]) - sqrt(S[0]))``

    with ``Q`` the values and ``S`` the posterior variances a Kalman-filter rule keeps
    (its state part ``variance``, e.g. [`KalmanFilter`][rlssm.KalmanFilter]), both
    before the trial's update. ``sqrt(S[1]) - sqrt(S[0])`` is the *relative
    uncertainty* of Gershman (2018), "Deconstructing the human algorithms for
    exploration", *Cognition* 173, 34-42, whose weight there measures directed
    (uncertainty-seeking) exploration: ``phi > 0`` drifts toward the less known
    option, ``phi < 0`` away from it. (Gershman's probit choice rule,
    ``P(c = 1) = Phi(w1 * V + w2 * RU + w3 * V / TU)``, has two more terms; this mapping
    keeps the value and relative-uncertainty terms as a drift.) Option 1 is the upper
    boundary. A rule whose state has no ``variance`` is refused at
    [`RLSSM`][rlssm.RLSSM]`(...)`.

    Notes
    -----
    Sampled parameters: ``scaler`` in (0, 10), ``phi`` in (-10, 10) (default 0). The
    bounds suit feedback in ``[0, 1]``, where ``sqrt(S)`` is at most about 1; with
    other feedback scales override them in `RLSSM`.
    """

    params = {"scaler": (0.0, 10.0), "phi": (-10.0, 10.0)}
    outputs = ("v",)
    rule_state = ("variance",)

    def __call__(
        self,
        values: Float[Array, " options"],
        scaler: Float[Array, ""],
        phi: Float[Array, ""],
        variance: Float[Array, " options"],
    ) -> dict[str, Float[Array, ""]]:
        sd = jnp.sqrt(variance)
        return {"v": scaler * (values[1] - values[0]) + phi * (sd[1] - sd[0])}
