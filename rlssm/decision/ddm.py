"""The drift diffusion model with its exact (series) likelihood and an exact sampler."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import jax
import jax.numpy as jnp
from jax.scipy.special import erfc, erfcx

from .._types import Array, Bounds, Float, Int, PRNGKeyArray, RealLike
from .base import AbstractDecisionModel

LOGP_FLOOR: float = -66.1
"""Log-density floor: ``logp`` returns ``log(p + exp(LOGP_FLOOR))``.

HSSM's ``LOGP_LB``. ``exp(LOGP_FLOOR)`` (about ``2e-29``) is a normal float32 number, so the
floor is the same in both precisions.
"""

# Normalised time (time / separation**2) below which the small-time series is used. At 0.5
# the truncation error of either series, with the term counts below, is below exp(-48)
# relative, and every term of both series is positive (see the helpers), so there is no
# cancellation on either side of the switch.
_TT_SWITCH = 0.5
_N_SMALL = 6  # image pairs of the small-time density series (next one ~ exp(-4*7*6))
_N_LARGE = 10  # eigenmodes of the large-time series (next one ~ exp(-120 * pi**2 / 4))
# The distribution function used by the sampler switches series earlier, where two images
# on each side and eight modes both leave out less than exp(-62).
_TT_SWITCH_CDF = 0.2
_N_CDF_IMAGES = 2
_N_CDF_LARGE = 8
# Where the leading exponent w**2 / (2 tt) of the density exceeds this, log p < -900: the
# floor alone is returned, which keeps gradients finite as rt approaches t from above.
_MAX_EXPONENT = 1000.0
_ROOT_STEPS = 40

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_PI2 = math.pi**2


def _float_dtype(*xs: object) -> jnp.dtype:
    """The float dtype in which the arguments are computed (default float when none is)."""
    dtype = jnp.result_type(*xs)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return jax.dtypes.canonicalize_dtype(dtype)


def _sin_k_pi_w(k: Array, w: Array, d: Array) -> Array:
    """``sin(k pi w)``, accurate for ``w`` near 0 and near 1 (``d = 1 - w`` given exactly)."""
    # sin(k pi w) = (-1)**(k+1) sin(k pi (1 - w)): the argument nearest 0 keeps relative accuracy.
    sign = jnp.where(k % 2 == 1, 1.0, -1.0).astype(w.dtype)
    return jnp.where(w <= 0.5, jnp.sin(k * jnp.pi * w), sign * jnp.sin(k * jnp.pi * d))


def _log_fpt_small(tt: Array, w: Array, d: Array) -> Array:
    """Small-time series of the log-density of lower-boundary hits, ``tt <= _TT_SWITCH``.

    Zero drift, boundaries at 0 and 1, start ``w`` (``d = 1 - w``). The image series
    ``(2 pi tt**3)**-1/2 sum_k (w + 2k) exp(-(w + 2k)**2 / (2 tt))`` is summed in pairs of
    images whose difference is computed with ``expm1`` and scaled by the leading
    ``exp(-w**2 / (2 tt))``, so that it neither underflows for small ``tt`` nor loses
    digits to cancellation near ``w = 0`` (pairs ``k, -k``) or ``w = 1`` (pairs
    ``j, -j - 1``).
    """
    k = jnp.arange(1, _N_SMALL + 1, dtype=tt.dtype)[:, None]
    # w <= 0.5: w minus the (positive) pairs k, -k.
    x = 4.0 * k * w / tt
    pairs_near_0 = jnp.exp(-2.0 * k * (k - w) / tt) * (-(2.0 * k + w) * jnp.expm1(-x) - 2.0 * w)
    sum_near_0 = w - jnp.sum(pairs_near_0, axis=0)
    # w > 0.5: the (positive) pairs j, -j - 1, with m = 2j + 1.
    m = 2.0 * jnp.arange(0, _N_SMALL + 1, dtype=tt.dtype)[:, None] + 1.0
    y = 2.0 * m * d / tt
    pairs_near_1 = jnp.exp(-(m - 1.0) * (m + 1.0 - 2.0 * d) / (2.0 * tt)) * (
        -(m - d) * jnp.expm1(-y) - 2.0 * d * jnp.exp(-y)
    )
    sum_near_1 = jnp.sum(pairs_near_1, axis=0)
    total = jnp.where(w <= 0.5, sum_near_0, sum_near_1)
    return jnp.log(total) - w**2 / (2.0 * tt) - 1.5 * jnp.log(tt) - _LOG_SQRT_2PI


def _log_fpt_large(tt: Array, w: Array, d: Array) -> Array:
    """Large-time series of the same log-density, ``tt >= _TT_SWITCH``.

    ``pi sum_k k exp(-k**2 pi**2 tt / 2) sin(k pi w)``, scaled by its first mode. Every
    term after the first is at most ``k**2 exp(-(k**2 - 1) pi**2 tt / 2)`` times the
    first, so the sum is positive and free of cancellation for ``tt >= 0.5``.
    """
    k = jnp.arange(1, _N_LARGE + 1, dtype=tt.dtype)[:, None]
    terms = k * jnp.exp(-(k**2 - 1.0) * _PI2 * tt / 2.0) * _sin_k_pi_w(k, w, d)
    return _LOG_PI - _PI2 * tt / 2.0 + jnp.log(jnp.sum(terms, axis=0))


def _log_fpt(tt: Array, w: Array, d: Array) -> Array:
    """Log-density of lower-boundary hits at normalised time ``tt > 0`` (zero drift, unit separation)."""
    small = tt < _TT_SWITCH
    # Each series is evaluated only where it is valid: the other branch gets a harmless
    # time so that its (unused) NaNs cannot leak into gradients.
    lp_small = _log_fpt_small(jnp.where(small, tt, _TT_SWITCH / 2.0), w, d)
    lp_large = _log_fpt_large(jnp.where(small, 2.0 * _TT_SWITCH, tt), w, d)
    return jnp.where(small, lp_small, lp_large)


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
    """``log Phi(x)``: the scaled ``erfcx`` keeps the lower tail (about twice as fast as
    ``jax.scipy.special.log_ndtr``, which evaluates all of its branches)."""
    y = -x / math.sqrt(2.0)
    lower = x < 0
    log_lower = jnp.log(0.5 * erfcx(jnp.where(lower, y, 0.0))) - x**2 / 2.0
    log_upper = jnp.log1p(-0.5 * erfc(jnp.where(lower, 0.0, -y)))
    return jnp.where(lower, log_lower, log_upper)


def _cdf_small(tt: Array, w: Array, mu: Array, log_p: Array) -> Array:
    """``P(T <= tt, lower) / P(lower)`` from the image series, for ``tt <= _TT_SWITCH_CDF``.

    Each image term of the density, ``x / sqrt(2 pi s**3) exp(-x**2 / (2 s) - mu w -
    mu**2 s / 2)`` with ``x = w + 2k``, is an exponentially tilted first-passage density
    of level ``|x|`` and integrates in closed form to two normal tail probabilities,
    taken here in logs. The images left out (``|x| > 5``) contribute below
    ``Phi(-5 / sqrt(0.2)) < exp(-62)``.
    """
    k = jnp.arange(-_N_CDF_IMAGES, _N_CDF_IMAGES + 1, dtype=tt.dtype)[:, None]
    x = w + 2.0 * k
    sqrt_tt = jnp.sqrt(tt)
    # x > 0: exp(mu (x - w)) Phi(-(x + mu tt)/sqrt tt) + exp(-mu (x + w)) Phi(-(x - mu tt)/sqrt tt);
    # x < 0: minus the same with Phi(-.) replaced by Phi(+.), i.e. 1 - Phi(-.).
    sign = jnp.where(x > 0, 1.0, -1.0).astype(tt.dtype)
    log_a = mu * (x - w) + _log_ndtr(-sign * (x + mu * tt) / sqrt_tt)
    log_b = -mu * (x + w) + _log_ndtr(-sign * (x - mu * tt) / sqrt_tt)
    terms = sign * (jnp.exp(log_a - log_p) + jnp.exp(log_b - log_p))
    return jnp.sum(terms, axis=0)


def _survival_large(tt: Array, mu: Array, log_scale: Array, weights: Array) -> Array:
    """``P(T > tt, lower) / P(lower)`` from the eigenmode series, for ``tt >= _TT_SWITCH_CDF``.

    ``pi exp(-mu w) sum_k k sin(k pi w) exp(-lam_k tt) / lam_k`` with
    ``lam_k = (mu**2 + k**2 pi**2) / 2``: the large-time density integrated from ``tt``.
    ``log_scale`` and ``weights`` are the parts that do not depend on ``tt`` (see
    `_survival_weights`).
    """
    k = jnp.arange(1, _N_CDF_LARGE + 1, dtype=tt.dtype)[:, None]
    decay = jnp.exp(-(k**2 - 1.0) * _PI2 * tt / 2.0)
    return jnp.exp(log_scale - (mu**2 + _PI2) * tt / 2.0) * jnp.sum(weights * decay, axis=0)


def _survival_weights(w: Array, d: Array, mu: Array, log_p: Array) -> tuple[Array, Array]:
    """The time-independent factors of `_survival_large`, hoisted out of the root search."""
    k = jnp.arange(1, _N_CDF_LARGE + 1, dtype=w.dtype)[:, None]
    lam = (mu**2 + k**2 * _PI2) / 2.0
    weights = k * _sin_k_pi_w(k, w, d) * (lam[0] / lam)
    log_scale = _LOG_PI - mu * w - jnp.log(lam[0]) - log_p
    return log_scale, weights


def _first_passage_quantile(
    target: Array, w: Array, d: Array, mu: Array, log_p: Array, n_steps: int
) -> Array:
    """Normalised time ``tt`` with ``P(T <= tt | lower) = target``.

    Newton's method on ``log tt``, safeguarded by bisection (Press et al.'s ``rtsafe``): a
    Newton step that leaves the current bracket, or fails to halve the step before last,
    is replaced by a bisection, so the bracket shrinks at least as fast as bisection's
    every other step, and quadratically near the root.
    """
    log_scale, weights = _survival_weights(w, d, mu, log_p)

    def cdf_and_slope(y: Array) -> tuple[Array, Array]:
        tt = jnp.exp(y)
        small = tt < _TT_SWITCH_CDF
        cdf_small = _cdf_small(jnp.where(small, tt, _TT_SWITCH_CDF / 2.0), w, mu, log_p)
        surv = _survival_large(jnp.where(small, 2.0 * _TT_SWITCH_CDF, tt), mu, log_scale, weights)
        cdf = jnp.where(small, cdf_small, 1.0 - surv)
        log_density = _log_fpt(tt, w, d) - mu * w - mu**2 * tt / 2.0 - log_p
        return cdf, jnp.exp(y + log_density)

    # Bracket in log time: below w**2 / 400 the conditional distribution function is
    # under exp(-190); above (60 + 2|mu|) / lam_1 the survival function is under
    # exp(-60 - |mu|), its prefactor being at most about exp(|mu|) (lam_1 = (mu**2 + pi**2) / 2).
    lo = jnp.log(w**2 / 400.0)
    hi = jnp.log((60.0 + 2.0 * jnp.abs(mu)) / ((mu**2 + _PI2) / 2.0))
    y = (lo + hi) / 2.0
    step_before = hi - lo

    def step(_: int, state: tuple[Array, Array, Array, Array, Array]) -> tuple[Array, ...]:
        lo, hi, y, step_last, step_before = state
        cdf, slope = cdf_and_slope(y)
        below = cdf < target
        lo, hi = jnp.where(below, y, lo), jnp.where(below, hi, y)
        newton = y - (cdf - target) / slope
        use_newton = (newton > lo) & (newton < hi) & (jnp.abs(newton - y) < step_before / 2.0)
        y_next = jnp.where(use_newton, newton, (lo + hi) / 2.0)
        return lo, hi, y_next, jnp.abs(y_next - y), step_last

    state = (lo, hi, y, step_before, step_before)
    return jnp.exp(jax.lax.fori_loop(0, n_steps, step, state)[2])


class DDM(AbstractDecisionModel):
    r"""The drift diffusion model (Wiener first-passage times), with an exact likelihood.

    Conventions are ssm-simulators' ``ddm`` (and HSSM's built-in ``ddm``, which pairs its
    analytical likelihood with that simulator): the evidence
    :math:`X_s` starts at :math:`a(2z - 1)`, moves as :math:`dX = v\,ds + dW` (unit noise),
    and the process ends when it reaches :math:`+a` (response ``+1``) or :math:`-a`
    (response ``-1``); the response time is that first-passage time plus ``t``. So ``a``
    is *half* the boundary separation (the separation is :math:`A = 2a`), ``z`` the start
    as a fraction of the separation above the lower boundary, and ``v > 0`` favours the
    upper boundary. HSSM's ``logp_ddm`` makes the same choice (it doubles ``a`` before
    applying Navarro & Fuss's formulas, which are written for separation :math:`A`).

    With :math:`s = rt - t`, :math:`\tau = s / A^2` and, for a lower-boundary response,
    :math:`v' = v`, :math:`w = z` (for an upper one :math:`v' = -v`, :math:`w = 1 - z`),

    .. math::

        p(rt, \text{choice}) = A^{-2} \exp(-v' A w - v'^2 s / 2)\, f(\tau \mid w),

    where :math:`f` is the zero-drift, unit-separation first-passage density (Navarro &
    Fuss, 2009). It is summed with the small-time (image) series for :math:`\tau < 0.5`
    and the large-time (eigenmode) series otherwise, with enough terms that the
    truncation error is below :math:`e^{-48}` relative, in the log domain with paired
    terms so that nothing underflows or cancels; in float64 the result is exact to
    rounding error.

    ``logp`` returns :math:`\log(p + e^{F})` with :math:`F` = ``LOGP_FLOOR`` = -66.1
    (HSSM's floor): exactly ``LOGP_FLOOR`` where ``rt <= t`` (and where the leading
    exponent :math:`w^2/(2\tau)` exceeds 1000, where :math:`p < e^{-900}`), and otherwise
    within :math:`e^{F}/p` (relative) of the exact density. The floor is smooth: the
    log-density and its gradients are finite and continuous for every ``rt``, and for all
    parameters inside ``bounds`` (in float32, for :math:`z a` and :math:`(1 - z) a` above
    about 1e-15). ``choice > 0`` is read as the upper boundary and anything else as the
    lower one.

    ``sample`` is exact: the boundary is drawn from its closed-form probability, then
    the decision time by inverting the closed-form first-passage distribution function
    of that boundary (Blurton, Kesselmeier & Gondan, 2012: a normal-tail image series for
    small times, an eigenmode series for large ones) with 64 bisection steps in log
    time. The error is that of the series and of the bisection (below the float spacing
    of the result); there is no time step and no horizon, so every draw is finite and
    ``choice`` is always -1 or +1.

    References
    ----------
    Navarro, D. J., & Fuss, I. G. (2009). Fast and accurate calculations for first-passage
    times in Wiener diffusion models. *Journal of Mathematical Psychology*, 53, 222-230.

    Blurton, S. P., Kesselmeier, M., & Gondan, M. (2012). Fast and accurate calculations
    for cumulative first-passage time distributions in Wiener diffusion models. *Journal
    of Mathematical Psychology*, 56, 470-475.
    """

    param_names: ClassVar[tuple[str, ...]] = ("v", "a", "z", "t")
    bounds: ClassVar[Mapping[str, Bounds]] = MappingProxyType(
        {
            "v": (-math.inf, math.inf),
            "a": (0.0, math.inf),
            "z": (0.0, 1.0),
            "t": (0.0, math.inf),
        }
    )
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
        upper = jnp.asarray(choice) > 0
        rt, upper, v, a, z, t = jnp.broadcast_arrays(rt, upper, v, a, z, t)

        # Reflect upper-boundary responses onto the lower boundary. Both w and 1 - w come
        # from z directly, so the one near 0 carries full relative precision.
        v_low = jnp.where(upper, -v, v)
        w = jnp.where(upper, 1.0 - z, z)
        d = jnp.where(upper, z, 1.0 - z)
        sep = 2.0 * a

        s = rt - t
        positive = s > 0
        tt = jnp.where(positive, s, 1.0) / sep**2
        exact_region = positive & (w**2 / (2.0 * tt) <= _MAX_EXPONENT)
        # Outside the region the density is replaced by the floor; give the formula a
        # harmless time there so that its gradient (multiplied by 0) is not inf or NaN.
        tt = jnp.where(exact_region, tt, 1.0)
        s = tt * sep**2
        log_p = _log_fpt(tt, w, d) - 2.0 * jnp.log(sep) - v_low * sep * w - v_low**2 * s / 2.0
        floor = jnp.asarray(LOGP_FLOOR, dtype=dtype)
        return jnp.where(exact_region, jnp.logaddexp(log_p, floor), floor)

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
