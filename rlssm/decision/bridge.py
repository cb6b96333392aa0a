"""Steps of the exact-increment samplers of diffusions between moving bounds (`Angle`,
`Diffusion`): the step length and the Brownian-bridge crossing time within a step."""

from __future__ import annotations

import jax.numpy as jnp

from .._types import Array

__all__ = ["bridge_crossing_offset", "step_length"]

# A sampler's steps are at most u^2 / 16 (u: half the gap at the step's start) and, where the
# bounds close at rate k, at most u / (4k), so that the gap stays above 1.5 u: six
# standard deviations of the step's increment. A path touching both boundaries within
# one step (the event the scheme does not resolve) then has probability below
# 2 Phi(-6) ~ 2e-9 per step. Steps are at least dt * 1e-6, so that paths ever closer to
# the meeting point of the bounds (where u ~ 1e-3 and the survival probability is nil)
# still end.
_STEP_GAP = 1.0 / 16.0
_STEP_CLOSE = 0.25
_STEP_MIN = 1e-6


def step_length(u: Array, k: Array, dt: Array) -> Array:
    """The sampler's step from a point where the bounds are ``+-u`` and close at rate
    ``k`` (see ``_STEP_GAP``)."""
    h = jnp.minimum(dt, _STEP_GAP * u * u)
    closing = k > 0
    h = jnp.where(closing, jnp.minimum(h, _STEP_CLOSE * u / jnp.where(closing, k, 1)), h)
    return jnp.maximum(h, _STEP_MIN * dt)


def bridge_crossing_offset(
    d1: Array, d2: Array, h: Array, normal: Array, uniform: Array
) -> Array:
    """Time into a step of length ``h`` at which a Brownian bridge from ``d1 > 0`` to
    ``d2`` first reaches 0, drawn given that it does.

    With ``r = h s / (h - s)`` the bridge reaches 0 at ``s`` exactly when a Brownian
    motion from ``d1`` with drift ``d2 / h`` reaches 0 at ``r``: an inverse Gaussian
    time (mean ``d1 h / |d2|``, shape ``d1^2``; conditioning on the crossing flips a
    drift away from 0). It is drawn by Michael, Schucany & Haas (1976), written in
    ``h / r`` so that ``d2 -> 0`` (a Levy time) needs no special case.
    """
    d1 = jnp.maximum(d1, jnp.finfo(d1.dtype).tiny)
    ratio = jnp.abs(d2) / d1
    p = h * normal * normal / (2 * d1 * d1)
    root = ratio + p + jnp.sqrt(p * (2 * ratio + p))  # h / r of the smaller root
    smaller = uniform * (root + ratio) <= root
    h_over_r = jnp.where(smaller, root, ratio * ratio / root)
    return h / (1 + h_over_r)
