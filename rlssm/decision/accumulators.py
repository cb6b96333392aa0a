"""Single accumulators of the race models, with a start point uniform on ``(0, A)``.

Two kinds of accumulator, each with threshold ``A + B`` and a start uniform on
``(0, A)``, so that the distance ``d`` it travels is uniform on ``(B, B + A)``:

- Wald (racing diffusion): evidence ``x0 + v s + W(s)`` with unit noise; given ``d``,
  the first-passage time has the (inverse Gaussian, defective where ``v < 0``) density
  ``d / sqrt(2 pi s^3) exp(-(d - v s)^2 / (2 s))`` and distribution function
  ``Phi((v s - d) / sqrt s) + exp(2 v d) Phi(-(v s + d) / sqrt s)``.
- LBA (linear ballistic): evidence ``x0 + D s`` with a drift ``D ~ N(v, sd^2)`` drawn
  once; given ``d`` it finishes at ``d / D`` when ``D > 0`` and never otherwise.

Both densities are Gaussian kernels in the standardised distance
``z = (d - v s) / (sigma s)`` (``sigma = 1 / sqrt(s)`` for Wald, ``sigma = sd`` for
LBA): given ``d`` the density is ``(d / s) phi(z) / (sigma s)``, so that its average over
the start is ``(1 / A) integral (v + sigma z) phi(z) dz`` over ``z0 .. z0 + delta``
(``delta = A / (sigma s)``), which has a closed form (`log_window_density`).

Everything is computed in logs, with the cancellations of the textbook formulas
removed where they are not inherent:

- a narrow window (``A`` small against ``sigma s``, including ``A = 0``) is averaged by
  the Taylor series of the fixed-start function about its midpoint, whose terms follow
  from recurrences; it tends to the fixed-start formulas as ``A -> 0``, with no
  ``0 / 0`` in the value or the gradient;
- the Wald survival and distribution function of a wide window are closed forms whose
  ``1 / v`` terms (which cancel as ``v -> 0``) are replaced near ``v = 0`` by their
  Taylor series in ``c = 2 v sqrt(s)``;
- each difference of normal tail probabilities is taken between logs on the side where
  both are small; every sum of terms is scaled by its largest term first; each of a
  survival and a distribution function is computed where it is the smaller of the two.

What remains is the cancellation the race densities have in their far right tails
(relative error about ``eps * v s / d`` in a density or survival function whose value
is then typically below ``exp(-30)``). In float64 the results are within about 1e-12
(relative) of 500-digit arithmetic over drifts -20..20, decision times 1e-4..100,
``A`` 0..3 and ``B`` 0.01..3 (and the LBA's drift sd 0.05..5); in float32 within about
1e-5 on the likelihood scale.

These are the helpers of [`RDM`][rlssm.RDM], [`LBA`][rlssm.LBA] and `AdvantageRDM`;
shapes broadcast, dtypes follow the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, NamedTuple, overload

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfcx

from .._precision import input_float_dtype as _float_dtype
from .._types import Array, PRNGKeyArray, RealLike

__all__ = [
    "LOGP_FLOOR",
    "Saturation",
    "Z_NEGLIGIBLE",
    "broadcast_with_choice",
    "check_n_options",
    "check_names",
    "lba_first_passage",
    "lba_survival",
    "log_window_density",
    "race_outcome",
    "saturated",
    "stack_inputs",
    "stage",
    "wald_first_passage",
    "wald_survival",
    "wald_window",
    "winner_and_losers",
    "winner_mask",
]

LOGP_FLOOR: float = -66.1
"""Log-density floor of the race models: ``logp`` returns ``log(p + exp(LOGP_FLOOR))``.

HSSM's ``LOGP_LB``, as for [`DDM`][rlssm.DDM]. Exactly the floor where ``rt <= t``, where
the response is not one of the model's ``choices``, and where the winner's density is
below about ``exp(-700)``.
"""

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2.0)
_LOG_HALF = -math.log(2.0)

# A window is "narrow" for the density series where h (1 + |m|) <= this (h: half its
# width, m: its midpoint, in z units); with _N_DENSITY + 1 terms the first term left out
# is below 1e-15 relative.
_NARROW_DENSITY = 0.25
_N_DENSITY = 6
# The Wald survival function is averaged over a narrow window (width times
# 1 + |m| + |c| at most this, c = 2 v sqrt(s)) by its Taylor series about the midpoint,
# _N_TAYLOR terms beyond the first: the first term left out is below 1e-15 relative.
_NARROW_SURVIVAL = 0.2
_N_TAYLOR = 4
# Closed forms of the Wald survival of a wide window: c = 2 v sqrt(s) at least this uses
# the form with 1 / c; below it the divided difference E (see `_divided_g`), whose Taylor
# series in c is summed (_N_SERIES terms) where |c| (1 + |u|) <= _SERIES_RADIUS.
_C_SWITCH = 1.0
_SERIES_RADIUS = 0.1
_N_SERIES = 12
# Mills-ratio complement 1 - x R(x): directly below this, by its asymptotic series above.
_MILLS_SWITCH = 20.0
_N_MILLS = 10
# Its coefficients, of x^-2k for k = 0 .. _N_MILLS: (-1)^(k+1) (2k - 1)!!.
_MILLS_SERIES = (0.0,) + tuple(float((-1) ** (k + 1) * math.prod(range(1, 2 * k, 2))) for k in range(1, _N_MILLS + 1))
# Beyond this standardised distance from the threshold the density of a winner is below
# exp(-700) (phi(40) = exp(-800.9)); the likelihood returns the floor there without
# evaluating the formulas, whose gradients would overflow as rt -> t.
Z_NEGLIGIBLE = 40.0


class Saturation(NamedTuple):
    """Where an accumulator's functions at decision time ``s`` are settled to within
    ``exp(-700)`` whatever its start, each ``(N,) + shape`` (see `saturated`)."""

    density_negligible: Array  # f below ~exp(-700)
    finished: Array  # S below ~exp(-700): it has surely finished (F = 1)
    waiting: Array  # F below ~exp(-700): it has surely not finished (S = 1)


def saturated(v: Array, s: Array, B: Array, A: Array, spread: Array, wald: bool) -> Saturation:
    """Classify accumulators at decision time ``s > 0``: the regions where the formulas
    need not (and, at extreme drifts or drift sds, cannot) be evaluated.

    With ``z = (d - v s) / spread`` over the window ``d`` in ``(B, B + A)``
    (``spread = sqrt(s)`` for Wald, ``sd s`` for LBA): the density is a Gaussian kernel
    in ``z`` (below ``phi(40) = exp(-800)``) beyond ``Z_NEGLIGIBLE`` on either side; the
    survival function is at most ``Phi(z)`` at the far end, so 0 where that end lies
    below ``-Z_NEGLIGIBLE``, and at least ``Phi(z)`` at the near end (``1 - F``), so 1
    where it lies above ``Z_NEGLIGIBLE`` (for a Wald accumulator with a negative
    drift only if also ``F``'s second term ``exp(2 v d) Phi(-(d + v s) / sqrt s)`` is
    negligible: a near threshold can be hit by the noise alone). Products that
    overflow to ``inf`` classify as their limits.
    """
    z_near = (B - v * s) / spread
    z_far = (B + A - v * s) / spread
    negligible = Z_NEGLIGIBLE * Z_NEGLIGIBLE / 2.0
    waiting = z_near > Z_NEGLIGIBLE
    if wald:
        b_near = (B + v * s) / spread
        waiting = waiting & ((v >= 0) | (b_near > Z_NEGLIGIBLE) | (2.0 * v * B < -negligible))
    return Saturation((z_near > Z_NEGLIGIBLE) | (z_far < -Z_NEGLIGIBLE), z_far < -Z_NEGLIGIBLE, waiting)


def check_names(model: object, expected: tuple[str, ...], given: object) -> None:
    """``TypeError`` naming ``model`` (its repr) unless ``given`` names exactly the
    parameters ``expected``."""
    given = set(given)  # type: ignore[arg-type]
    if given != set(expected):
        missing = [p for p in expected if p not in given]
        unknown = sorted(given - set(expected))
        raise TypeError(f"{model!r} takes the parameters {expected}; missing {missing}, unknown {unknown}")


def check_n_options(owner: str, n: object) -> None:
    """``ValueError`` naming ``owner`` unless ``n`` is an integer of at least 2."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"{owner}: n_options must be an integer >= 2, got {n!r}")


def stack_inputs(
    n: int, params: Mapping[str, RealLike], rest: tuple[str, ...], *extra: RealLike
) -> tuple[Array, list[Array], list[Array]]:
    """The per-option inputs stacked on a leading axis, ``(N,) + shape``, the other
    parameters and ``extra`` arrays, all broadcast to ``shape`` in one float dtype."""
    names = [f"v{k}" for k in range(n)]
    dtype = _float_dtype(*extra, *(params[p] for p in (*names, *rest)))
    arrays = jnp.broadcast_arrays(
        *(jnp.asarray(x, dtype=dtype) for x in (*extra, *(params[p] for p in (*names, *rest))))
    )
    n_extra = len(extra)
    extra_out = list(arrays[:n_extra])
    v = jnp.stack(arrays[n_extra : n_extra + n])
    return v, list(arrays[n_extra + n :]), extra_out


def winner_mask(choice: RealLike, n: int, like: Array) -> Array:
    """``(N,) + shape`` mask of the chosen option (all False for a response outside
    ``0 .. N-1``)."""
    choice = jnp.broadcast_to(jnp.asarray(choice), like.shape)
    options = jnp.arange(n, dtype=choice.dtype).reshape((n,) + (1,) * like.ndim)
    return options == choice


def race_outcome(times: Array, t: Array) -> tuple[Array, Array]:
    """``(rt, choice)`` from accumulator times ``(N,) + shape``: the first to finish;
    ``(inf, 0)`` where none does."""
    first = jnp.min(times, axis=0)
    finished = jnp.isfinite(first)
    choice = jnp.where(finished, jnp.argmin(times, axis=0), 0).astype(jnp.int32)
    return jnp.where(finished, t + first, jnp.inf), choice


def winner_and_losers(won: Array, x: Array) -> tuple[Array, Array]:
    """The winner's entry of ``x`` (``(N,) + shape``), ``shape``, and the others',
    ``(N - 1,) + shape`` (in the order ``k + 1, ..., k + N - 1`` mod ``N`` after the
    winner ``k``); option 0 counts as the winner where ``won`` marks none.

    A race's likelihood needs the winner's density and the others' survival functions
    only: evaluating those alone, rather than both functions for every option, saves
    about a third of the three-option RDM's time. (Selects, not a gather, so that the
    gradient is selects too.)
    """
    n = x.shape[0]
    first = jnp.argmax(won, axis=0)
    options = jnp.arange(n).reshape((1, n) + (1,) * first.ndim)
    order = (first[None] + jnp.arange(1, n).reshape((n - 1,) + (1,) * first.ndim)) % n
    winner = jnp.sum(jnp.where(options[0] == first[None], x, 0.0), axis=0)
    losers = jnp.sum(jnp.where(options == order[:, None], x[None], 0.0), axis=1)
    return winner, losers


def broadcast_with_choice(
    v: Array, others: tuple[Array, ...], choice: RealLike
) -> tuple[Array, ...]:
    """Broadcast the stacked drifts and the other arrays against ``choice`` too."""
    shape = jnp.broadcast_shapes(others[0].shape, jnp.shape(choice))
    v = jnp.broadcast_to(v, (v.shape[0],) + shape)
    return (v, *(jnp.broadcast_to(x, shape) for x in others))


# ----------------------------------------------------------------- normal functions
@jax.custom_jvp
def _erfcx(x: Array) -> Array:
    """``erfcx(x) = exp(x^2) erfc(x)``, differentiated by its closed form
    ``2 x erfcx(x) - 2 / sqrt(pi)`` rather than through its rational approximation
    (which would put that approximation into every fusion of the backward pass)."""
    return erfcx(x)


@_erfcx.defjvp
def _erfcx_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (x,), (dx,) = primals, tangents
    y = _erfcx(x)
    return y, (2.0 * x * y - 2.0 / math.sqrt(math.pi)) * dx


class _Normal(NamedTuple):
    """Standard normal functions at ``x``, all from one scaled complementary error
    function (the race formulas need several at the same points)."""

    log_cdf: Array  # log Phi(x)
    log_sf: Array  # log Phi(-x)
    log_pdf: Array  # log phi(x)
    mills_complement: Array  # M(|x|) = 1 - |x| R(|x|), R(x) = Phi(-x) / phi(x)


def _normal(x: Array) -> _Normal:
    """`_Normal` at ``x``.

    ``Phi(-|x|) = erfcx(|x| / sqrt 2) exp(-x^2 / 2) / 2`` keeps the far tail; the Mills
    ratio is ``R(|x|) = sqrt(pi / 2) erfcx(|x| / sqrt 2)``. ``M`` is taken directly below
    `_MILLS_SWITCH` (the subtraction loses about ``log10(x^2)`` digits: at most 2.6) and
    from its asymptotic series ``x^-2 - 3 x^-4 + 15 x^-6 - ...`` (ten terms: relative
    error below 1e-15) above.
    """
    ax = jnp.abs(x)
    (scaled,) = stage(_erfcx(ax / math.sqrt(2.0)))
    log_pdf = -x * x / 2.0 - _LOG_SQRT_2PI
    log_tail = jnp.log(0.5 * scaled) - x * x / 2.0  # log Phi(-|x|)
    log_body = jnp.log1p(-jnp.exp(log_tail))  # log Phi(|x|)
    negative = x < 0
    small = ax < _MILLS_SWITCH
    inv2 = 1.0 / jnp.square(jnp.where(small, _MILLS_SWITCH, ax))
    series = _horner(_MILLS_SERIES, inv2)
    return _Normal(
        *stage(
            jnp.where(negative, log_tail, log_body),
            jnp.where(negative, log_body, log_tail),
            log_pdf,
            jnp.where(small, 1.0 - ax * _SQRT_HALF_PI * scaled, series),
        )
    )


def stage(*arrays: Array) -> tuple[Array, ...]:
    """Materialise intermediate results (and, under differentiation, their cotangents).

    XLA treats elementwise special functions as cheap and would fuse them into every
    kernel that reads them, recomputing them there (as `rlssm.Angle` notes for ``tan``);
    for these formulas, with many readers per value, that multiplies both the run time
    and the compile time of the likelihood and its gradient several-fold.
    """
    return jax.lax.optimization_barrier(arrays)


def _log_phi(x: Array) -> Array:
    """``log phi(x)``, the standard normal log-density."""
    return -x * x / 2.0 - _LOG_SQRT_2PI


def _log_diff(log_big: Array, log_small: Array) -> Array:
    """``log(exp(log_big) - exp(log_small))`` for ``log_small < log_big``.

    Rounding can make the two equal where the true difference is below the precision;
    the difference is then taken as the smallest normal number times the larger one (a
    finite value with a zero gradient) rather than ``-inf``. Where both are ``-inf``
    (two probabilities below the float range, at extreme parameters) so is the
    difference, not ``-inf - (-inf) = NaN``.
    """
    tiny = jnp.finfo(log_big.dtype).tiny
    gap = jnp.where(log_big > -jnp.inf, log_small - log_big, -jnp.inf)
    return log_big + jnp.log(-jnp.expm1(jnp.minimum(gap, -tiny)))


def _log_complement(log_p: Array) -> Array:
    """``log(1 - p)`` from ``log p``, for ``p <= 1/2`` (larger ``p`` is clipped to 1/2, so
    that the unused branch of a ``where`` keeps a finite gradient)."""
    return jnp.log1p(-jnp.exp(jnp.minimum(log_p, _LOG_HALF)))


def _log_interval(lo: _Normal, hi: _Normal, flip: Array) -> Array:
    """``log(Phi(hi) - Phi(lo))`` for ``lo < hi``, from the normal functions at both ends;
    ``flip`` (``lo + hi > 0``) takes the difference of the upper tails instead."""
    return jnp.where(flip, _log_diff(lo.log_sf, hi.log_sf), _log_diff(hi.log_cdf, lo.log_cdf))


def _log_j(n: _Normal, x: Array) -> Array:
    """``log J(x)``, ``J(x) = x Phi(x) + phi(x)``, the integral of ``Phi`` up to ``x``,
    from the normal functions at ``x`` or at ``-x`` (``M`` depends on ``|x|`` only).

    ``J(x) = max(x, 0) + phi(x) M(|x|)`` (``J(x) - J(-x) = x``): for ``x < 0`` in logs,
    which keeps the far lower tail.
    """
    xs = jnp.where(x >= 0, x, 0.0)
    upper = jnp.log(xs + jnp.exp(_log_phi(xs)) * n.mills_complement)
    lower = n.log_pdf + jnp.log(n.mills_complement)
    return jnp.where(x >= 0, upper, lower)


def _hermite_sums(m: Array, h: Array, table: np.ndarray) -> Array:
    """``sum_n table[n, j] h^n He_n(m)`` for each column ``j``: ``(J,) + shape``.

    ``He_n`` are the probabilists' Hermite polynomials, taken scaled, ``h^n He_n``, by
    their recurrence ``He_(n+1) = m He_n - n He_(n-1)``.
    """
    hm, h2 = h * m, h * h
    prev, now = jnp.zeros_like(m), jnp.ones_like(m)
    sums = [jnp.zeros_like(m) for _ in range(table.shape[1])]
    for n in range(table.shape[0]):
        sums = [total + float(a) * now if a != 0.0 else total for total, a in zip(sums, table[n], strict=True)]
        prev, now = now, hm * now - n * h2 * prev
    return jnp.stack(sums)


def _series_table(columns: list[dict[int, float]], n_terms: int) -> np.ndarray:
    """A coefficient table for `_hermite_sums` from ``{n: coefficient}`` columns."""
    table = np.zeros((n_terms, len(columns)))
    for j, column in enumerate(columns):
        for n, a in column.items():
            table[n, j] = a
    return table


# Density of a narrow window: sum_k h^2k He_2k / (2k + 1)! and
# sum_j h^(2j+1) He_(2j+1) / ((2j + 1)! (2j + 3)); LBA survival of a narrow window:
# sum_{k >= 1} h^(2k-1) He_(2k-1) / (2k + 1)!.
_DENSITY_TABLE = _series_table(
    [
        {2 * k: 1.0 / math.factorial(2 * k + 1) for k in range(_N_DENSITY + 1)},
        {2 * j + 1: 1.0 / (math.factorial(2 * j + 1) * (2 * j + 3)) for j in range(_N_DENSITY)},
        {2 * k - 1: 1.0 / math.factorial(2 * k + 1) for k in range(1, _N_DENSITY + 1)},
    ],
    2 * _N_DENSITY + 1,
)


# ------------------------------------------------------------------ window averages
def _density_narrow(
    v: Array, sigma: Array, s: Array, B: Array, A: Array, z0: Array, width: Array, narrow: Array
) -> Array:
    """Log-density at decision time ``s > 0`` of an accumulator with a uniform start,
    for a ``narrow`` window (``h (1 + |m|) <= 0.25``, ``h = width / 2``, ``m`` its
    midpoint; a harmless value elsewhere).

    ``log[(1 / A) integral_{z0}^{z0 + width} (v + sigma z) phi(z) dz]``,
    ``z0 = (B - v s) / (sigma s)``, ``width = A / (sigma s)`` (the average over the
    distance ``d`` in ``(B, B + A)`` of ``(d / s) phi(z(d)) / (sigma s)``), from the
    Taylor series of ``phi`` about ``m``:
    ``(1 / (sigma s)) phi(m) [(d_m / s) sum_k h^2k He_2k(m) / (2k + 1)! -
    sigma sum_j h^(2j+2) He_(2j+1)(m) / ((2j + 1)! (2j + 3))]``, ``d_m = B + A / 2``;
    exact at ``A = 0``.
    """
    # h = m = 0 where the window is wide, so that no power overflows there.
    h = jnp.where(narrow, width / 2.0, 0.0)
    mid = jnp.where(narrow, z0 + width / 2.0, 0.0)
    mean_phi, mean_offset, _ = _hermite_sums(mid, h, _DENSITY_TABLE)
    tiny = jnp.finfo(mid.dtype).tiny
    bracket = (B + A / 2.0) / s * mean_phi - sigma * h * mean_offset
    return _log_phi(mid) - jnp.log(sigma * s) + jnp.log(jnp.maximum(bracket, tiny))


def _density_wide(
    v: Array, sigma: Array, s: Array, z0: Array, width: Array, n0: _Normal, n1: _Normal
) -> Array:
    """The same log-density for a wide window, from its closed form
    ``(1 / A) [v (Phi(z1) - Phi(z0)) + sigma (phi(z0) - phi(z1))]``, scaled by its
    larger term; ``n0``, ``n1`` are the normal functions at ``z0`` and ``z0 + width``.
    ``phi(z0) - phi(z1) = phi(z_near) G``, ``z_near`` the end nearer 0: no overflow, no
    ``0 / 0``.
    """
    wide_mid = z0 + width / 2.0
    upper_half = wide_mid >= 0
    log_mass = _log_interval(n0, n1, upper_half)
    m_pos = jnp.where(upper_half, wide_mid, 0.0)
    m_neg = jnp.where(upper_half, 0.0, wide_mid)
    gap = jnp.where(upper_half, -jnp.expm1(-width * m_pos), jnp.expm1(width * m_neg))
    log_near = jnp.where(upper_half, n0.log_pdf, n1.log_pdf)
    scale = jnp.maximum(log_mass, log_near)
    bracket = v * jnp.exp(log_mass - scale) + sigma * jnp.exp(log_near - scale) * gap
    tiny = jnp.finfo(z0.dtype).tiny
    return scale + jnp.log(jnp.maximum(bracket, tiny)) - jnp.log(width) - jnp.log(sigma * s)


def log_window_density(v: Array, sigma: Array, s: Array, B: Array, A: Array) -> Array:
    """Log-density at decision time ``s > 0`` of an accumulator with a start uniform on
    ``(0, A)``, threshold ``A + B`` and standardised distance
    ``z = (d - v s) / (sigma s)``: ``sigma = 1 / sqrt(s)`` for a Wald accumulator,
    the drift sd for an LBA one (see the module docstring)."""
    width = A / (sigma * s)
    z0 = (B - v * s) / (sigma * s)
    narrow = width / 2.0 * (1.0 + jnp.abs(z0 + width / 2.0)) <= _NARROW_DENSITY
    wide_width = jnp.where(narrow, 1.0, width)
    n0, n1 = _split(_normal(jnp.stack([z0, z0 + wide_width])))
    return jnp.where(
        narrow,
        _density_narrow(v, sigma, s, B, A, z0, width, narrow),
        _density_wide(v, sigma, s, z0, wide_width, n0, n1),
    )


def _split(n: _Normal) -> list[_Normal]:
    """The `_Normal` of a stack of points, unstacked along its leading axis."""
    return [_Normal(*(f[i] for f in n)) for i in range(n.log_cdf.shape[0])]


# --------------------------------------------------------------------------- Wald
def _wald_point(d: Array, v: Array, s: Array, nu: _Normal, nb: _Normal, extra: bool = False) -> tuple[Array, ...]:
    """``(log S, log F)``: survival and distribution function of a fixed-start Wald
    accumulator at distance ``d > 0``, drift ``v`` (any real), time ``s > 0``.

    With ``u = (d - v s) / sqrt s``, ``b = (d + v s) / sqrt s`` and
    ``g = exp(2 v d) Phi(-b)``: ``F = Phi(-u) + g`` (a sum of positive terms) and
    ``S = Phi(u) - g = [Phi(u) - Phi(-b)] - (exp(2 v d) - 1) Phi(-b)``: the band
    ``Phi(u) - Phi(-b)`` (``-b < u``) is differenced on the side of its smaller tail, the
    second term taken with ``expm1`` where ``2 v d <= 1`` (smooth through ``v = 0``;
    added where ``v < 0``) and as ``g - Phi(-b)`` beyond, both scaled by the larger of
    the band and ``Phi(-b)``. The subtraction cancels only where the survival function
    itself is far below ``Phi(u)``, in the far right tail of a positive drift.

    ``nu``, ``nb``: the normal functions at ``u`` and ``b``. With ``extra``, also
    ``log phi(u)`` and ``log g``.
    """
    c = 2.0 * v * jnp.sqrt(s)
    two_vd = 2.0 * v * d
    positive = c >= 0
    log_g = two_vd + nb.log_sf
    log_cdf = jnp.logaddexp(nu.log_sf, log_g)
    # log(Phi(u) - Phi(-b)), on the side of the smaller tail.
    log_band = jnp.where(
        positive, _log_diff(nu.log_cdf, nb.log_sf), _log_diff(nb.log_cdf, nu.log_sf)
    )
    log_band, log_g = stage(log_band, log_g)
    scale = jnp.maximum(log_band, nb.log_sf)
    scaled_tail = jnp.exp(nb.log_sf - scale)
    big = two_vd > 1.0
    excess = jnp.where(
        big,
        jnp.exp(jnp.minimum(log_g - scale, 2.0)) - scaled_tail,
        jnp.expm1(jnp.where(big, 0.0, two_vd)) * scaled_tail,
    )
    tiny = jnp.finfo(d.dtype).tiny
    log_surv = scale + jnp.log(jnp.maximum(jnp.exp(log_band - scale) - excess, tiny))
    # log F near 0 is -S: from the survival function where that is the smaller one.
    log_cdf = jnp.where(log_surv < _LOG_HALF, _log_complement(log_surv), log_cdf)
    if extra:
        return stage(log_surv, log_cdf, nu.log_pdf, log_g)
    return stage(log_surv, log_cdf)


def _horner(coefficients: tuple[float, ...], x: Array) -> Array:
    """``sum_k coefficients[k] x^k``, by Horner's rule."""
    out = jnp.full_like(x, coefficients[-1])
    for a in coefficients[-2::-1]:
        out = out * x + a
    return out


def _divided_g(
    u: Array, c: Array, log_sf: Array, log_pdf: Array, log_g: Array, log_scale: Array
) -> Array:
    """``E(u, c) exp(-log_scale)``, ``E = (g(u) - Phi(-u)) / c`` with
    ``g(u) = phi(u) R(u + c) = exp(2 v d) Phi(-(u + c))``: an antiderivative in ``u`` of
    ``g`` that stays finite as ``c -> 0``, for ``c < _C_SWITCH``. ``log_sf``,
    ``log_pdf`` and ``log_g`` are ``log Phi(-u)``, ``log phi(u)`` and ``log g(u)``.

    Where ``|c| (1 + |u|) <= _SERIES_RADIUS`` it is summed from its Taylor series
    ``sum_n c^(n-1) / n! phi(u) R^(n)(u)``, the terms by their three-term recurrence
    (written in ``c u`` and ``c`` so that no power overflows); elsewhere directly. The
    recurrence carries the cancellation of ``phi R^(n)`` for large ``u``, whose
    absolute error ``eps Phi(-u) |c u|^(n-1) / n!`` the radius keeps negligible.
    """
    series = jnp.abs(c) * (1.0 + jnp.abs(u)) <= _SERIES_RADIUS
    cs = jnp.where(series, c, 0.0)
    us = jnp.where(series, u, 0.0)
    scaled_sf = jnp.exp(log_sf - log_scale)
    scaled_pdf = jnp.exp(log_pdf - log_scale)
    # e_n = c^(n-1) / n! phi R^(n): from R^(n+1) = u R^(n) + n R^(n-1),
    # e_(n+1) = (y e_n + c^2 e_(n-1)) / (n + 1) with y = c u, e_1 = u Phi(-u) - phi(u)
    # and e_2 = (y e_1 + c Phi(-u)) / 2 (the values at us, cs: 0 where unused).
    y, c2 = cs * us, cs * cs
    e_1 = jnp.where(series, us * scaled_sf - scaled_pdf, 0.0)
    e_2 = (y * e_1 + cs * jnp.where(series, scaled_sf, 0.0)) / 2.0

    prev, now, summed = e_1, e_2, e_1 + e_2
    for n in range(2, _N_SERIES):
        prev, now = now, (y * now + c2 * prev) / (n + 1.0)
        summed = summed + now
    direct = (jnp.exp(log_g - log_scale) - scaled_sf) / jnp.where(series, 1.0, c)
    return jnp.where(series, summed, direct)


def _wald_narrow(
    v: Array, s: Array, d_mid: Array, h: Array, nu: _Normal, nb: _Normal
) -> tuple[Array, Array]:
    """``(log S, log F)`` of a Wald accumulator averaged over a narrow window, from
    the Taylor series of the fixed-start ``S`` about the window's midpoint ``m``:
    ``S(m) + sum_{k=1}^K h^2k / (2k + 1)! S^(2k)(m)`` (``h`` half the width in ``u``),
    i.e. ``S(m) + phi(m) T - g(m) (sinh(h c) / (h c) - 1)``, ``T`` summed from the
    recurrences of the derivatives of ``Phi`` and ``g``; ``F`` is one minus it, each taken
    relative to its own fixed-start value (so that neither loses precision where it
    is small). Exact at ``A = 0`` (``h = 0``). ``d_mid``: the midpoint's distance;
    ``nu``, ``nb``: the normal functions at its ``u`` and ``b`` (see `_wald_point`).
    """
    root = jnp.sqrt(s)
    log_surv, log_cdf, log_pdf, log_g = _wald_point(d_mid, v, s, nu, nb, extra=True)
    c = 2.0 * v * root
    m = (d_mid - v * s) / root
    # h^n S^(n)(m), relative to phi(m) and g(m): with g' = c g - phi and
    # phi^(n) = (-1)^n He_n phi, h^n g^(n) = (h c)^n g - a_n phi where
    # a_(n+1) = (h c) a_n + (-1)^n h^(n+1) He_n, and h^n Phi^(n) = (-1)^(n-1) h^n He_(n-1) phi.
    # So h^2k S^(2k) = (a_2k - h^2k He_(2k-1)) phi - (h c)^2k g; the phi part is summed
    # here (the g part in closed form below). hHe_n = h^n He_n by its recurrence.
    hm, h2, hc = h * m, h * h, h * c
    he_prev, he_now, a_now = jnp.ones_like(h), hm, h  # at n = 1: h^0 He_0, h^1 He_1, a_1
    taylor = jnp.zeros_like(h)
    for n in range(1, 2 * _N_TAYLOR):
        a_now = hc * a_now + (-1.0) ** n * h * he_now
        he_prev, he_now = he_now, hm * he_now - n * h2 * he_prev
        if n % 2 == 1:  # now a_(n+1) with n + 1 = 2k: add (a_2k - h^2k He_(2k-1)) / (2k + 1)!
            taylor = taylor + (a_now - h * he_prev) / float(math.factorial(n + 2))
    (taylor,) = stage(taylor)
    hc2 = h2 * c * c
    sinhc_minus_1 = hc2 * _horner(tuple(1.0 / math.factorial(2 * k + 3) for k in range(_N_TAYLOR + 2)), hc2)
    # The corrections are small against S(m) and F(m) (clipped only where rounding has
    # already lost S(m) in a far tail, so that the value stays finite).
    def correction(log_ref: Array, sign: float) -> Array:
        ratio_pdf = jnp.exp(jnp.minimum(log_pdf - log_ref, 60.0))
        ratio_g = jnp.exp(jnp.minimum(log_g - log_ref, 60.0))
        return jnp.log1p(jnp.clip(sign * (ratio_pdf * taylor - ratio_g * sinhc_minus_1), -0.5, 1.0))

    return log_surv + correction(log_surv, 1.0), log_cdf + correction(log_cdf, -1.0)


def _wald_wide(
    u0: Array, width: Array, c: Array, v: Array, s: Array, B: Array, normals: list[_Normal], cdf: bool
) -> tuple[Array, Array | None]:
    """``(log S, log F)`` of a Wald accumulator averaged over a wide window.

    ``normals``: the normal functions at ``u0``, ``u1 = u0 + width``, ``u0 + c`` and
    ``u1 + c``. With ``g(u) = exp(2 v d) Phi(-(u + c))``, ``S = (J(u1) - J(u0) -
    int g) / width`` and ``F = (J(-u0) - J(-u1) + int g) / width``, ``int g`` the
    integral of ``g`` over the window: ``(Phi(u1) - Phi(u0) + g(u1) - g(u0)) / c`` for
    ``c >= 1``, else ``E(u1) - E(u0)`` (`_divided_g`). ``S`` is scaled by ``Phi(u1)``
    (no larger than any survival in the window), ``F`` by the fixed-start ``F`` at
    ``d = B`` (no smaller than any in it), so that neither underflows.
    """
    n0, n1, m0, m1 = normals
    u1 = u0 + width
    tiny = jnp.finfo(u0.dtype).tiny
    log_width = jnp.log(width)
    log_g0 = 2.0 * v * B + m0.log_sf
    log_g1 = 2.0 * v * (B + width * jnp.sqrt(s)) + m1.log_sf
    (log_band,) = stage(_log_interval(n0, n1, u0 + u1 > 0))
    large = c >= _C_SWITCH
    cl = jnp.where(large, c, _C_SWITCH)
    cs = jnp.where(large, 0.0, c)
    u_both = jnp.stack([u0, u1])
    log_sf_both = jnp.stack([n0.log_sf, n1.log_sf])
    log_pdf_both = jnp.stack([n0.log_pdf, n1.log_pdf])
    log_g_both = jnp.stack([log_g0, log_g1])

    def int_g(log_scale: Array) -> Array:
        """The integral of g over the window, times exp(-log_scale)."""
        by_c = (
            jnp.exp(log_band - log_scale) + jnp.exp(log_g1 - log_scale) - jnp.exp(log_g0 - log_scale)
        ) / cl
        # (A unit scale where c is large: exp(-log_scale) may overflow there.)
        small_scale = jnp.where(large, 0.0, log_scale)
        e = _divided_g(u_both, cs, log_sf_both, log_pdf_both, log_g_both, small_scale)
        return jnp.where(large, by_c, e[1] - e[0])

    log_scale_s = n1.log_cdf
    log_j1, log_j0, int_g_s = stage(_log_j(n1, u1), _log_j(n0, u0), int_g(log_scale_s))
    surv = jnp.exp(log_j1 - log_scale_s) - jnp.exp(log_j0 - log_scale_s) - int_g_s
    log_surv = log_scale_s + jnp.log(jnp.maximum(surv, tiny)) - log_width
    if not cdf:
        return log_surv, None
    log_scale_f = jnp.logaddexp(n0.log_sf, log_g0)
    cdf_value = (
        jnp.exp(_log_j(n0, -u0) - log_scale_f) - jnp.exp(_log_j(n1, -u1) - log_scale_f) + int_g(log_scale_f)
    )
    log_cdf = log_scale_f + jnp.log(jnp.maximum(cdf_value, tiny)) - log_width
    return log_surv, log_cdf


class _WaldGrid(NamedTuple):
    """The points at which a start-averaged Wald accumulator's functions are evaluated
    (see `wald_window`): the window in ``u = (d - v s) / sqrt s`` units, which branch
    each accumulator takes, and the normal functions at every point either branch needs."""

    root: Array  # sqrt(s)
    u0: Array  # u at d = B
    width: Array  # A / sqrt(s)
    c: Array  # 2 v sqrt(s)
    narrow_s: Array  # the survival function's narrow branch
    wide_width: Array  # width where wide, 1 where narrow
    h: Array  # half the width where narrow, 0 where wide
    normals: list[_Normal]  # at u0, u1, u0 + c, u1 + c, u_mid, u_mid + c


def _wald_grid(v: Array, s: Array, B: Array, A: Array) -> _WaldGrid:
    root = jnp.sqrt(s)
    width, u0, c = stage(A / root, (B - v * s) / root, 2.0 * v * root)
    mid = u0 + width / 2.0
    narrow_s = width * (1.0 + jnp.abs(mid) + jnp.abs(c)) <= _NARROW_SURVIVAL
    wide_width = jnp.where(narrow_s, 1.0, width)
    u1 = u0 + wide_width
    # The narrow branch's midpoint (d = B where the window is wide: harmless).
    h = jnp.where(narrow_s, width / 2.0, 0.0)
    u_mid = u0 + h
    # The normal functions at every point either branch needs, in one evaluation.
    normals = _split(_normal(jnp.stack([u0, u1, u0 + c, u1 + c, u_mid, u_mid + c])))
    return _WaldGrid(root, u0, width, c, narrow_s, wide_width, h, normals)


def wald_survival(v: Array, s: Array, B: Array, A: Array) -> Array:
    """``log S`` of a Wald accumulator with start uniform on ``(0, A)``: the survival
    function alone (as `wald_window` gives it, without the density), for the losers of
    a race."""
    grid = _wald_grid(v, s, B, A)
    narrow_surv, _ = _wald_narrow(v, s, B + grid.h * grid.root, grid.h, *grid.normals[4:])
    wide_surv, _ = _wald_wide(grid.u0, grid.wide_width, grid.c, v, s, B, grid.normals[:4], False)
    return jnp.where(grid.narrow_s, narrow_surv, wide_surv)


@overload
def wald_window(
    v: Array, s: Array, B: Array, A: Array, cdf: Literal[False] = False
) -> tuple[Array, Array]: ...


@overload
def wald_window(v: Array, s: Array, B: Array, A: Array, cdf: Literal[True]) -> tuple[Array, Array, Array]: ...


def wald_window(
    v: Array, s: Array, B: Array, A: Array, cdf: bool = False
) -> tuple[Array, Array] | tuple[Array, Array, Array]:
    """``(log f, log S)``, with ``cdf=True`` ``(log f, log S, log F)``, of a Wald
    accumulator with start uniform on ``(0, A)``.

    Threshold ``A + B``, drift ``v`` (any real), unit noise, decision time ``s > 0``:
    density, survival and distribution function (defective where ``v < 0``: the
    accumulator then finishes with probability ``E[exp(2 v d)]`` only).
    ``A = 0`` gives the fixed-start (Wald, inverse Gaussian) accumulator. With
    ``cdf=True`` both ``S`` and ``F`` have full relative precision when near 1 too (each
    is then taken from the other); without, ``log S`` has full absolute precision there.
    The density alone is `log_window_density` (with ``sigma = 1 / sqrt(s)``), the
    survival function alone `wald_survival`.
    """
    grid = _wald_grid(v, s, B, A)
    root, u0, width, narrow_s, wide_width, normals = (
        grid.root, grid.u0, grid.width, grid.narrow_s, grid.wide_width, grid.normals
    )
    sigma = 1.0 / root
    # (narrow for the survival function implies narrow for the density)
    narrow_f = width / 2.0 * (1.0 + jnp.abs(u0 + width / 2.0)) <= _NARROW_DENSITY
    narrow_surv, narrow_cdf = _wald_narrow(v, s, B + grid.h * root, grid.h, *normals[4:])
    wide_surv, wide_cdf = _wald_wide(u0, wide_width, grid.c, v, s, B, normals[:4], cdf)
    wide_f = _density_wide(v, sigma, s, u0, wide_width, *normals[:2])
    log_f = jnp.where(narrow_f, _density_narrow(v, sigma, s, B, A, u0, width, narrow_f), wide_f)
    log_surv = jnp.where(narrow_s, narrow_surv, wide_surv)
    if wide_cdf is None:
        return log_f, log_surv
    log_cdf = jnp.where(narrow_s, narrow_cdf, wide_cdf)
    # Each of S and F is computed to full relative precision where it is the smaller
    # one; the log of the other is log1p of minus it.
    return (
        log_f,
        jnp.where(log_cdf < _LOG_HALF, _log_complement(log_cdf), log_surv),
        jnp.where(log_surv < _LOG_HALF, _log_complement(log_surv), log_cdf),
    )


def wald_first_passage(key: PRNGKeyArray, v: Array, B: Array, A: Array) -> Array:
    """Decision times of Wald accumulators, start uniform on ``(0, A)``, threshold
    ``A + B``: ``inf`` for one that never finishes (possible only where ``v < 0``).

    Given the distance ``d``, a drift ``v < 0`` reaches the threshold with probability
    ``exp(2 v d)``, and then at a time distributed as with drift ``|v|``: an inverse
    Gaussian time (mean ``d / |v|``, shape ``d^2``), drawn by Michael, Schucany & Haas
    (1976), written in ``1 / sqrt(time)`` so that ``v = 0`` (a Levy time ``d^2 / Z^2``)
    needs no special case.
    """
    dtype = v.dtype
    key_start, key_normal, key_root, key_reach = jax.random.split(key, 4)
    d = B + A * (1.0 - jax.random.uniform(key_start, v.shape, dtype=dtype))
    nu = jnp.abs(v)
    y = jnp.square(jax.random.normal(key_normal, v.shape, dtype=dtype))
    sq = jnp.sqrt(y) + jnp.sqrt(y + 4.0 * nu * d)
    small_root = jnp.square(2.0 * d / sq)  # d^2 / y at v = 0
    # Probability mu / (mu + root) of the smaller root, mu = d / nu (1 at v = 0).
    p_small = jnp.where(nu > 0, d / (d + nu * small_root), 1.0)
    large_root = jnp.where(nu > 0, jnp.square(sq / (2.0 * jnp.where(nu > 0, nu, 1.0))), jnp.inf)
    u = jax.random.uniform(key_root, v.shape, dtype=dtype)
    time = jnp.where(u < p_small, small_root, large_root)
    reached = jax.random.uniform(key_reach, v.shape, dtype=dtype) < jnp.exp(2.0 * jnp.minimum(v, 0.0) * d)
    return jnp.where(reached, time, jnp.inf)


# ---------------------------------------------------------------------------- LBA
def lba_survival(v: Array, sd: Array, s: Array, B: Array, A: Array) -> Array:
    """``log S`` of an LBA accumulator: start uniform on ``(0, A)``, threshold
    ``A + B``, drift ``N(v, sd^2)``, decision time ``s > 0`` (its density is
    `log_window_density` with ``sigma = sd``).

    The survival function is ``P(D < d / s)`` averaged over ``d``:
    ``(1 / width) integral Phi(z) dz`` over ``z0 .. z0 + width``
    (``z = (d - v s) / (sd s)``); it includes the trials on which the drift is negative
    (the standard, defective LBA). Narrow windows (as for the density): ``Phi(m) -
    phi(m) sum_{k >= 1} h^2k He_(2k-1)(m) / (2k + 1)!``; wide ones:
    ``(J(z1) - J(z0)) / width``, or where the window lies mostly above 0 one minus
    ``(J(-z0) - J(-z1)) / width`` (``J(z) - J(-z) = z``).
    """
    width = A / (sd * s)
    z0 = (B - v * s) / (sd * s)
    mid = z0 + width / 2.0
    narrow = width / 2.0 * (1.0 + jnp.abs(mid)) <= _NARROW_DENSITY
    wide_width = jnp.where(narrow, 1.0, width)
    z1 = z0 + wide_width
    mid_n = jnp.where(narrow, mid, 0.0)
    n0, n1, nm = _split(_normal(jnp.stack([z0, z1, mid_n])))

    # Wide windows.
    log_width = jnp.log(wide_width)
    lower_mean = _log_diff(_log_j(n1, z1), _log_j(n0, z0)) - log_width
    upper_mean = _log_complement(_log_diff(_log_j(n0, -z0), _log_j(n1, -z1)) - log_width)
    wide_surv = jnp.where(z0 + wide_width / 2.0 > 0, upper_mean, lower_mean)
    # Narrow windows.
    h = jnp.where(narrow, width / 2.0, 0.0)
    series = h * _hermite_sums(mid_n, h, _DENSITY_TABLE)[2]
    narrow_surv = nm.log_cdf + jnp.log1p(-jnp.exp(nm.log_pdf - nm.log_cdf) * series)
    return jnp.where(narrow, narrow_surv, wide_surv)


def lba_first_passage(key: PRNGKeyArray, v: Array, sd: Array, B: Array, A: Array) -> Array:
    """Decision times of LBA accumulators: ``(B + A - start) / D`` for a drift
    ``D ~ N(v, sd^2)`` and a start uniform on ``(0, A)``; ``inf`` where ``D <= 0``."""
    dtype = v.dtype
    key_start, key_drift = jax.random.split(key)
    d = B + A * (1.0 - jax.random.uniform(key_start, v.shape, dtype=dtype))
    drift = v + sd * jax.random.normal(key_drift, v.shape, dtype=dtype)
    positive = drift > 0
    return jnp.where(positive, d / jnp.where(positive, drift, 1.0), jnp.inf)
