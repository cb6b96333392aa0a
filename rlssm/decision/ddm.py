"""The drift diffusion model with its exact (series) likelihood and an exact sampler."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import jax
import jax.numpy as jnp
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

# Normalised time (time / separation**2) below which the small-time series is used. At 0.5
# the first term left out of either series, with the term counts below, is below exp(-160)
# relative, and neither series cancels badly on its side of the switch (see the helpers).
_TT_SWITCH = 0.5
_N_SMALL = 6  # image pairs of the small-time density series
_N_LARGE = 10  # eigenmodes of the large-time density series
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


def _log_fpt_small(tt: Array, w: Array, d: Array) -> Array:
    """Small-time series of the log-density of lower-boundary hits, ``tt <= _TT_SWITCH``.

    Zero drift, boundaries at 0 and 1, start ``w`` (``d = 1 - w``). The image series
    ``(2 pi tt**3)**-1/2 sum_k (w + 2k) exp(-(w + 2k)**2 / (2 tt))`` is summed in pairs of
    images whose difference is computed with ``expm1`` and scaled by the leading
    ``exp(-w**2 / (2 tt))``, so that it neither underflows for small ``tt`` nor loses
    digits to cancellation near ``w = 0`` (pairs ``k, -k``) or ``w = 1`` (pairs
    ``j, -j - 1``). For ``w <= 0.5`` the pairs are subtracted from the leading ``w`` and
    remove at most about two thirds of it at ``tt = 0.5``; for ``w > 0.5`` all pairs are
    positive.
    """
    k = _series_index(1, _N_SMALL + 1, tt)
    # w <= 0.5: w minus the (positive) pairs k, -k.
    x = 4.0 * k * w / tt
    pairs_near_0 = jnp.exp(-2.0 * k * (k - w) / tt) * (-(2.0 * k + w) * jnp.expm1(-x) - 2.0 * w)
    sum_near_0 = w - jnp.sum(pairs_near_0, axis=0)
    # w > 0.5: the (positive) pairs j, -j - 1, with m = 2j + 1.
    m = 2.0 * _series_index(0, _N_SMALL + 1, tt) + 1.0
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
    k = _series_index(1, _N_LARGE + 1, tt)
    terms = k * jnp.exp(-(k**2 - 1.0) * _PI2 * tt / 2.0) * _sin_k_pi_w(k, w, d)
    return _LOG_PI - _PI2 * tt / 2.0 + jnp.log(jnp.sum(terms, axis=0))


def _log_fpt(tt: Array, w: Array, d: Array) -> Array:
    """Log-density of lower-boundary hits at ``tt > 0``: zero drift, unit separation."""
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


# Jitted on its own so that eager calls of `DDM.logp` compile once per shape, not op by op.
@jax.jit
def _log_density(rt: Array, upper: Array, v: Array, a: Array, z: Array, t: Array) -> Array:
    """`DDM.logp` on arrays of one float dtype, ``upper`` marking upper-boundary responses."""
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
    floor = jnp.asarray(LOGP_FLOOR, dtype=log_p.dtype)
    out = jnp.where(exact_region, jnp.logaddexp(log_p, floor), floor)
    # A NaN parameter fails the region tests above and would read as the floor.
    nan_param = jnp.isnan(v) | jnp.isnan(a) | jnp.isnan(z) | jnp.isnan(t)
    return jnp.where(nan_param, jnp.asarray(jnp.nan, out.dtype), out)


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
def _draw(key: PRNGKeyArray, v: Array, a: Array, z: Array, t: Array) -> tuple[Array, Array]:
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
    the small-time (image) series for ``tau < 0.5`` and the large-time (eigenmode) series
    otherwise, with a fixed number of terms whose truncation error is below
    ``exp(-160)`` relative, in the log domain and with images paired so that nothing
    underflows or cancels catastrophically: in float64 the result is exact to rounding
    error (within 1e-12 of HSSM's ``logp_ddm`` wherever HSSM's own floor is inactive).

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
        return _log_density(rt, jnp.asarray(choice) > 0, v, a, z, t)

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
        return _draw(key, v, a, z, t)
