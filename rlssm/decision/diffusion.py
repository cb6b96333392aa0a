"""A diffusion between two boundaries of any shape: exact likelihood (integral
equations) and a sampler that converges to the process."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._precision import input_float_dtype as _float_dtype
from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from ..boundaries import AbstractBoundary, Constant
from .base import AbstractDecisionModel
from .bridge import bridge_crossing_offset, step_length
from .first_passage import FirstPassage, density, solve

LOGP_FLOOR: float = -66.1
"""Log-density floor, HSSM's ``LOGP_LB``, as in [`DDM`][rlssm.DDM] and [`Angle`][rlssm.Angle]."""

_DIFFUSION_PARAMS: Mapping[str, ParamDecl] = MappingProxyType(
    {"v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0)}
)
_DIFFUSION_DOMAINS: Mapping[str, str] = MappingProxyType({"a": "(0, inf)", "z": "(0, 1)", "t": "[0, inf)"})


def _solve_batch(
    boundary: AbstractBoundary, a: Array, z: Array, params: dict[str, Array], n_steps: int, dp: float, max_t: float
) -> FirstPassage:
    """One solve per element of the broadcast ``(a, z, boundary parameters)``; the
    solution's arrays carry that shape in front of the node axis."""
    a, z, *values = jnp.broadcast_arrays(a, z, *params.values())
    shape = a.shape
    flat = {k: x.reshape(-1) for k, x in zip(params, values)}

    def one(a: Array, z: Array, p: dict[str, Array]) -> FirstPassage:
        return solve(boundary, a, z, p, n_steps, dp, max_t)

    solution = jax.vmap(one)(a.reshape(-1), z.reshape(-1), flat)
    return jax.tree_util.tree_map(lambda x: x.reshape(shape + x.shape[1:]), solution)


@eqx.filter_jit
def _sample_paths(
    boundary: AbstractBoundary,
    key: PRNGKeyArray,
    v: Array,
    a: Array,
    z: Array,
    t: Array,
    params: dict[str, Array],
    dt_max: float,
    horizon: float,
) -> tuple[Array, Array]:
    """The sampler of [`Diffusion`][rlssm.decision.Diffusion] on broadcast arrays of one
    float dtype (see its docstring)."""
    shape = v.shape
    dtype = v.dtype
    dt = jnp.asarray(dt_max, dtype=dtype)
    max_t = jnp.asarray(horizon, dtype=dtype)
    key_walk, key_time = jax.random.split(key)

    def step(xi: Array, uni: Array, state: tuple[Array, ...]) -> tuple[Array, ...]:
        s, x, alive, side, s_hit, h_hit, d1_hit, d2_hit = state
        u0, slope = boundary.value_and_slope(s, a, **params)
        h = jnp.where(alive, jnp.minimum(step_length(u0, -slope, dt), max_t - s), dt)
        u1 = boundary(s + h, a, **params)
        x1 = x + v * h + jnp.sqrt(h) * xi
        d1_up, d2_up = u0 - x, u1 - x1
        d1_lo, d2_lo = u0 + x, u1 + x1
        # Probability that the Brownian bridge from x to x1 touched each boundary,
        # taken as linear over the step (exact for a linear one; the error of the chord
        # is O(h^2 b''), which vanishes as the step shrinks); 1 past the boundary.
        p_up = jnp.exp(-2 * jnp.maximum(d1_up, 0) * jnp.maximum(d2_up, 0) / h)
        p_lo = jnp.exp(-2 * jnp.maximum(d1_lo, 0) * jnp.maximum(d2_lo, 0) / h)
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

    def body(carry: tuple[Array, tuple[Array, ...]]) -> tuple[Array, tuple[Array, ...]]:
        i, state = carry
        k_normal, k_uniform = jax.random.split(jax.random.fold_in(key_walk, i))
        xi = jax.random.normal(k_normal, shape, dtype=dtype)
        uni = jax.random.uniform(k_uniform, shape, dtype=dtype)
        return i + 1, step(xi, uni, state)

    def running(carry: tuple[Array, tuple[Array, ...]]) -> Array:
        return jnp.any(carry[1][2])

    zero = jnp.zeros(shape, dtype=dtype)
    start = boundary(zero, a, **params) * (2 * z - 1)
    state = (zero, start, jnp.ones(shape, dtype=bool), jnp.zeros(shape, dtype=jnp.int32), zero, zero + 1, zero + 1, zero + 1)
    _, (_, _, _, side, s_hit, h, d1, d2) = lax.while_loop(running, body, (jnp.asarray(0, dtype=jnp.int32), state))
    k_normal, k_uniform = jax.random.split(key_time)
    offset = bridge_crossing_offset(
        jnp.maximum(d1, 0),
        d2,
        h,
        jax.random.normal(k_normal, shape, dtype=dtype),
        jax.random.uniform(k_uniform, shape, dtype=dtype),
    )
    decided = side != 0
    rt = jnp.where(decided, t + s_hit + jnp.minimum(offset, h), jnp.inf)
    return rt, side


class Diffusion(AbstractDecisionModel):
    """A unit-noise diffusion between the boundaries ``+-b(s)`` of any shape, with its
    exact likelihood.

    The process (ssm-simulators' and HSSM's conventions): ``X(s) = x0 + v s + W(s)``,
    ``x0 = b(0) (2z - 1)``, ``b`` the half-width given by ``boundary`` (an
    [`AbstractBoundary`][rlssm.boundaries.AbstractBoundary]; `Constant` by default,
    the DDM); the response time is ``t + s`` at the first hit, ``+1`` the upper
    boundary. The parameters are ``v, a, z, t`` followed by the boundary's own
    (``Diffusion(Weibull())``: ``v, a, z, t, alpha, beta``, as HSSM's ``weibull``).

    **Likelihood.** The driftless first-passage densities solve a pair of Volterra
    integral equations of the second kind (see
    `rlssm.decision.first_passage`), solved once per distinct
    ``(a, z, boundary parameters)`` (per element of their broadcast shape: pass them
    with shape ``(participants, 1)`` against trials ``(participants, trials)`` and each
    participant is solved once), on ``n_steps + 1`` nodes geometric at first and then
    uniform in the boundary's diffusion clock ``int ds / b^2`` (step ``dp``). Any drift
    follows by Girsanov's change of measure, and the density at a response time by the
    Nystrom formula (the equation itself at that time), smooth in ``rt`` and ``t``.
    `logp` returns ``log(p + exp(LOGP_FLOOR))``, exactly the floor (zero gradient)
    where ``rt <= t`` and past the grid's end (``max_t``, or the time at which the
    diffusion clock reaches about ``n_steps * dp``: the density there is below
    ``exp(-(pi^2 / 8) n_steps dp)`` of its scale). Needs float64: the kernel near
    its diagonal is a difference of nearly equal slopes.

    Accuracy (float64, defaults, measured by ``benchmarks/diffusion_accuracy.py``
    and the tests): against [`DDM`][rlssm.DDM] and [`Angle`][rlssm.Angle] the
    absolute error of the density is about ``1e-11`` of its scale ``1 / a^2``: the
    log-density is within ``1e-6`` wherever the density is above about ``1e-5`` of
    that scale (far tails lose relative accuracy as the equation's two terms cancel).
    Curved shapes converge at order about 3/2 in ``dp``.

    **Sampler.** Steps of the exact Gaussian transition; a crossing between steps is
    detected with the probability that the Brownian bridge between the two positions
    touched the boundary's chord over the step, and its time drawn from that bridge's
    first-passage law, as in [`Angle`][rlssm.Angle] (exact for linear boundaries;
    for curved ones the chord's error vanishes as ``dt`` shrinks). Steps are at most
    ``dt``, ``b^2 / 16`` and, where the bounds close at rate ``k``, ``b / (4k)``. Paths
    run for at most ``max_t`` seconds of decision time; those undecided then return
    ``rt = inf`` and ``choice = 0``.

    Parameters
    ----------
    boundary
        The shape of the bounds (default `Constant()`).
    n_steps
        Intervals of the solver's grid (default 400).
    dp
        Step of the grid in its computational time (default 0.07); smaller when
        ``n_steps`` steps would reach past ``max_t``.
    max_t
        Longest decision time modelled, in seconds (default 20, ssm-simulators'
        ``max_t``): the horizon of the grid and of the sampler.
    dt
        Longest step of the sampler, in seconds (default 0.01).
    """

    boundary: AbstractBoundary = eqx.field(default_factory=Constant)
    n_steps: int = eqx.field(default=400, static=True)
    dp: float = eqx.field(default=0.07, static=True)
    max_t: float = eqx.field(default=20.0, static=True)
    dt: float = eqx.field(default=0.01, static=True)

    choices: ClassVar[tuple[int, ...]] = (-1, 1)

    def __check_init__(self) -> None:
        clash = set(self.boundary.params) & set(_DIFFUSION_PARAMS)
        if clash:
            raise ValueError(
                f"Diffusion: the boundary {type(self.boundary).__name__} declares {sorted(clash)}, "
                f"which are the diffusion's own parameters {tuple(_DIFFUSION_PARAMS)}"
            )
        if not (isinstance(self.n_steps, int) and self.n_steps >= 2):
            raise ValueError(f"Diffusion: n_steps must be an integer >= 2, got {self.n_steps!r}")
        if not self.dp > 0:
            raise ValueError(f"Diffusion: dp must be positive, got {self.dp!r}")
        if not self.dt > 0:
            raise ValueError(f"Diffusion: dt must be positive, got {self.dt!r}")
        if not self.max_t >= self.dt:
            raise ValueError(f"Diffusion: max_t must be at least dt ({self.dt}), got {self.max_t!r}")

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        """``v, a, z, t`` (HSSM's ``angle`` bounds), then the boundary's own."""
        return MappingProxyType({**_DIFFUSION_PARAMS, **self.boundary.params})

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return MappingProxyType({**_DIFFUSION_DOMAINS, **self.boundary.domains})

    def _boundary_params(self, params: Mapping[str, RealLike]) -> tuple[str, ...]:
        names = tuple(self.boundary.params)
        if set(params) != set(names):
            raise TypeError(
                f"Diffusion({type(self.boundary).__name__}()): expected the boundary parameters "
                f"{names}, got {tuple(params)}"
            )
        return names

    def solve(self, a: RealLike, z: RealLike, **params: RealLike) -> FirstPassage:
        """The driftless first-passage densities for each element of the broadcast
        ``(a, z, boundary parameters)`` (what `logp` computes once per distinct set)."""
        names = self._boundary_params(params)
        dtype = _float_dtype(a, z, *params.values())
        cast = {n: jnp.asarray(params[n], dtype=dtype) for n in names}
        return _solve_batch(
            self.boundary, jnp.asarray(a, dtype=dtype), jnp.asarray(z, dtype=dtype), cast, self.n_steps, self.dp, self.max_t
        )

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        **params: RealLike,
    ) -> Float[Array, "..."]:
        names = self._boundary_params(params)
        dtype = _float_dtype(rt, v, a, z, t, *params.values())
        rt, choice, v, a, z, t = (jnp.asarray(x, dtype=dtype) for x in (rt, choice, v, a, z, t))
        bparams = {n: jnp.asarray(params[n], dtype=dtype) for n in names}
        solution = _solve_batch(self.boundary, a, z, bparams, self.n_steps, self.dp, self.max_t)
        shape = jnp.broadcast_shapes(rt.shape, choice.shape, v.shape, t.shape, solution.x0.shape)
        upper = jnp.broadcast_to(choice > 0, shape)
        s = jnp.broadcast_to(rt - t, shape)
        end = jnp.minimum(solution.end, self.max_t)
        live = (s > 0) & (s < end)
        # Elsewhere evaluate at a harmless time (the double-where trick).
        s = jnp.where(live, s, lax.stop_gradient(0.5 * end))
        a_full = jnp.broadcast_to(a, shape)
        b_full = {n: jnp.broadcast_to(x, shape) for n, x in bparams.items()}
        g0 = density(solution, self.boundary, s, upper, a_full, b_full)
        hit = jnp.where(upper, 1.0, -1.0).astype(dtype) * self.boundary(s, a_full, **b_full)
        log_tilt = v * (hit - solution.x0) - 0.5 * v * v * s
        p = jnp.maximum(g0, 0.0) * jnp.exp(log_tilt)
        floor = jnp.asarray(LOGP_FLOOR, dtype=dtype)
        out = jnp.where(live, jnp.log(p + jnp.exp(floor)), floor)
        nan_param = jnp.isnan(v) | jnp.isnan(a) | jnp.isnan(z) | jnp.isnan(t)
        for x in bparams.values():
            nan_param = nan_param | jnp.isnan(x)
        return jnp.where(nan_param, jnp.asarray(jnp.nan, dtype), out)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        **params: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        names = self._boundary_params(params)
        dtype = _float_dtype(v, a, z, t, *params.values())
        arrays = jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dtype) for x in (v, a, z, t, *(params[n] for n in names))))
        v, a, z, t = arrays[:4]
        return _sample_paths(
            self.boundary, key, v, a, z, t, dict(zip(names, arrays[4:])), dt_max=self.dt, horizon=self.max_t
        )
