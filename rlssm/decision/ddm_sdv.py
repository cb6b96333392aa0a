"""The drift diffusion model with across-trial drift variability ``sv``, exact likelihood."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import jax
import jax.numpy as jnp

from .._precision import input_float_dtype as _float_dtype
from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .base import AbstractDecisionModel
from .ddm import LOGP_FLOOR, DDM, ddm_draw, ddm_log_density

__all__ = ["DDMSdv"]

# Where the DDM's density at the peak drift lies within this of the floor (relative), it is taken as 0:
# only the floor remains, and nothing below divides by the vanishing p / floor ratio.
_FLOOR_MARGIN = 1e-9


@jax.jit
def _log_density_sdv(rt: Array, upper: Array, v: Array, a: Array, z: Array, t: Array, sv: Array) -> Array:
    """`DDMSdv.logp` on broadcast arrays of one float dtype.

    In the frame reflected onto the lower boundary (drift ``v'``, start ``w``), the
    density is ``p0(s) * integral of exp(-u A w - u**2 s / 2) Normal(u; v', sv) du``. The
    integrand peaks at ``u* = (v' - sv**2 A w) / q`` (``q = 1 + sv**2 s``), and the
    integral is exact: ``log p = log p_DDM(s; u*) - sv**2 (A w + v' s)**2 / (2 q**2)
    - log(q) / 2``, the DDM's density at the drift ``u*`` less a non-negative term. Written
    this way nothing underflows where ``p`` does not (the driftless ``p0`` alone can lie
    far below the floor while ``p`` does not), and ``sv = 0`` divides by nothing.
    """
    dtype = rt.dtype
    floor = jnp.asarray(LOGP_FLOOR, dtype)
    sign = jnp.where(upper, -1.0, 1.0).astype(dtype)
    v_low = sign * v
    w = jnp.where(upper, 1.0 - z, z)
    sep = 2.0 * a
    s = jnp.maximum(rt - t, 0.0)
    q = 1.0 + sv * sv * s
    peak = (v_low - sv * sv * sep * w) / q
    # log(p + e^F) of the DDM at the peak drift (back in the data's frame), and p itself.
    base = ddm_log_density(rt, upper, sign * peak, a, z, t)
    live = base - floor > _FLOOR_MARGIN
    base_live = jnp.where(live, base, floor + 1.0)
    log_p_peak = base_live + jnp.log(-jnp.expm1(floor - base_live))
    log_p = log_p_peak - sv * sv * (sep * w + v_low * s) ** 2 / (2.0 * q * q) - 0.5 * jnp.log(q)
    out = jnp.where(live, jnp.logaddexp(log_p, floor), floor)
    return jnp.where(jnp.isnan(sv), jnp.asarray(jnp.nan, dtype), out)


class DDMSdv(AbstractDecisionModel):
    """The drift diffusion model with across-trial drift variability (HSSM's ``ddm_sdv``).

    On each trial the drift is drawn from ``Normal(v, sv)`` and the process is the
    [`DDM`][rlssm.DDM]'s (same conventions: start ``a * (2z - 1)``, bounds ``+-a``, unit
    noise, response time ``t`` plus the first passage). Integrating the drift out gives a
    closed form (Blurton, Kesselmeier & Gondan 2017; HSSM's ``logp_ddm_sdv``): with
    ``s = rt - t``, ``A = 2a`` and, for a lower-boundary response, ``v' = v``, ``w = z``
    (for an upper one ``v' = -v``, ``w = 1 - z``),

    ``p = p_0(s) * exp((sv**2 A**2 w**2 - 2 A v' w - v'**2 s) / (2 (1 + sv**2 s))) / sqrt(1 + sv**2 s)``

    where ``p_0`` is the driftless DDM density (the DDM's exact series). ``sv = 0`` is the
    [`DDM`][rlssm.DDM]. A larger ``sv`` makes errors slower and the response-time
    distribution more skewed, a standard part of Ratcliff's diffusion model.

    Like the DDM, ``logp`` returns ``log(p + exp(LOGP_FLOOR))`` and is exact to rounding
    above the floor; ``sample`` draws the trial's drift, then the DDM's exact
    first-passage sample.

    Notes
    -----
    Parameters: the DDM's ``v``, ``a``, ``z``, ``t`` and ``sv >= 0`` (default bounds
    (0, 2.5), HSSM's training range for ``ddm_sdv``).

    References
    ----------
    Blurton, S. P., Kesselmeier, M., & Gondan, M. (2017). The first-passage time distribution
    for the diffusion model with variable drift. *Journal of Mathematical Psychology*, 76,
    7-12.
    """

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType({**DDM.params, "sv": (0.0, 2.5)})
    domains: ClassVar[Mapping[str, str]] = MappingProxyType({**DDM.domains, "sv": "[0, inf)"})
    choices: ClassVar[tuple[int, ...]] = DDM.choices

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        sv: RealLike,
    ) -> Float[Array, "..."]:
        dtype = _float_dtype(rt, v, a, z, t, sv)
        arrays = jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dtype) for x in (rt, v, a, z, t, sv)))
        rt, v, a, z, t, sv = arrays
        upper = jnp.broadcast_to(jnp.asarray(choice) > 0, rt.shape)
        return _log_density_sdv(rt, upper, v, a, z, t, sv)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        sv: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        dtype = _float_dtype(v, a, z, t, sv)
        v, a, z, t, sv = jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dtype) for x in (v, a, z, t, sv)))
        key_drift, key_process = jax.random.split(key)
        drift = v + sv * jax.random.normal(key_drift, v.shape, dtype=dtype)
        return ddm_draw(key_process, drift, a, z, t)

