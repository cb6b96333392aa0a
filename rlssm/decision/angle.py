"""The angle model: a diffusion between linearly collapsing bounds, exact likelihood.

The process (ssm-simulators' ``angle``): ``X(s) = x0 + v s + W(s)`` with unit noise,
start ``x0 = a (2 z - 1)``, boundaries ``+-u(s)`` with ``u(s) = a - k s`` and
``k = tan(theta)``; the observed response time is ``t + s`` at the first boundary hit.

Derivation of the density
-------------------------
Write ``g(s) = 1 - k s / a`` (so ``u(s) = a g(s)``) and ``tau(s) = s / g(s)``. If ``Y``
is a driftless Brownian motion started at ``x0``, the process ``g(s) Y(tau(s))`` is
Gaussian with mean ``x0 g(s)`` and covariance ``min(s1, s2) g(max(s1, s2))``: for
``k > 0`` the Brownian bridge from ``x0`` to 0 at the meeting time ``a / k``, for
``k < 0`` a Brownian motion with a random drift, for ``k = 0`` Brownian motion itself.
It crosses ``+-a g(s)`` exactly when ``Y`` crosses the *fixed* levels ``+-a``, so its
first-passage density is the classic one of the constant-bound diffusion evaluated at
``tau(s)``, times ``tau'(s) = 1 / g(s)^2``. On the history up to ``s`` the law of ``X``
and that of ``g Y(tau)`` are mutually absolutely continuous, with a likelihood ratio
that depends on ``X(s)`` only (Girsanov for the drift ``v``, the bridge / random-drift
Gaussian factor for ``k``); evaluated on the boundary, ``X(s) = +-a g(s)``, it is
elementary. For the boundary at distance ``w`` (``1 - z`` for the upper one, ``z`` for
the lower one, as a fraction of the gap ``A = 2a``) and drift ``v_hit`` towards it
(``v`` or ``-v``):

    log f(s) = log phi(tau / A^2; w) - 2 log A - 1.5 log g
               + A w v_hit - (v_hit + k)^2 s / 2 + A k z (1 - z),

where ``phi(u; w)`` is the zero-drift first-passage density of a unit gap. With
``k = 0`` this is the Navarro & Fuss (2009) DDM density; it agrees with Anderson's
(1960) image series for two linear boundaries (the test suite checks it against
PyDDM's implementation of that series). ``phi`` is computed in log space from five
terms of its small-time series when ``u < 0.4`` and three terms of its large-time
series otherwise: relative error below ``2e-12`` for ``w`` in ``[0.05, 0.95]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._precision import input_float_dtype as _float_dtype
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .._spec import ParamDecl
from .base import AbstractDecisionModel
from .bridge import bridge_crossing_offset, step_length

LOGP_FLOOR = -66.1
"""Log-density floor: [`logp`][rlssm.AbstractDecisionModel.logp] returns ``log(p + exp(LOGP_FLOOR))``.

HSSM's ``LOGP_LB``, and the floor of [`DDM`][rlssm.DDM]. Exactly ``LOGP_FLOOR`` where
the density is 0 (``rt <= t``; for ``theta > 0``, ``rt - t`` at or past the meeting
point ``a / tan(theta)``) or below ``exp(-400)``; smooth everywhere else.
"""

# Switch between the small-time and the large-time series of phi(u; w) (u = tau / A^2).
# At 0.4, five small-time and three large-time terms are both accurate to ~1e-12.
_U_SWITCH = 0.4
# Beyond these the density is below exp(-400) for any parameters inside the bounds, far
# under LOGP_FLOOR: such points return the floor without evaluating the series, whose
# terms (and gradients: 1/u^2, 1/g^2) would overflow as u -> 0, u -> inf or g -> 0.
_U_MAX = 200.0  # large-time decay exp(-pi^2 u / 2) ~ exp(-987)
_EXPONENT_MAX = 500.0  # small-time decay exp(-w^2 / (2u))
_LOG_2PI = math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_PI2 = math.pi**2



def _log_phi(u: Array, w: Array) -> Array:
    """Log first-passage density of a driftless unit-gap diffusion at the boundary at
    distance ``w`` from the start, at time ``u``.

    Both series are evaluated, each on ``u`` clipped into its own regime, so that the
    discarded one stays finite (with a finite gradient) and ``where`` selects cleanly.
    The selection happens before the transcendental functions where it can: one
    exponential serves as the small-time ``exp(-2 (1 - w) / u)`` and the large-time
    ``exp(-pi^2 u / 2)``, and a single log takes the selected series sum.
    """
    small_time = u < _U_SWITCH
    us = jnp.minimum(u, _U_SWITCH)
    ul = jnp.maximum(u, _U_SWITCH)
    inv_us = 1 / us
    # e1: the small-time factor exp(-2 (1 - w) / u) or the large-time decay q.
    e1 = jnp.exp(jnp.where(small_time, -2 * (1 - w) * inv_us, -0.5 * _PI2 * ul))
    # Small time (images): sum_n (w + 2n) exp(-(w + 2n)^2 / 2u), n = -2..2, with the
    # n = 0 exponent factored out; the other four factors are products of the n = -1
    # and n = 1 ones (all exponents <= 0, underflow harmless).
    e_m1 = e1
    e_p1 = e1 * jnp.exp(-4 * w * inv_us)  # exp(-2 (1 + w) / u)
    images = (
        w
        - (2 - w) * e_m1
        + (2 + w) * e_p1
        - (4 - w) * (e_m1 * e_m1) * (e_m1 * e_p1)
        + (4 + w) * (e_p1 * e_p1) * (e_m1 * e_p1)
    )
    # Large time (eigenfunctions): pi sum_n n exp(-n^2 pi^2 u / 2) sin(n pi w), n = 1..3,
    # with the n = 1 decay factored out; q^3 and q^8 are the relative decays of n = 2, 3.
    q = e1
    q3 = q * q * q
    q8 = (q3 * q3) * (q * q)
    # Computed once (see the barrier on tan in `Angle.logp`).
    sin1, cos1 = lax.optimization_barrier((jnp.sin(jnp.pi * w), jnp.cos(jnp.pi * w)))
    # sin(2x) = 2 sin x cos x, sin(3x) = sin x (3 - 4 sin^2 x).
    modes = sin1 * (1 + 4 * q3 * cos1 + 3 * q8 * (3 - 4 * sin1 * sin1))
    # (2 pi)^-1/2 u^-3/2 exp(-w^2 / 2u) images  |  pi exp(-pi^2 u / 2) modes
    total = jnp.where(small_time, images * inv_us * jnp.sqrt(inv_us), modes)
    exponent = jnp.where(
        small_time, -0.5 * _LOG_2PI - w * w * (0.5 * inv_us), _LOG_PI - 0.5 * _PI2 * ul
    )
    return exponent + jnp.log(total)


@functools.partial(jax.jit, static_argnames=("dt_max", "horizon"))
def _sample_paths(
    key: PRNGKeyArray,
    v: Array,
    a: Array,
    z: Array,
    t: Array,
    theta: Array,
    dt_max: float,
    horizon: float,
) -> tuple[Array, Array]:
    """The sampler of [`Angle`][rlssm.Angle] on broadcast arrays of one float dtype.

    Jitted at module level so that repeated eager calls reuse the compiled loop.
    """
    shape = v.shape
    dtype = v.dtype
    k = jnp.tan(theta)
    dt = jnp.asarray(dt_max, dtype=dtype)
    max_t = jnp.asarray(horizon, dtype=dtype)
    key_walk, key_time = jax.random.split(key)

    def step(xi, uni, state):
        s, x, alive, side, s_hit, h_hit, d1_hit, d2_hit = state
        u0 = a - k * s  # > 0 on live paths
        # The last step ends at the horizon, so decided paths have rt - t < max_t
        # (finished paths take dummy steps of dt, discarded, to stay NaN-free).
        h = jnp.where(alive, jnp.minimum(step_length(u0, k, dt), max_t - s), dt)
        u1 = u0 - k * h
        x1 = x + v * h + jnp.sqrt(h) * xi
        d1_up, d2_up = u0 - x, u1 - x1  # distances to the upper boundary
        d1_lo, d2_lo = u0 + x, u1 + x1  # and to the lower one
        # Probability that the bridge from x to x1 touched each (linear) boundary,
        # 1 if x1 is beyond it. One uniform decides both: the events are disjoint
        # unless p_up + p_lo > 1, which the step length makes negligible.
        p_up = jnp.exp(-2 * d1_up * jnp.maximum(d2_up, 0) / h)
        p_lo = jnp.exp(-2 * d1_lo * jnp.maximum(d2_lo, 0) / h)
        hit_up = uni < p_up
        hit_lo = (1 - uni) < p_lo
        hit_up = jnp.where(hit_up & hit_lo, d2_up <= d2_lo, hit_up)
        hit = alive & (hit_up | hit_lo)
        return (
            jnp.where(alive, s + h, s),
            jnp.where(alive, x1, x),
            alive & ~hit & (s + h < max_t),
            jnp.where(hit, jnp.where(hit_up, 1, -1).astype(jnp.int32), side),
            jnp.where(hit, s, s_hit),
            jnp.where(hit, h, h_hit),
            jnp.where(hit, jnp.where(hit_up, d1_up, d1_lo), d1_hit),
            jnp.where(hit, jnp.where(hit_up, d2_up, d2_lo), d2_hit),
        )

    def body(carry):
        i, state = carry
        k_normal, k_uniform = jax.random.split(jax.random.fold_in(key_walk, i))
        xi = jax.random.normal(k_normal, shape, dtype=dtype)
        uni = jax.random.uniform(k_uniform, shape, dtype=dtype)
        return i + 1, step(xi, uni, state)

    def running(carry):
        return jnp.any(carry[1][2])

    zero = jnp.zeros(shape, dtype=dtype)
    state = (
        zero,
        a * (2 * z - 1),
        jnp.ones(shape, dtype=bool),
        jnp.zeros(shape, dtype=jnp.int32),
        zero,
        zero + 1,
        zero + 1,
        zero + 1,
    )
    _, (_, _, _, side, s_hit, h, d1, d2) = lax.while_loop(
        running, body, (jnp.asarray(0, dtype=jnp.int32), state)
    )
    k_normal, k_uniform = jax.random.split(key_time)
    offset = bridge_crossing_offset(
        d1,
        d2,
        h,
        jax.random.normal(k_normal, shape, dtype=dtype),
        jax.random.uniform(k_uniform, shape, dtype=dtype),
    )
    decided = side != 0
    rt = jnp.where(decided, t + s_hit + offset, jnp.inf)
    return rt, side


class Angle(AbstractDecisionModel):
    """The angle model (ssm-simulators' ``angle``) with its exact likelihood.

    A unit-noise diffusion from ``a (2z - 1)`` with drift ``v`` between the boundaries
    ``+-(a - tan(theta) s)``; ``s = rt - t`` is the decision time, ``+1`` the upper
    boundary. ``theta = 0`` is the DDM with boundaries ``+-a``; ``theta < 0`` widens the
    bounds, and then some paths never decide (the densities integrate to less than 1).

    **Likelihood.** Exact: the time change ``tau = s / (1 - tan(theta) s / a)`` maps
    the collapsing-bound problem onto the constant-bound one (derivation in the
    [module docstring][rlssm.decision.angle]), whose first-passage density is summed in
    log space from five small-time or three large-time series terms (relative error
    ~1e-12). `logp` returns ``log(p + exp(LOGP_FLOOR))``, with
    [`LOGP_FLOOR`][rlssm.decision.angle.LOGP_FLOOR] = -66.1: exactly the floor, with
    zero gradient, where the density is 0 (``rt <= t``, or ``rt - t >= a / tan(theta)``
    once the bounds have met) or negligible (below ``exp(-400)``). Value and gradient
    are finite everywhere inside `bounds`.

    **Domains.** ``a > 0``, ``0 < z < 1``, ``t >= 0`` and ``-pi/2 < theta < pi/2``
    (``tan(theta)`` finite; ``v`` any real): `domains`, which ``RLSSM.loglik`` and the
    simulators check. They are wider than the default `bounds`: the derivation holds
    for any finite ``tan(theta)`` (the density integrates to 1 for ``theta`` up to
    1.57, and to the sampler's fraction of decided paths for ``theta`` down to -1.5).
    `logp` and `sample` do not check (they are traced under ``jit``); a NaN parameter
    gives a NaN log-density.

    **Sampler.** Steps of the exact Gaussian transition (constant drift, unit noise);
    a crossing between steps is detected with the exact probability that the Brownian
    bridge between the two positions touched the (linear) boundary, and its time within
    the step is drawn from that bridge's first-passage law (an inverse Gaussian in a
    transformed time). Steps are at most `dt`, ``u^2 / 16`` and (closing bounds)
    ``u / (4 tan(theta))``, where ``u`` is the bounds' half-gap: the gap then stays
    six standard deviations of a step wide, so that a path touching both boundaries
    within one step, the only event not resolved exactly, has probability below
    ``2e-9`` per step. Paths run for at most `max_t` seconds of decision time; those
    still undecided then return ``rt = inf`` and ``choice = 0`` (with
    ``theta > 0`` every path decides by ``a / tan(theta)``).

    Parameters
    ----------
    dt
        Longest step of the sampler, in seconds (default 0.1; the scheme has no
        time-discretisation bias, so this only bounds the work per step).
    max_t
        Horizon of the sampler: the longest decision time simulated, in seconds
        (default 20, ssm-simulators' ``max_t``).
    """

    dt: float = eqx.field(default=0.1, static=True)
    max_t: float = eqx.field(default=20.0, static=True)

    params: ClassVar[Mapping[str, ParamDecl]] = {
        "v": (-3.0, 3.0),
        "a": (0.3, 3.0),
        "z": (0.1, 0.9),
        "t": (0.001, 2.0),
        "theta": (-0.1, 1.3),
    }
    # theta within (-pi/2, pi/2), rounded inwards: tan(theta) finite.
    domains: ClassVar[Mapping[str, str]] = {
        "a": "(0, inf)",
        "z": "(0, 1)",
        "t": "[0, inf)",
        "theta": "(-1.5707963, 1.5707963)",
    }
    choices: ClassVar[tuple[int, ...]] = (-1, 1)

    def __check_init__(self) -> None:
        if not self.dt > 0:
            raise ValueError(f"Angle: dt must be positive, got {self.dt!r}")
        if not self.max_t >= self.dt:
            raise ValueError(f"Angle: max_t must be at least dt ({self.dt}), got {self.max_t!r}")

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        theta: RealLike,
    ) -> Float[Array, "..."]:
        dtype = _float_dtype(rt, v, a, z, t, theta)
        # The response is cast too (to the float dtype, which holds -1 and 1 exactly):
        # an integer array keeps whatever integer width the caller's numpy gave it.
        rt, choice, v, a, z, t, theta = jnp.broadcast_arrays(
            *(jnp.asarray(x, dtype=dtype) for x in (rt, choice, v, a, z, t, theta))
        )
        upper = choice > 0
        v_hit = jnp.where(upper, v, -v)  # drift towards the boundary that was hit
        w = jnp.where(upper, 1 - z, z)  # its distance from the start, per unit of gap
        # XLA treats tan as cheap and recomputes it in every fusion that reads k (a
        # dozen times in value-and-gradient); the barrier makes it computed once.
        k = lax.optimization_barrier(jnp.tan(theta))
        gap = 2 * a
        s = rt - t
        g = 1 - k * s / a
        # Where to evaluate the series: the bounds are still apart (g > 0) and u = s /
        # (g gap^2) lies where the density can exceed the floor (both tests written
        # without dividing by s or g, which may be 0).
        live = (
            (s > 0)
            & (g > 0)
            & (s < _U_MAX * g * gap**2)
            & (w * w * g * gap**2 < 2 * _EXPONENT_MAX * s)
        )
        # Elsewhere evaluate at a harmless decision time (the bounds at least half open)
        # so that the discarded branch has finite gradients: the double-where trick.
        s_safe = lax.stop_gradient(0.5 * a / (jnp.abs(k) + a))
        s = jnp.where(live, s, s_safe)
        g = 1 - k * s / a
        u = s / (g * gap**2)
        log_density = (
            _log_phi(u, w)
            - jnp.log(gap * gap * g * jnp.sqrt(g))  # A^-2 g^-3/2
            + gap * w * v_hit
            - 0.5 * (v_hit + k) ** 2 * s
            + gap * k * z * (1 - z)
        )
        floor = jnp.asarray(LOGP_FLOOR, dtype=dtype)
        out = jnp.where(live, jnp.logaddexp(log_density, floor), floor)
        # A NaN parameter fails the `live` tests and would read as the floor.
        nan_param = jnp.isnan(v) | jnp.isnan(a) | jnp.isnan(z) | jnp.isnan(t) | jnp.isnan(theta)
        return jnp.where(nan_param, jnp.asarray(jnp.nan, dtype), out)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        theta: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        dtype = _float_dtype(v, a, z, t, theta)
        v, a, z, t, theta = jnp.broadcast_arrays(
            *(jnp.asarray(x, dtype=dtype) for x in (v, a, z, t, theta))
        )
        return _sample_paths(key, v, a, z, t, theta, dt_max=self.dt, horizon=self.max_t)
