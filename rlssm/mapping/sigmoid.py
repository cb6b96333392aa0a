"""A drift rate that saturates in the value difference."""

import jax.numpy as jnp

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["SigmoidDrift"]


class SigmoidDrift(AbstractMapping):
    """Drift as a sigmoid of the value difference, bounded by ``+-v_max``.

    ``v = 2 * v_max / (1 + exp(-v_mod * (Q[1] - Q[0]))) - v_max``

    the non-linear mapping of Fontanesi, Gluth, Spektor & Rieskamp (2019), "A
    reinforcement learning diffusion decision model for value-based decisions",
    *Psychonomic Bulletin & Review* 26, 1099-1121. It is computed as the identical
    ``v_max * tanh(v_mod * (Q[1] - Q[0]) / 2)``, which cannot overflow. Near equal values
    it is linear with slope ``v_max * v_mod / 2`` (so [`DriftScaling`][rlssm.DriftScaling]
    with ``scaler = v_max * v_mod / 2`` for small differences); large differences
    saturate at ``+-v_max``. Option 1 is the upper boundary.

    (Fontanesi's ``rlssm`` Stan package, ``RLDDModel(nonlinear_mapping=True)``, writes
    ``drift_asymptote / (1 + exp(-drift_scaling * dQ)) - drift_asymptote / 2``: its
    ``drift_asymptote`` is ``2 * v_max`` here, its ``drift_scaling`` is ``v_mod``.)

    Notes
    -----
    Sampled parameters: ``v_mod`` in (0, 20), ``v_max`` in (0, 10).
    """

    params = {"v_mod": (0.0, 20.0), "v_max": (0.0, 10.0)}
    outputs = ("v",)

    def __call__(
        self,
        values: Float[Array, " options"],
        v_mod: Float[Array, ""],
        v_max: Float[Array, ""],
    ) -> dict[str, Float[Array, ""]]:
        # 2 / (1 + exp(-x)) - 1 == tanh(x / 2)
        return {"v": v_max * jnp.tanh(0.5 * v_mod * (values[1] - values[0]))}
