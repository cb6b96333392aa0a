"""A boundary separation that follows the options' overall value."""

import jax.numpy as jnp

from .._types import Array, Float
from .base import AbstractMapping

__all__ = ["ValueModulatedThreshold"]


class ValueModulatedThreshold(AbstractMapping):
    """Drift from the value difference; boundary separation from the mean value.

    ``v = scaler * (Q[1] - Q[0])`` and ``a = a_base * exp(a_mod * mean(Q))``

    the threshold modulation of Fontanesi, Gluth, Spektor & Rieskamp (2019), "A
    reinforcement learning diffusion decision model for value-based decisions",
    *Psychonomic Bulletin & Review* 26, 1099-1121, ``a = exp(a_fix + a_mod * mean(Q))``
    with ``a_base = exp(a_fix)``: positive by construction, equal to ``a_base`` when
    ``a_mod = 0`` or the mean value is 0. ``a_mod < 0`` lowers the boundary (faster,
    less careful decisions) for more valuable pairs of options, the effect the paper
    reports. ``mean(Q)`` is over all options (for two options, the pair's mean). ``a``
    is computed, so it leaves the model's ``param_names``. Option 1 is the upper
    boundary.

    (Fontanesi's ``rlssm`` Stan package, ``RLDDModel(threshold_modulation=True)``,
    uses a softplus link instead, ``log(1 + exp(threshold + threshold_modulation *
    mean(Q)))``.)

    Notes
    -----
    Sampled parameters: ``scaler`` in (0, 10), ``a_base`` in (0.1, 5) (default 1),
    ``a_mod`` in (-5, 5) (default 0). The bounds suit values in ``[0, 1]``; with other
    scales shrink ``a_mod``'s bounds by the values' range so that ``exp`` stays moderate.
    """

    params = {"scaler": (0.0, 10.0), "a_base": (0.1, 5.0, 1.0), "a_mod": (-5.0, 5.0)}
    # a = a_base * exp(...) is a positive boundary only for a_base > 0.
    domains = {"a_base": "(0, inf)"}
    outputs = ("v", "a")

    def __call__(
        self,
        values: Float[Array, " options"],
        scaler: Float[Array, ""],
        a_base: Float[Array, ""],
        a_mod: Float[Array, ""],
    ) -> dict[str, Float[Array, ""]]:
        return {
            "v": scaler * (values[1] - values[0]),
            "a": a_base * jnp.exp(a_mod * jnp.mean(values)),
        }
