"""First-passage densities of a Wiener process between two time-varying boundaries,
from the Volterra integral equations of the second kind that they satisfy.

The process: ``X(s) = x0 + v s + W(s)`` (unit noise), absorbed at the upper boundary
``S_1(s) = b(s)`` or the lower one ``S_2(s) = -b(s)``; ``x0 = b(0) (2z - 1)``.

Equations
---------
Write ``f(x, s | y, r)`` for the Gaussian transition density of ``W`` (variance
``s - r``) and

    psi(S_i, s | y, r) = 1/2 [S_i'(s) - (S_i(s) - y) / (s - r)] f(S_i(s), s | y, r).

The driftless first-passage densities ``g_1`` (upper) and ``g_2`` (lower) solve
(Buonocore, Nobile & Ricciardi 1987; Buonocore, Giorno, Nobile & Ricciardi 1990)

    g_i(s) = sigma_i [ -2 psi(S_i, s | x0, 0)
                       + 2 sum_j int_0^s g_j(r) psi(S_i, s | S_j(r), r) dr ],

``sigma_1 = +1``, ``sigma_2 = -1``. With this choice of ``psi`` the kernel of the
boundary on itself vanishes as ``r -> s`` (like ``b''(s) sqrt(s - r)``; identically for
a constant or linear boundary), and the kernel between the boundaries like
``exp(-2 b^2 / (s - r))``: nothing singular is left to integrate, and the trapezoid
rule applies on any grid, with the term at ``r = s`` equal to 0, so the discrete
equations are explicit (a unit lower-triangular system: forward substitution).

Drift
-----
For a path stopped at ``S(s)``, Girsanov's theorem gives the density with drift ``v``
from the driftless one: ``g_v(s) = g_0(s) exp(v (S(s) - x0) - v^2 s / 2)``. One solve
per ``(a, z, boundary parameters)`` therefore serves every drift.

Grid
----
The nodes are uniform in a computational time ``p``: ``ds/dp = rate(s)`` with
``1 / rate = 1 / (gamma (s + s0)) + 1 / b(s)^2``. Early on (``s`` below about
``b^2 / gamma``) the nodes are geometric (ratio ``exp(gamma dp)``), which resolves the
sharp initial peak of the density at the nearer boundary (its scale is the squared
start distance ``d^2``; ``s0 = d^2 / 40``); later they are uniform in the boundary's
own diffusion clock ``int ds / b(s)^2``, which keeps the kernel resolved as a
collapsing boundary closes (and never passes a closing point). The trapezoid rule in
``p`` of integrands that are flat at both ends (the density at 0, the kernels at the
diagonal) converges faster than any power of ``dp`` for the constant and linear
boundaries; for curved ones the ``sqrt(s - r)`` kernel limits it to order 3/2.
The map is integrated with one classic Runge-Kutta step per node; nodes past
``max_t`` are moved to ``max_t`` (zero-width intervals).

Density at a response time
--------------------------
At an observed decision time ``s`` the density is the right-hand side of the
equation, evaluated with the solved node values and trapezoid weights on the nodes
before ``s`` (the Nystrom formula): smooth in ``s`` between nodes, continuous across
them, and exact in its derivatives with respect to ``s``, ``t`` and every parameter
given the grid, not an interpolant.

Precision
---------
The kernel's bracket is a difference of two slopes that nearly cancel near the
diagonal: float64 is needed for the accuracy documented in
[`Diffusion`][rlssm.decision.Diffusion].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._types import Array, Float
from ..boundaries import AbstractBoundary

__all__ = ["FirstPassage", "solve", "time_grid"]

_GAMMA = 2.5
"""Geometric growth of the early nodes per unit of ``p``: the log-step is ``2.5 dp``."""
_START_FRACTION = 1.0 / 40.0
"""``s0`` as a fraction of the squared start distance: the density is below
``exp(-20)`` of its peak before ``s0``."""
_PROBE = 2049
"""Points of the trapezoid rule that measures ``[0, max_t]`` in ``p``."""
_OVERSHOOT = 1.01
"""The nodes end this fraction past ``max_t`` when they reach it, so that the
probe's error cannot leave times before ``max_t`` uncovered."""
_SUBSTEPS = 16
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class FirstPassage(eqx.Module):
    """The solved driftless first-passage densities of one ``(a, z, boundary)``
    (batch dimensions in front when vmapped).

    Attributes
    ----------
    s
        The nodes (decision times), ``(nodes,)``, from 0 to the grid's end.
    w
        Their trapezoid weights (``dp`` times the map's rate at each node).
    b
        The half-width at the nodes.
    g
        Driftless densities at the nodes, ``(2, nodes)``: upper boundary, lower one.
    x0
        The start, ``b(0) (2z - 1)``.
    """

    s: Float[Array, "... nodes"]
    w: Float[Array, "... nodes"]
    b: Float[Array, "... nodes"]
    g: Float[Array, "... 2 nodes"]
    x0: Float[Array, "..."]

    @property
    def end(self) -> Float[Array, "..."]:
        """The last node: the density is treated as 0 after it."""
        return self.s[..., -1]


def _kernels(
    target: Array, slope: Array, source: Array, lag: Array
) -> tuple[Array, Array]:
    """``psi(b, s | b(r), r)`` (the upper boundary on itself) and ``psi(b, s | -b(r), r)``
    (the lower one on the upper), for ``b(s) = target``, ``b'(s) = slope``,
    ``b(r) = source`` and ``lag = s - r``; 0 where ``lag <= 0``.

    By the symmetry of the bounds, the lower boundary's kernels are their negatives.
    """
    ahead = lag > 0
    inverse = 1.0 / jnp.where(ahead, lag, jnp.ones_like(lag))
    scale = jnp.where(ahead, 0.5 * jnp.sqrt(inverse) * _INV_SQRT_2PI, jnp.zeros_like(lag))
    same_gap = target - source
    cross_gap = target + source
    same = (slope - same_gap * inverse) * jnp.exp(-0.5 * same_gap * same_gap * inverse)
    cross = (slope - cross_gap * inverse) * jnp.exp(-0.5 * cross_gap * cross_gap * inverse)
    return scale * same, scale * cross


def _forcing(target: Array, slope: Array, x0: Array, s: Array) -> Array:
    """``-2 psi(S, s | x0, 0)`` for ``S(s) = target``, ``S'(s) = slope``; 0 at ``s <= 0``."""
    ahead = s > 0
    inverse = 1.0 / jnp.where(ahead, s, jnp.ones_like(s))
    gap = target - x0
    value = -(slope - gap * inverse) * jnp.exp(-0.5 * gap * gap * inverse) * jnp.sqrt(inverse) * _INV_SQRT_2PI
    return jnp.where(ahead, value, jnp.zeros_like(value))


def time_grid(
    boundary: AbstractBoundary,
    a: Float[Array, ""],
    z: Float[Array, ""],
    params: Mapping[str, Float[Array, ""]],
    n_steps: int,
    dp: float,
    max_t: float,
) -> tuple[Float[Array, " nodes"], Float[Array, " nodes"]]:
    """The ``n_steps + 1`` nodes of one solve (see the module docstring), from 0, and
    their trapezoid weights ``dp * rate(s_k)``.

    The step in ``p`` is ``dp``, or smaller where ``n_steps`` steps of ``dp`` would
    reach past ``max_t``: then the nodes end just past ``max_t``. The nodes move
    with the parameters and are differentiated through: for curved boundaries the
    discretisation error depends on where a response time falls between nodes, so a
    gradient with the nodes held fixed would differ from the derivative of the
    computed value by about that error divided by the step.
    """
    b0 = boundary(jnp.zeros_like(a), a, **params)
    distance = b0 * (1 - jnp.abs(2 * z - 1))
    s0 = _START_FRACTION * distance * distance

    def rate(s: Array) -> Array:
        geometric = _GAMMA * (s + s0)
        b = boundary(s, a, **params)
        b2 = b * b
        # 1 / (1 / geometric + 1 / b^2), written so that b = 0 gives 0.
        return geometric * b2 / (geometric + b2)

    # Length of [0, max_t] in p (to 1e-3): the log part in closed form, int b^-2 by the
    # trapezoid rule (infinite where the bounds close before max_t).
    probe = jnp.linspace(0.0, max_t, _PROBE, dtype=a.dtype)
    # b is held above 1e-6 b(0) here (a closed boundary counts as 1e12 / b(0)^2 per
    # second), so that the length and its derivative are finite.
    inverse_square = 1.0 / jnp.maximum(boundary(probe, a, **params), 1e-6 * b0) ** 2
    clock = jnp.sum(0.5 * (inverse_square[1:] + inverse_square[:-1])) * (max_t / (_PROBE - 1))
    length = jnp.log1p(max_t / s0) / _GAMMA + clock
    h = jnp.where(dp * n_steps < _OVERSHOOT * length, dp, _OVERSHOOT * length / n_steps)
    sub = h / _SUBSTEPS

    def substep(_: object, s: Array) -> Array:
        k1 = rate(s)
        k2 = rate(s + 0.5 * sub * k1)
        k3 = rate(s + 0.5 * sub * k2)
        k4 = rate(s + sub * k3)
        return s + sub * (k1 + 2 * k2 + 2 * k3 + k4) / 6

    def step(s: Array, _: None) -> tuple[Array, Array]:
        # Several classic Runge-Kutta steps per node, so that the weights dp * rate(s_k)
        # are the derivative of the map through the nodes to well below the tolerance.
        s = lax.fori_loop(0, _SUBSTEPS, substep, s)
        return s, s

    _, nodes = lax.scan(step, jnp.zeros_like(a), None, length=n_steps)
    nodes = jnp.concatenate([jnp.zeros_like(a)[None], nodes])
    return nodes, h * rate(nodes)


def solve(
    boundary: AbstractBoundary,
    a: Float[Array, ""],
    z: Float[Array, ""],
    params: Mapping[str, Float[Array, ""]],
    n_steps: int,
    dp: float,
    max_t: float,
) -> FirstPassage:
    """Solve the driftless equations for one ``(a, z, boundary parameters)`` (scalars;
    vmap for a batch).

    With ``S`` and ``C`` the upper boundary's kernels on itself and from the lower one
    (the lower boundary's are ``-S`` and ``-C``), the equations read
    ``g_1 = F_1 + 2 int (S g_1 + C g_2)`` and ``g_2 = F_2 + 2 int (C g_1 + S g_2)``:
    their sum and difference decouple, and each is solved by forward substitution
    (a ``lax.scan`` over the nodes, the sum over earlier nodes vectorised): O(n^2)
    work, O(n) memory per step in both passes of reverse-mode autodiff.
    """
    s, w = time_grid(boundary, a, z, params, n_steps, dp, max_t)
    b, slope = boundary.value_and_slope(s, a, **params)
    x0 = boundary(jnp.zeros_like(a), a, **params) * (2 * z - 1)
    forcing_up = _forcing(b, slope, x0, s)
    forcing_lo = -_forcing(-b, -slope, x0, s)
    forcing = jnp.stack([forcing_up + forcing_lo, forcing_up - forcing_lo])  # (2, nodes)

    def substitute(sums: Array, index: Array) -> tuple[Array, None]:
        # Row `index`: 2 w_k times the kernels at (s_index, s_k), computed here so that
        # neither pass stores an n x n matrix; the weight of the node itself multiplies
        # a zero kernel, later nodes are masked by the lag, and g is 0 at node 0.
        s_n, b_n, slope_n, force = (
            lax.dynamic_index_in_dim(x, index, axis=x.ndim - 1, keepdims=False) for x in (s, b, slope, forcing)
        )
        same, cross = _kernels(b_n, slope_n, b, s_n - s)
        plus = jnp.sum(2.0 * w * (same + cross) * sums[0])
        minus = jnp.sum(2.0 * w * (same - cross) * sums[1])
        value = force + jnp.stack([plus, minus])
        return lax.dynamic_update_index_in_dim(sums, value, index, axis=1), None

    n = s.shape[0]
    sums, _ = lax.scan(substitute, jnp.zeros((2, n), dtype=s.dtype), jnp.arange(n))
    g = 0.5 * jnp.stack([sums[0] + sums[1], sums[0] - sums[1]])
    return FirstPassage(s=s, w=w, b=b, g=g, x0=x0)


def _partial_weights(solution: FirstPassage, here: Array) -> Array:
    """Trapezoid weights of the nodes for the integral from 0 to ``here`` (``(..., 1)``).

    Whole panels before ``here`` weigh ``w_k``; the panel ``[s_m, here]`` is the
    fraction ``phi = (here - s_m) / (s_{m+1} - s_m)`` of its panel in ``p``, and adds
    ``phi w_m / 2`` to node ``m`` (the term at ``here`` has a zero kernel). The weights
    are continuous in ``here``.
    """
    nodes = solution.s
    following = jnp.concatenate([nodes[..., 1:], nodes[..., -1:] + 1.0], axis=-1)
    width = following - nodes
    phi = jnp.clip((here - nodes) / width, 0.0, 1.0)
    return jnp.where(nodes < here, 0.5 * solution.w * (1.0 + phi), 0.0)


def density(
    solution: FirstPassage,
    boundary: AbstractBoundary,
    s: Float[Array, "..."],
    upper: Array,
    a: Float[Array, "..."],
    params: Mapping[str, Float[Array, "..."]],
) -> Float[Array, "..."]:
    """Driftless density at decision times ``s`` (``s > 0``) by the Nystrom formula.

    ``solution``'s arrays carry the batch shape of ``s`` (or one that broadcasts to it)
    in front of the node axis; ``upper`` picks the boundary per element.
    """
    sigma = jnp.where(upper, 1.0, -1.0).astype(s.dtype)
    b_s, slope_s = boundary.value_and_slope(s, a, **params)
    forcing = sigma * _forcing(sigma * b_s, sigma * slope_s, solution.x0, s)
    here = s[..., None]
    weight = _partial_weights(solution, here)
    same, cross = _kernels(b_s[..., None], slope_s[..., None], solution.b, here - solution.s)
    g_up, g_lo = solution.g[..., 0, :], solution.g[..., 1, :]
    g_same = jnp.where(upper[..., None], g_up, g_lo)
    g_cross = jnp.where(upper[..., None], g_lo, g_up)
    return forcing + 2.0 * jnp.sum(weight * (same * g_same + cross * g_cross), axis=-1)


def undecided(solution: FirstPassage, v: Float[Array, ""]) -> Float[Array, ""]:
    """Probability that the process with drift ``v`` is still between the bounds at the
    last node, for one solve (unbatched).

    The absorbed transition density is the free one minus what enters from the
    boundaries, ``p(x, s) = f(x, s | x0, 0) - sum_j int g_j(r) f(x, s | S_j(r), r) dr``
    (times the drift's likelihood ratio ``exp(v (x - x0) - v^2 s / 2)``), integrated
    over ``x`` between the bounds in closed form; the integral over ``r`` is the
    trapezoid rule on the nodes.
    """
    s_end = solution.s[-1]
    b_end = solution.b[-1]
    x0 = solution.x0

    def mass(y: Array, var: Array) -> Array:
        # int_{-b}^{b} f(x | y, var) exp(v (x - x0)) dx
        sd = jnp.sqrt(var)
        shift = y + v * var
        tilt = jnp.exp(v * (y - x0) + 0.5 * v * v * var)
        return tilt * (jax.scipy.stats.norm.cdf((b_end - shift) / sd) - jax.scipy.stats.norm.cdf((-b_end - shift) / sd))

    nodes = solution.s
    weight = jnp.where(nodes < s_end, solution.w, 0.5 * solution.w)
    lag = s_end - nodes
    live = lag > 0
    var = jnp.where(live, lag, 1.0)
    # At the last node itself the entering mass is half the density (the Gaussian's
    # half on the inside): its trapezoid weight carries g / 2.
    entering = 0.0
    for j, sign in enumerate((1.0, -1.0)):
        inner = jnp.where(live, mass(sign * solution.b, var), 0.5 * jnp.exp(v * (sign * b_end - x0)))
        entering = entering + jnp.sum(weight * solution.g[j] * inner)
    return jnp.exp(-0.5 * v * v * s_end) * (mass(x0, s_end) - entering)
