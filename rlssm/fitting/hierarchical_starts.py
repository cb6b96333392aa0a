"""Starting points of a hierarchical fit: the pooled optimum and one point per chain.

[`Hierarchical.pooled_estimate`][rlssm.fitting.Hierarchical.pooled_estimate] and
[`Hierarchical.initial_points`][rlssm.fitting.Hierarchical.initial_points] call these
with the fit's likelihood and its [`GroupModel`][rlssm.fitting.hierarchical_model.GroupModel].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .hierarchical_model import INIT_SIGMA, GroupModel
from .links import default_start, inside, link_inverse
from .nondecision import NDT_NAME

__all__ = ["chain_points", "pooled_optimum"]


def pooled_optimum(
    f: Callable[[Mapping[str, Any]], Any],
    built: GroupModel,
    fastest: np.ndarray,
    n_starts: int,
    seed: int,
) -> dict[str, float]:
    """Group values that maximise ``sum(f(params))`` when all participants share them.

    ``f`` takes a scalar per sampled parameter (fixed ones put in) and returns
    log-likelihoods whose sum is the data's. L-BFGS-B from the initial values and
    ``n_starts - 1`` uniform draws in the middle 80% of each support; the best optimum
    wins (see [`Hierarchical.pooled_estimate`][rlssm.fitting.Hierarchical.pooled_estimate]).
    """
    import jax
    import jax.numpy as jnp
    from scipy.optimize import minimize

    names = built.free_names
    fastest_all = float(np.min(fastest))
    box = []
    for name in names:
        lo, hi = built.support[name]
        if name == NDT_NAME and math.isfinite(fastest_all):
            hi = min(hi, fastest_all)  # capped: below every fastest response; lapses: start there
        # Clear of the edges, where a link's Jacobian vanishes.
        lo, hi = inside(lo, lo, hi), inside(hi, lo, hi)
        box.append((lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None))

    def objective(x: Any) -> Any:
        return -jnp.sum(f({n: x[i] for i, n in enumerate(names)}))

    value_and_grad = jax.jit(jax.value_and_grad(objective))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = value_and_grad(jnp.asarray(x))
        return float(v), np.asarray(g, dtype=float)

    first = []
    for name, (lo, hi) in zip(names, box):
        init = built.initvals.get(name)
        if init is None:
            init = default_start(lo, hi)
        low = -np.inf if lo is None else lo
        high = np.inf if hi is None else hi
        first.append(float(np.clip(init, low, high)))
    rng = np.random.default_rng(seed)
    starts = [np.array(first)]
    for _ in range(max(n_starts, 1) - 1):
        point = [
            rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))
            if lo is not None and hi is not None
            else x0 + rng.uniform(-0.5, 0.5)
            for x0, (lo, hi) in zip(first, box)
        ]
        starts.append(np.array(point))
    best: tuple[float, np.ndarray] | None = None
    for x0 in starts:
        result = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=box, options={"maxiter": 500})
        if np.isfinite(result.fun) and (best is None or result.fun < best[0]):
            best = (float(result.fun), np.asarray(result.x, dtype=float))
    if best is None:
        raise RuntimeError("pooled_estimate: the log-likelihood was not finite at any start")
    return {n: float(v) for n, v in zip(names, best[1])}


def chain_points(
    built: GroupModel,
    centre: Mapping[str, float],
    fastest: np.ndarray,
    chains: int,
    seed: int,
    jitter: float,
) -> list[dict[str, np.ndarray]]:
    """One starting point per chain around ``centre`` (natural units), as
    [`Hierarchical.initial_points`][rlssm.fitting.Hierarchical.initial_points] describes."""
    rng = np.random.default_rng(seed)
    n_part = len(fastest)  # one per participant
    free = built.pymc_model.named_vars
    points = []
    for _ in range(chains):
        point: dict[str, np.ndarray] = {}
        for name in built.free_names:
            link = built.links[name]
            lo, hi = built.support[name]
            eta = float(link.forward(float(centre[name]))) + rng.uniform(-jitter, jitter)
            value = float(link_inverse(link, eta))
            if name == NDT_NAME:
                # Below every participant's fastest response (with a lapse mixture: below
                # the fastest responses but the guesses), with room to spare.
                value = min(value, 0.9 * float(np.min(fastest)))
            if name in built.regressions:
                _formula_start(built, point, name, value, rng, jitter)
                continue
            point[name] = np.asarray(inside(value, lo, hi))
            sigma = INIT_SIGMA * math.exp(rng.uniform(-jitter, jitter))
            offsets = rng.uniform(-2 * jitter, 2 * jitter, n_part)
            if name in built.signed:
                point[f"{name}_sigma_signed"] = np.asarray(sigma)
                point[f"{name}_z_signed"] = offsets
                continue
            point[f"{name}_sigma"] = np.asarray(sigma)
            if name in built.centred:
                # A capped t is free as t_xi (its eta is derived); others as eta.
                key = f"{name}_xi" if f"{name}_xi" in free else f"{name}_eta"
                point[key] = float(link.forward(value)) + sigma * offsets
            elif f"{name}_zeta" in free:  # the capped, non-centred t
                point[f"{name}_zeta"] = offsets
            else:
                point[f"{name}_z"] = offsets
        points.append(point)
    return points


def _formula_start(
    built: GroupModel, point: dict[str, np.ndarray], name: str, value: float, rng: np.random.Generator, jitter: float
) -> None:
    """A parameter with a formula starts with every row near ``value``: the intercept
    there, coefficients near 0, spreads near 0.2 and small offsets (values in the
    variables' own units, as PyMC's initial values are)."""
    model = built.pymc_model
    link = built.links[name]
    lo, hi = built.support[name]
    free = {v.name for v in model.free_RVs}

    def shape(var: str) -> tuple[int, ...]:
        return tuple(int(d) for d in model[var].shape.eval())

    for var, _, natural in built.pieces[name]:
        if natural:
            point[var] = np.asarray(inside(value, lo, hi))
        elif var == f"{name}_Intercept":
            point[var] = np.asarray(float(link.forward(inside(value, lo, hi))))
        elif var in free:  # a coefficient
            point[var] = rng.uniform(-0.1 * jitter, 0.1 * jitter, shape(var))
        else:  # group effects: a Deterministic of a spread and offsets
            for spread, offsets in ((f"{var}_sigma_signed", f"{var}_z_signed"), (f"{var}_sigma", f"{var}_z")):
                if spread in free:
                    point[spread] = INIT_SIGMA * np.exp(rng.uniform(-jitter, jitter, shape(spread)))
                    point[offsets] = rng.uniform(-2 * jitter, 2 * jitter, shape(offsets))
                    break
