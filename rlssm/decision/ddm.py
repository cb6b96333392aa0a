"""The drift diffusion model with its exact (series) likelihood and an exact sampler."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import erfcx, ndtri

from .._precision import input_float_dtype as _float_dtype
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .._spec import ParamDecl
from .base import AbstractDecisionModel

LOGP_FLOOR: float = -66.1
"""Log-density floor: ``logp`` returns ``log(p + exp(LOGP_FLOOR))``.

HSSM's ``LOGP_LB``. ``exp(LOGP_FLOOR)`` (about ``2e-29``) is a normal float32 number, so the
floor is the same in both precisions.
"""

# The density (`ddm_log_density`). Below the normalised time tt = (rt - t) / separation**2 of
# the switch the small-time (image) series is used, above it the large-time (eigenmode)
# series, each with the fewest terms that leave out less than exp(-45) of the density
# anywhere on its side (Navarro & Fuss's truncation bounds, taken relative to the density:
# see `_small_time_sum` and `_large_time_sum`): the leading image and three pairs of
# images where the start lies nearer the boundary that was hit (w <= 1/2), three pairs
# otherwise, and four eigenmodes. 0.43 balances the bounds of the last two (exp(-45.8) and
# exp(-47.7); the first is exp(-59)). Both series are then exact to rounding on their
# side of the switch, and every term costs products only (see `_value_and_partials`).
_TT_SWITCH = 0.43
_N_PAIRS = 3
_N_MODES = 4
# The distribution function used by the sampler switches series earlier, where two images
# on each side and eight modes both leave out less than exp(-62).
_TT_SWITCH_CDF = 0.2
_N_CDF_IMAGES = 2
_N_CDF_LARGE = 8
# Where the leading exponent w**2 / (2 tt) of the density exceeds this, log p < -900 (for
# w > 1e-8 and a > 1e-4): the floor alone is returned, which keeps gradients finite as rt
# approaches t from above.
_MAX_EXPONENT = 1000.0
_ROOT_STEPS = 12  # safeguarded Newton steps: 8 reach the float64 root in all our checks

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_PI2 = math.pi**2


def _series_index(start: int, stop: int, like: Array) -> Array:
    """``start, ..., stop - 1`` along a new leading axis that broadcasts against ``like``."""
    return jnp.arange(start, stop, dtype=like.dtype).reshape((-1,) + (1,) * like.ndim)


def _sin_k_pi_w(k: Array, w: Array, d: Array) -> Array:
    """``sin(k pi w)``, accurate for ``w`` near 0 and near 1 (``d = 1 - w`` given exactly)."""
    # sin(k pi w) = (-1)**(k+1) sin(k pi (1 - w)): the argument nearest 0 keeps relative accuracy.
    sign = jnp.where(k % 2 == 1, 1.0, -1.0).astype(w.dtype)
    return jnp.where(w <= 0.5, jnp.sin(k * jnp.pi * w), sign * jnp.sin(k * jnp.pi * d))


def _log_p_lower(mu: Array, w: Array, d: Array) -> Array:
    """Log-probability that the process ends at the lower boundary.

    Normalised drift ``mu`` (drift times separation), start ``w``, ``d = 1 - w``:
    ``(exp(-2 mu w) - exp(-2 mu)) / (1 - exp(-2 mu))``, written with ``expm1`` so that it
    neither overflows for large ``|mu|`` nor divides 0 by 0 at ``mu = 0``.
    """
    tiny = jnp.abs(mu) < jnp.finfo(mu.dtype).tiny
    abs_mu = jnp.where(tiny, 1.0, jnp.abs(mu))
    log_p = (
        -2.0 * jnp.maximum(mu, 0.0) * w
        + jnp.log(-jnp.expm1(-2.0 * abs_mu * d))
        - jnp.log(-jnp.expm1(-2.0 * abs_mu))
    )
    return jnp.where(tiny, jnp.log(d), log_p)


def _log_ndtr(x: Array) -> Array:
    """``log Phi(x)``, through one scaled complementary error function.

    ``Phi(x) = erfcx(|x| / sqrt 2) exp(-x**2 / 2) / 2`` below 0 and one minus that above:
    the scaled function keeps the far lower tail, and a single special function (against
    the several branches of ``jax.scipy.special.log_ndtr``) keeps the sampler's compile
    and run times down.
    """
    half_tail = 0.5 * erfcx(jnp.abs(x) / math.sqrt(2.0))
    log_lower = jnp.log(half_tail) - x**2 / 2.0
    return jnp.where(x < 0, log_lower, jnp.log1p(-jnp.exp(log_lower)))


def _cdf_small(tt: Array, w: Array, mu: Array, log_p: Array) -> Array:
    """``P(T <= tt, lower) / P(lower)`` from the image series, for ``tt <= _TT_SWITCH_CDF``.

    Each image term of the density, ``x / sqrt(2 pi s**3) exp(-x**2 / (2 s) - mu w -
    mu**2 s / 2)`` with ``x = w + 2k``, is an exponentially tilted first-passage density
    of level ``|x|`` and integrates in closed form to two normal tail probabilities,
    taken here in logs. The images left out (``|x| > 5``) contribute below
    ``Phi(-5 / sqrt(0.2)) < exp(-62)``.
    """
    k = _series_index(-_N_CDF_IMAGES, _N_CDF_IMAGES + 1, tt)
    x = w + 2.0 * k
    # x > 0: exp(mu (x - w)) Phi(-(x + mu tt)/sqrt tt) + exp(-mu (x + w)) Phi(-(x - mu tt)/sqrt tt);
    # x < 0: minus the same with Phi(-.) replaced by Phi(+.), i.e. 1 - Phi(-.).
    sign = jnp.where(x > 0, 1.0, -1.0).astype(tt.dtype)
    offset = jnp.stack([mu * (x - w), -mu * (x + w)])
    argument = jnp.stack([x + mu * tt, x - mu * tt]) * (-sign / jnp.sqrt(tt))
    terms = jnp.exp(offset + _log_ndtr(argument) - log_p)
    return jnp.sum(sign * (terms[0] + terms[1]), axis=0)


def _eigenmode_factors(
    w: Array, d: Array, mu: Array, log_p: Array
) -> tuple[Array, Array, Array]:
    """Time-independent factors of the large-time series, hoisted out of the root search.

    The survival function of lower-boundary hits, divided by their probability, is
    ``exp(log_scale - rate[0] tt) * sum_k weight_k exp(-(rate_k - rate[0]) tt)``: the
    large-time density ``pi exp(-mu w) sum_k k sin(k pi w) exp(-rate_k tt)``, with
    ``rate_k = (mu**2 + k**2 pi**2) / 2``, integrated from ``tt``.
    """
    k = _series_index(1, _N_CDF_LARGE + 1, w)
    rate = (mu**2 + k**2 * _PI2) / 2.0
    weight = k * _sin_k_pi_w(k, w, d) * (rate[0] / rate)
    log_scale = _LOG_PI - mu * w - jnp.log(rate[0]) - log_p
    return log_scale, weight, rate


def _conditional_distribution(
    tt: Array, w: Array, mu: Array, log_p: Array, factors: tuple[Array, Array, Array]
) -> tuple[Array, Array, Array]:
    """Distribution function, survival function and density of ``tt`` given the lower boundary.

    The small-time image series below ``_TT_SWITCH_CDF``, the eigenmode series above.
    """
    small = tt < _TT_SWITCH_CDF
    t_small = jnp.where(small, tt, _TT_SWITCH_CDF / 2.0)
    t_large = jnp.where(small, 2.0 * _TT_SWITCH_CDF, tt)

    cdf_small = _cdf_small(t_small, w, mu, log_p)
    x = w + 2.0 * _series_index(-_N_CDF_IMAGES, _N_CDF_IMAGES + 1, t_small)
    log_image = (
        jnp.log(jnp.abs(x))
        - x**2 / (2.0 * t_small)
        - 1.5 * jnp.log(t_small)
        - _LOG_SQRT_2PI
        - mu * w
        - mu**2 * t_small / 2.0
        - log_p
    )
    density_small = jnp.sum(jnp.sign(x) * jnp.exp(log_image), axis=0)

    log_scale, weight, rate = factors
    decay = weight * jnp.exp(-(rate - rate[0]) * t_large)
    scale = jnp.exp(log_scale - rate[0] * t_large)
    surv_large = scale * jnp.sum(decay, axis=0)
    density_large = scale * jnp.sum(rate * decay, axis=0)

    cdf = jnp.where(small, cdf_small, 1.0 - surv_large)
    surv = jnp.where(small, 1.0 - cdf_small, surv_large)
    return cdf, surv, jnp.where(small, density_small, density_large)


def _sin_cos_pi(r: Array) -> tuple[Array, Array]:
    """``sin(pi r)`` and ``cos(pi r)`` for ``0 <= r <= 1/2``, as Taylor polynomials.

    XLA's ``sin`` and ``cos`` reduce arguments of any size and cost, on a CPU, several
    times an exponential each; on this quarter period the Taylor series, cut where its next
    term is below the dtype's rounding (``x**23 / 23! < 2e-18`` and ``x**22 / 22! < 2e-17``
    at ``x = pi / 2`` in float64, ``x**15 / 15!`` and ``x**14 / 14!`` below ``1e-8`` in
    float32), is a few multiplications, and the sine keeps its relative accuracy near 0.
    """
    n_terms = 11 if r.dtype == jnp.float64 else 7
    x = jnp.pi * r
    x2 = x * x
    sin_over_x = jnp.full_like(x, (-1) ** (n_terms - 1) / math.factorial(2 * n_terms - 1))
    cos = jnp.full_like(x, (-1) ** (n_terms - 1) / math.factorial(2 * n_terms - 2))
    for i in reversed(range(n_terms - 1)):
        sin_over_x = (-1) ** i / math.factorial(2 * i + 1) + x2 * sin_over_x
        cos = (-1) ** i / math.factorial(2 * i) + x2 * cos
    return x * sin_over_x, cos


def _small_time_sum(
    t1: Array, t2: Array, inv_tt: Array, w: Array, d: Array
) -> tuple[Array, Array, Array]:
    """The small-time (image) sum ``S``, with ``dS/dtt`` and ``dS/dw``.

    The zero-drift, unit-separation density of lower-boundary hits from start ``w``
    (``d = 1 - w``) is ``(2 pi tt**3)**-1/2 exp(-w**2 / (2 tt)) S`` with
    ``S = sum_k (w + 2k) exp(-2k (k + w) / tt)`` over all integers ``k`` (Navarro & Fuss's
    small-time series). Images are summed in pairs whose difference is taken with
    ``expm1``, so that nothing cancels badly near either boundary; pair ``i = 1, 2, 3`` is
    ``r (alpha expm1(-n c / tt) + beta)``:

    - ``w <= 1/2``: images ``i`` and ``-i``, ``r = exp(-2i (i - w) / tt)``,
      ``alpha = 2i + w``, ``n = i``, ``c = 4w``, ``beta = 2w``, added to the leading image
      ``w``. Each pair is negative; ``S >= 0.7 w`` for ``tt < 0.43``, and the first pair
      left out is below ``(2k + 1/2) (4k / tt) exp(-2k (k - 1/2) / tt)`` times ``w``
      (``k = 4``): ``exp(-59)`` of ``S``.
    - ``w > 1/2``: images ``j`` and ``-j - 1`` with ``j = i - 1``, ``m = 2j + 1``,
      ``r = exp(-2j (j + w) / tt)``, ``alpha = -(m + d)``, ``n = m``, ``c = 2d``,
      ``beta = -2d``. Every pair is positive, and the first left out (``j = 3``) is below
      ``exp(-45.8)`` of the first.

    ``t1`` is ``exp(-2d / tt)`` where ``w <= 1/2`` and ``exp(-2 (1 + w) / tt)`` otherwise,
    ``t2`` is ``expm1(-c / tt)``. Every ``r`` is ``t1**j exp(-4 / tt)**(j (j - 1) / 2)``
    and every ``expm1(-n c / tt)`` is ``t2 (1 + x + ... + x**(n - 1))`` with ``x = 1 + t2``,
    products of factors at most 1, so that the series costs these two exponentials.
    """
    near_0 = w <= 0.5
    x = 1.0 + t2  # exp(-c / tt)
    decay = t1 * jnp.where(near_0, t1 * x, x)  # exp(-4 / tt) in both cases
    # geometric[n - 1] = 1 + x + ... + x**(n - 1), n = 1 .. 2 _N_PAIRS - 1.
    geometric, power = [jnp.ones_like(x)], x
    for _ in range(2 * _N_PAIRS - 2):
        geometric.append(geometric[-1] + power)
        power = power * x

    sigma = jnp.where(near_0, 1.0, -1.0).astype(w.dtype)
    c = jnp.where(near_0, 4.0 * w, 2.0 * d)
    c_w = jnp.where(near_0, 4.0, -2.0).astype(w.dtype)  # dc / dw
    beta = jnp.where(near_0, 2.0 * w, -2.0 * d)
    total = jnp.where(near_0, w, 0.0)
    total_tt = jnp.zeros_like(w)  # dS / dtt, times tt**2
    total_w = jnp.where(near_0, 1.0, 0.0).astype(w.dtype)
    chain_prev, step = jnp.ones_like(w), t1  # t1**i exp(-4 / tt)**(i (i - 1) / 2), i = 0, 1, ...
    for i in range(1, _N_PAIRS + 1):
        chain = chain_prev * step
        step = step * decay
        ratio = jnp.where(near_0, chain, chain_prev)
        j = jnp.where(near_0, float(i), i - 1.0).astype(w.dtype)  # the ratio's index
        n = jnp.where(near_0, float(i), 2.0 * i - 1.0).astype(w.dtype)
        em1 = t2 * jnp.where(near_0, geometric[i - 1], geometric[2 * i - 2])
        alpha = jnp.where(near_0, 2.0 * i + w, 1.0 - 2.0 * i - d)
        pair = alpha * em1 + beta
        x_n = 1.0 + em1  # exp(-n c / tt)
        total = total + ratio * pair
        total_tt = total_tt + ratio * (2.0 * j * (j - sigma * w) * pair + n * c * alpha * x_n)
        total_w = total_w + ratio * (
            2.0 * j * sigma * inv_tt * pair + 2.0 + em1 - c_w * n * inv_tt * alpha * x_n
        )
        chain_prev = chain
    return total, total_tt * (inv_tt * inv_tt), total_w


def _large_time_sum(q: Array, sin: Array, cos: Array) -> tuple[Array, Array, Array]:
    """The large-time (eigenmode) sum ``Y``, with ``dY/dtt`` and ``dY/dw``.

    The same density is ``pi exp(-pi**2 tt / 2) Y`` with
    ``Y = sum_k k exp(-(k**2 - 1) pi**2 tt / 2) sin(k pi w)``, ``k = 1..4`` (Navarro &
    Fuss's large-time series). ``q`` is ``exp(-pi**2 tt / 2)``, ``sin`` and ``cos`` those
    of ``pi w``; ``sin(k pi w) = sin(pi w) U_{k-1}(cos(pi w))`` (Chebyshev polynomials of
    the second kind, ``|U_{k-1}| <= k``), so that ``Y = sin(pi w) M`` with
    ``M = 1 + sum_{k>=2} k q**(k**2 - 1) U_{k-1}``: no further transcendental function.
    For ``tt >= 0.43`` the terms after the first are below ``7e-3`` of it (no
    cancellation) and those left out below ``sum_{k>=5} k**2 q**(k**2 - 1) < exp(-47.7)``.
    """
    m = jnp.ones_like(q)
    m_tt = jnp.zeros_like(q)
    m_cos = jnp.zeros_like(q)
    u_prev, u = jnp.ones_like(q), 2.0 * cos  # U_0, U_1
    du_prev, du = jnp.zeros_like(q), jnp.full_like(q, 2.0)  # their derivatives in cos
    q_sq = q * q
    power, step = q_sq * q, q_sq * q_sq * q  # q**(k**2 - 1) and q**(2k + 1), k = 2
    for k in range(2, _N_MODES + 1):
        m = m + k * power * u
        m_tt = m_tt - (k * (k * k - 1.0) * _PI2 / 2.0) * power * u
        m_cos = m_cos + k * power * du
        u_prev, u = u, 2.0 * cos * u - u_prev
        du_prev, du = du, 2.0 * u_prev + 2.0 * cos * du - du_prev
        power = power * step
        step = step * q_sq
    return sin * m, sin * m_tt, jnp.pi * (cos * m - sin * sin * m_cos)


def _value_and_partials(
    rt: Array, upper: Array, v: Array, a: Array, z: Array, t: Array, *, partials: bool
) -> tuple[Array, tuple[Array, ...]]:
    """`DDM.logp`, and with ``partials`` its partial derivatives in ``rt``, ``v``, ``a``, ``z``.

    (The partial in ``t`` is minus that in ``rt``.) The derivatives are written out rather
    than left to autodiff: the sums above return their own, and value and partials come
    from one elementwise program with four transcendental functions (the two exponentials
    of the series, one exponential and one logarithm for the floor) and four divisions.

    The log-density is ``log T + E``: with the small-time series
    ``T = (2 pi)**-1/2 A S s**-3/2`` and ``E = -(A w)**2 / (2 s) - v' A w - v'**2 s / 2``,
    with the large-time series ``T = pi Y / A**2`` and
    ``E = -pi**2 s / (2 A**2) - v' A w - v'**2 s / 2`` (``s = rt - t``, ``A = 2a``,
    ``tt = s / A**2``, ``v'`` and ``w`` the drift and start reflected onto the lower
    boundary). ``E <= 0`` on both sides of the switch (for small times it is
    ``-(A w + v' s)**2 / (2 s)``), so the floor enters as
    ``log(T e**E + e**F) = E + log(T + e**(F - E))`` for ``E >= F`` and
    ``F + log(1 + T e**(E - F))`` otherwise: one exponential of ``-|E - F|``, which cannot
    overflow, and one logarithm.

    XLA fuses elementwise code greedily and recomputes inside each fusion whatever it
    reads but does not find in memory: the transcendental functions and the series would
    be evaluated once for every array that reads them. Optimization barriers make them
    computed once: the transcendental functions as separate arrays, and the three sums,
    which share most of their work, as one stacked array (one fusion); on a 2-core CPU
    this took about a quarter off value and gradient against the same formulas without
    barriers.
    """
    dtype = rt.dtype
    sign = jnp.where(upper, -1.0, 1.0).astype(dtype)  # d v' / d v and d w / d z
    # Reflect upper-boundary responses onto the lower boundary. Both w and 1 - w come
    # from z directly, so the one near 0 carries full relative precision.
    v_low = sign * v
    w = jnp.where(upper, 1.0 - z, z)
    d = jnp.where(upper, z, 1.0 - z)
    sep = 2.0 * a
    omega = w * sep
    s = rt - t
    # The density is below exp(-900) where w**2 / (2 tt) > _MAX_EXPONENT (for w > 1e-8
    # and a > 1e-4): the floor alone is returned there, and for rt <= t. Elsewhere the
    # formulas get a harmless time (tt = 1), so that nothing discarded is inf or NaN.
    live = (s > 0) & (omega * omega <= 2.0 * _MAX_EXPONENT * s)
    s = jnp.where(live, s, sep * sep)
    inv_s = 1.0 / s
    inv_sep = 1.0 / sep
    tt = s * inv_sep * inv_sep
    inv_tt = sep * sep * inv_s
    small = tt < _TT_SWITCH
    rho = omega * inv_s
    exponent = -v_low * omega - 0.5 * v_low * v_low * s + jnp.where(
        small, -0.5 * omega * rho, -0.5 * _PI2 * tt
    )
    floor = jnp.asarray(LOGP_FLOOR, dtype=dtype)
    above = exponent >= floor

    # Each series is evaluated on times inside its own range (the other's results are
    # discarded); one exponential serves as the small-time exp(-2d / tt) or
    # exp(-2 (1 + w) / tt) and the large-time exp(-pi**2 tt / 2).
    inv_ts = jnp.maximum(inv_tt, 1.0 / _TT_SWITCH)
    near_0 = w <= 0.5
    t1_arg = jnp.where(
        small,
        jnp.where(near_0, -2.0 * d, -2.0 * (1.0 + w)) * inv_ts,
        -0.5 * _PI2 * jnp.maximum(tt, _TT_SWITCH),
    )
    t2_arg = -jnp.where(near_0, 4.0 * w, 2.0 * d) * inv_ts
    sin_cos = _sin_cos_pi(jnp.minimum(w, d))  # sin(pi w) = sin(pi d): the smaller argument
    t1, t2, h, sin_r, cos_r = lax.optimization_barrier(
        (jnp.exp(t1_arg), jnp.expm1(t2_arg), jnp.exp(-jnp.abs(exponent - floor)), *sin_cos)
    )
    sum_small, small_tt, small_w = _small_time_sum(t1, t2, inv_ts, w, d)
    sum_large, large_tt, large_w = _large_time_sum(t1, sin_r, jnp.where(near_0, cos_r, -cos_r))
    if partials:
        series, series_tt, series_w = lax.optimization_barrier(
            jnp.stack(
                [
                    jnp.where(small, sum_small, sum_large),
                    jnp.where(small, small_tt, large_tt),
                    jnp.where(small, small_w, large_w),
                ]
            )
        )
    else:
        series = jnp.where(small, sum_small, sum_large)

    total = jnp.where(
        small,
        math.exp(-_LOG_SQRT_2PI) * ((series * sep) * inv_s) * jnp.sqrt(inv_s),
        math.pi * series * inv_sep * inv_sep,
    )
    inside = jnp.where(above, total + h, 1.0 + total * h)
    out = jnp.where(live, jnp.where(above, exponent, floor) + jnp.log(inside), floor)
    # A NaN parameter fails the `live` test and would read as the floor.
    nan_param = jnp.isnan(v) | jnp.isnan(a) | jnp.isnan(z) | jnp.isnan(t)
    nan = jnp.asarray(jnp.nan, dtype)
    out = jnp.where(nan_param, nan, out)
    if not partials:
        return out, ()

    # d log p / d(s, A, w, v'), log T's part through the sums' logarithmic derivatives.
    inv_series = 1.0 / series
    log_series_tt = series_tt * inv_series
    grad_s = inv_sep * inv_sep * log_series_tt - 0.5 * v_low * v_low + jnp.where(
        small, 0.5 * rho * rho - 1.5 * inv_s, -0.5 * _PI2 * inv_sep * inv_sep
    )
    grad_sep = (
        inv_sep * (jnp.where(small, 1.0, -2.0) - 2.0 * tt * log_series_tt)
        - v_low * w
        + jnp.where(small, -w * rho, _PI2 * tt * inv_sep)
    )
    grad_w = series_w * inv_series - v_low * sep - jnp.where(small, sep * rho, 0.0)
    grad_v = -omega - v_low * s
    # d log(p + e**F) = p / (p + e**F) d log p
    weight = jnp.where(live, jnp.where(above, total, total * h) / inside, 0.0)

    def partial(g: Array) -> Array:
        return jnp.where(nan_param, nan, weight * g)

    out, *grads = jnp.stack(
        [out, partial(grad_s), partial(sign * grad_v), partial(2.0 * grad_sep), partial(sign * grad_w)]
    )
    return out, tuple(grads)


@jax.custom_jvp
def _log_density_core(rt: Array, upper: Array, v: Array, a: Array, z: Array, t: Array) -> Array:
    """`DDM.logp` on broadcast arrays of one float dtype; derivatives from `_value_and_partials`."""
    return _value_and_partials(rt, upper, v, a, z, t, partials=False)[0]


@_log_density_core.defjvp
def _log_density_jvp(
    primals: tuple[Array, ...], tangents: tuple[Array, ...]
) -> tuple[Array, Array]:
    rt, upper, v, a, z, t = primals
    d_rt, _, d_v, d_a, d_z, d_t = tangents  # `upper` is boolean: no tangent
    out, (p_rt, p_v, p_a, p_z) = _value_and_partials(rt, upper, v, a, z, t, partials=True)
    return out, p_rt * (d_rt - d_t) + p_v * d_v + p_a * d_a + p_z * d_z


# Jitted on its own so that eager calls of `DDM.logp` compile once per shape, not op by op.
@jax.jit
def ddm_log_density(rt: Array, upper: Array, v: Array, a: Array, z: Array, t: Array) -> Array:
    """`DDM.logp` on arrays of one float dtype, ``upper`` marking upper-boundary responses."""
    return _log_density_core(*jnp.broadcast_arrays(rt, upper, v, a, z, t))


def _first_passage_quantile(
    target: Array, w: Array, d: Array, mu: Array, log_p: Array, n_steps: int
) -> Array:
    """Normalised time ``tt`` with ``P(T <= tt | lower) = target``.

    Newton's method on ``ndtri(P(T <= tt | lower)) = ndtri(target)`` in ``log tt``,
    safeguarded by bisection (Press et al.'s ``rtsafe``). The probit scale makes the
    equation nearly linear in both the small-time and the strong-drift regimes, so that
    Newton's steps are taken almost from the start; a step that leaves the current
    bracket, or fails to halve the step before last, is replaced by a bisection.
    """
    factors = _eigenmode_factors(w, d, mu, log_p)
    probit_target = ndtri(target)
    tolerance = jnp.sqrt(jnp.finfo(w.dtype).eps)

    def probit_and_slope(y: Array) -> tuple[Array, Array]:
        tt = jnp.exp(y)
        cdf, surv, density = _conditional_distribution(tt, w, mu, log_p, factors)
        # The smaller of the two tails carries the precision.
        lower_half = cdf < 0.5
        probit = jnp.where(lower_half, 1.0, -1.0) * ndtri(jnp.where(lower_half, cdf, surv))
        return probit, tt * density * jnp.exp(probit**2 / 2.0 + _LOG_SQRT_2PI)

    # Bracket in log time: below w**2 / 400 the conditional distribution function is
    # under exp(-190); above (60 + 2|mu|) / lam_1 the survival function is under
    # exp(-60 - |mu|), its prefactor being at most about exp(|mu|) (lam_1 = (mu**2 + pi**2) / 2).
    lo = jnp.log(w**2 / 400.0)
    hi = jnp.log((60.0 + 2.0 * jnp.abs(mu)) / ((mu**2 + _PI2) / 2.0))
    y = (lo + hi) / 2.0

    def step(_: Array, state: tuple[Array, Array, Array, Array, Array]) -> tuple[Array, ...]:
        lo, hi, y, step_last, step_before = state
        probit, slope = probit_and_slope(y)
        below = probit < probit_target
        lo, hi = jnp.where(below, y, lo), jnp.where(below, hi, y)
        newton = y - (probit - probit_target) / slope
        # Comparisons with NaN are false: a NaN step (0 / 0 in a far tail) bisects. Once
        # the step is within sqrt(eps), the root is as good as found: rounding noise in the
        # distribution function must not then force a bisection of a bracket that
        # Newton's one-sided approach has left wide.
        size = jnp.abs(newton - y)
        converged = size <= tolerance * (1.0 + jnp.abs(y))
        in_bracket = (newton > lo) & (newton < hi)
        use_newton = in_bracket & (converged | (size < step_before / 2.0))
        y_next = jnp.where(use_newton, newton, jnp.where(converged, y, (lo + hi) / 2.0))
        return lo, hi, y_next, jnp.abs(y_next - y), step_last

    state = (lo, hi, y, hi - lo, hi - lo)
    return jnp.exp(jax.lax.fori_loop(0, n_steps, step, state)[2])


# Jitted on its own so that eager calls of `DDM.sample` compile once per shape.
@jax.jit
def ddm_draw(key: PRNGKeyArray, v: Array, a: Array, z: Array, t: Array) -> tuple[Array, Array]:
    """`DDM.sample` on broadcast arrays of one float dtype."""
    dtype = v.dtype
    key_choice, key_time = jax.random.split(key)
    sep = 2.0 * a

    log_p_upper = _log_p_lower(-v * sep, 1.0 - z, z)
    u_choice = jax.random.uniform(key_choice, v.shape, dtype=dtype)
    upper = jnp.log(u_choice) < log_p_upper

    # Reflect onto the lower boundary, as in logp.
    mu = jnp.where(upper, -v, v) * sep
    w = jnp.where(upper, 1.0 - z, z)
    d = jnp.where(upper, z, 1.0 - z)
    log_p = jnp.where(upper, log_p_upper, _log_p_lower(mu, w, d))
    target = jax.random.uniform(key_time, v.shape, dtype=dtype)

    tt = _first_passage_quantile(target, w, d, mu, log_p, _ROOT_STEPS)
    rt = t + tt * sep**2
    choice = jnp.where(upper, 1, -1).astype(jnp.int32)
    return rt, choice


class DDM(AbstractDecisionModel):
    """The drift diffusion model (Wiener first-passage times), with an exact likelihood.

    Conventions are ssm-simulators' ``ddm`` and HSSM's built-in ``ddm`` (HSSM pairs its
    analytical likelihood with that simulator): the evidence starts at ``a * (2z - 1)``,
    moves as ``dX = v ds + dW`` (unit noise) and stops on reaching ``+a`` (response
    ``+1``) or ``-a`` (response ``-1``); the response time is that first-passage time plus
    ``t``. So ``a`` is *half* the boundary separation ``A = 2a`` (HSSM's ``logp_ddm``
    doubles ``a`` before applying Navarro & Fuss's formulas, which are written for the
    separation), ``z`` is the start as a fraction of the separation above the lower
    boundary, and ``v > 0`` favours the upper boundary. ``choice > 0`` is read as the
    upper boundary, anything else as the lower one.

    With ``s = rt - t``, ``tau = s / A**2`` and, for a lower-boundary response,
    ``v' = v``, ``w = z`` (for an upper one ``v' = -v``, ``w = 1 - z``), the density is
    ``p = A**-2 * exp(-v' A w - v'**2 s / 2) * f(tau | w)``, where ``f`` is the zero-drift,
    unit-separation first-passage density (Navarro & Fuss, 2009). ``f`` is summed with
    the small-time (image) series for ``tau < 0.43`` and the large-time (eigenmode) series
    otherwise, each trial with the series that needs fewer terms there, and each series
    with the fewest terms that its error bound (Navarro & Fuss's, taken relative to the
    density) puts below ``exp(-45)`` anywhere on its side: the leading image and three
    pairs of images, or four eigenmodes. Images are paired so that nothing underflows or
    cancels catastrophically, every term is a product of two exponentials per trial, and
    the gradient is written out with the series rather than left to autodiff. In
    float64 the result is exact to rounding error (within 1e-12 of HSSM's ``logp_ddm``
    wherever HSSM's own floor is inactive, and within ``1e-12 * max(1, |log p|)`` of the
    earlier implementation that summed six image pairs or ten eigenmodes on every trial).

    **Domains.** ``a > 0``, ``0 < z < 1``, ``t >= 0`` (``v`` any real): `domains`,
    which ``RLSSM.loglik`` and the simulators check (the default `bounds` are the same
    intervals, with ``t = 0`` left out). `logp` and `sample` do not check (they are
    traced under ``jit``): outside the domains their values are meaningless (NaN for
    ``a <= 0`` or ``z`` beyond [0, 1], the floor at ``z = 0`` or 1, a density shifted
    before time 0 for ``t < 0``); a NaN parameter gives a NaN log-density.

    ``logp`` returns ``log(p + exp(LOGP_FLOOR))``, ``LOGP_FLOOR = -66.1`` being HSSM's
    floor: exactly ``LOGP_FLOOR`` where ``rt <= t`` (and where the leading exponent
    ``w**2 / (2 tau)`` exceeds 1000, where ``p < exp(-900)`` for any ``z * a`` above
    1e-8 and ``a`` above 1e-4), and otherwise within
    ``exp(LOGP_FLOOR) / p`` (relative) of the exact density. The floor is smooth: the
    log-density and its gradients are finite and continuous in ``rt`` and in every
    parameter inside ``bounds`` (in float32, for ``z * a`` and ``(1 - z) * a`` above
    about 1e-15). Like HSSM's floor, it makes the density integrate to slightly more
    than 1 over an unbounded time range; over any realistic range the excess is below
    1e-27.

    ``sample`` is exact (inverse-transform sampling): the boundary is drawn from its
    closed-form probability, then the decision time by solving
    ``P(T <= tau | boundary) = U`` for a uniform ``U``, with the closed-form
    distribution function of that boundary's first-passage time (an image series of
    normal tail probabilities for small times, as in Blurton, Kesselmeier & Gondan, 2012,
    and an eigenmode series for large ones) and 12 steps of Newton's method in
    ``log tau``, safeguarded by bisection. In float64 the distribution function at the
    returned time matches ``U`` to about 1e-14 (1e-9 with ``|v| * A`` up to 100 and
    ``z`` within 1e-4 of a boundary); in float32 to about 2e-6, but only to about 1e-3
    where the start lies within about 1e-3 of the other boundary and a strong drift
    points towards it (the image terms cancel there). There is no time step and
    no horizon: every draw is finite and ``choice`` is always -1 or +1.

    References
    ----------
    Navarro, D. J., & Fuss, I. G. (2009). Fast and accurate calculations for first-passage
    times in Wiener diffusion models. *Journal of Mathematical Psychology*, 53, 222-230.

    Blurton, S. P., Kesselmeier, M., & Gondan, M. (2012). Fast and accurate calculations
    for cumulative first-passage time distributions in Wiener diffusion models. *Journal
    of Mathematical Psychology*, 56, 470-475.
    """

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType(
        {
            "v": (-math.inf, math.inf),
            "a": (0.0, math.inf),
            "z": (0.0, 1.0),
            "t": (0.0, math.inf),
        }
    )
    domains: ClassVar[Mapping[str, str]] = MappingProxyType({"a": "(0, inf)", "z": "(0, 1)", "t": "[0, inf)"})
    choices: ClassVar[tuple[int, ...]] = (-1, 1)

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
    ) -> Float[Array, "..."]:
        dtype = _float_dtype(rt, v, a, z, t)
        rt, v, a, z, t = (jnp.asarray(x, dtype=dtype) for x in (rt, v, a, z, t))
        return ddm_log_density(rt, jnp.asarray(choice) > 0, v, a, z, t)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        dtype = _float_dtype(v, a, z, t)
        v, a, z, t = jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dtype) for x in (v, a, z, t)))
        return ddm_draw(key, v, a, z, t)
