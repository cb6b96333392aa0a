"""Fast approximate posteriors of a hierarchical fit: Pathfinder and ADVI, for exploration.

[`approximate`][rlssm.fitting.approximate] fits the PyMC model of a
[`Hierarchical`][rlssm.fitting.Hierarchical] with a variational method instead of NUTS and
returns draws in the layout of [`Hierarchical.sample`][rlssm.fitting.Hierarchical.sample]:
the same posterior variables (the signed coordinates dropped, ``<name>_sigma`` and
``<name>_z`` computed from them), dimensions ``chain`` (one chain) and ``draw``, and a
``log_likelihood`` group. Such draws are for a first look (are the group values
plausible, is the model worth sampling at all), not for final inference: both methods fit
a normal distribution on the sampler's unconstrained scale, and on the seed model the
group spreads and their intervals came out far from NUTS' (the fitting guide's section
"Fast approximate fits" has the comparison).

* ``method="pathfinder"``: Pathfinder (Zhang, Carpenter, Gelman and Vehtari 2022,
  "Pathfinder: parallel quasi-Newton variational inference", JMLR 23(306)). An L-BFGS
  optimisation of the log posterior from the chains' starting point
  ([`Hierarchical.initial_points`][rlssm.fitting.Hierarchical.initial_points]); at every
  iterate a normal approximation whose covariance is the L-BFGS inverse Hessian (a
  diagonal plus a low-rank factor, the paper's Algorithm 3) and whose mean is that
  iterate's quasi-Newton step; the iterate whose approximation has the largest ELBO
  (estimated from ``elbo_draws`` draws) gives the draws. With ``paths > 1`` that is
  repeated from ``paths`` jittered starts and the pooled draws are resampled with Pareto
  smoothed importance weights ``p(x) / q(x)`` (multi-path Pathfinder, the paper's
  Algorithm 2); on the seed model the weights' Pareto ``k`` was far above 0.7 (all the
  weight on a handful of draws), so one path, whose draws are returned as they are, is
  the default. The optimiser is SciPy's L-BFGS-B on the jitted log density; the
  inverse-Hessian factors and the draws are blackjax's (``blackjax.optimizers.lbfgs``).
* ``method="advi"`` / ``"fullrank_advi"``: PyMC's automatic differentiation variational
  inference (mean-field or full-rank normal), ``pymc.fit`` from the chains' starting
  point: ``iterations`` steps of stochastic gradient ascent on the ELBO, with Adam
  (learning rate 0.01) rather than PyMC's default adagrad (rate 0.001), which on the seed
  model was still far from converged after 2000 steps, and the step compiled to JAX.
"""

from __future__ import annotations

import math
import time
import warnings
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .nuts import check_count

if TYPE_CHECKING:
    import xarray as xr

    from .hierarchical import Hierarchical

__all__ = ["METHODS", "approximate", "draw_normal", "normal_approximations"]

METHODS = ("pathfinder", "advi", "fullrank_advi")
"""The methods [`approximate`][rlssm.fitting.approximate] knows."""

_PATHFINDER_OPTIONS = {"maxcor": 10, "elbo_draws": 10, "ftol": 1e-7, "gtol": 1e-6}
"""Defaults of Pathfinder's further keyword arguments."""

_DEFAULT_ITERATIONS = {"pathfinder": 1000, "advi": 10000, "fullrank_advi": 10000}

_ADVI_LEARNING_RATE = 0.01
"""Adam's learning rate in ADVI (PyMC's default optimiser, adagrad with rate 0.001, had
the seed model's loss at ~8500 after 2000 steps, where Adam at 0.01 reached ~3150, the
level of the converged fit, within 3000)."""


def approximate(
    fit: Hierarchical,
    method: str = "pathfinder",
    draws: int = 1000,
    seed: int = 0,
    log_likelihood: bool = True,
    *,
    iterations: int | None = None,
    paths: int = 1,
    init: str = "pooled",
    jitter: float = 0.25,
    progressbar: bool = False,
    **kwargs: Any,
) -> xr.DataTree:
    """Approximate draws from a hierarchical fit's posterior, for exploration.

    Parameters
    ----------
    fit
        The hierarchical fit (its PyMC model is fitted; nothing of it changes).
    method
        ``"pathfinder"`` (default), ``"advi"`` or ``"fullrank_advi"``; see the
        [module docs][rlssm.fitting.variational].
    draws
        Number of draws returned (one chain).
    seed
        Seed of the starting points and of every random draw.
    log_likelihood
        Add the ``log_likelihood`` group (``loglik``, one value per row of the data, in its
        order), as [`Hierarchical.sample`][rlssm.fitting.Hierarchical.sample] does.
    iterations
        Pathfinder: the most L-BFGS iterations of each path (default 1000; a path stops
        earlier once the log density stops improving). ADVI: the number of optimisation
        steps (default 10000).
    paths
        Pathfinder only: the number of paths. ``1`` (default) is single-path Pathfinder
        from ``fit.initial_points(1, seed=seed)[0]``, its draws returned as they are;
        more start from ``fit.initial_points(paths, seed=seed)``, and their draws are
        pooled and importance-resampled (a warning when the weights' Pareto ``k``
        exceeds 0.7).
    init, jitter
        Where the starts lie, as for
        [`Hierarchical.initial_points`][rlssm.fitting.Hierarchical.initial_points] (ADVI
        starts its means at the first of them).
    progressbar
        Show PyMC's progress bar (ADVI).
    **kwargs
        Pathfinder: ``maxcor`` (L-BFGS history size, default 10), ``elbo_draws`` (draws
        per ELBO estimate, default 10), ``ftol`` and ``gtol`` (L-BFGS-B stopping
        tolerances, defaults 1e-7 and 1e-6). ADVI: passed on to ``pymc.fit`` (e.g.
        ``obj_optimizer``, default ``pymc.adam(learning_rate=0.01)``; ``callbacks``;
        ``backend``, default ``"jax"``).

    Returns
    -------
    xarray.DataTree
        ``posterior`` (dimensions ``chain`` of size 1 and ``draw``, the variables of
        `Hierarchical.sample`; its ``attrs`` hold the method, the wall time and, for
        Pathfinder, the Pareto ``k`` of the importance weights, each path's L-BFGS
        iterations and best ELBO; for ADVI the final loss), for Pathfinder
        ``sample_stats`` (``lp`` and ``logq``, the model's and the approximation's log
        densities at each draw, on the unconstrained scale) and, unless
        ``log_likelihood=False``, ``log_likelihood``.

    Raises
    ------
    ValueError
        An unknown ``method``; a non-positive ``draws``, ``paths``, ``iterations``,
        ``maxcor`` or ``elbo_draws``; a negative ``seed``; a tolerance that is not
        positive and finite.
    TypeError
        A keyword argument the method does not take.

    Examples
    --------
    ```python
    fit = rlssm.fitting.Hierarchical(model, data)
    quick = rlssm.fitting.approximate(fit, method="pathfinder", draws=1000)
    rlssm.fitting.group_summary(fit, quick)   # means and 5%/95% quantiles (R-hat is NaN: one chain)
    ```
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    for name, value in (("draws", draws), ("paths", paths), ("iterations", iterations)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    check_count("seed", seed, 0)
    if method != "pathfinder" and paths != 1:
        raise TypeError(f"paths is a Pathfinder option; method {method!r} does not take it")
    if method == "pathfinder":
        unknown = sorted(set(kwargs) - set(_PATHFINDER_OPTIONS))
        if unknown:
            raise TypeError(
                f"approximate(method='pathfinder') got unknown keyword arguments {unknown}; "
                f"it takes {sorted(_PATHFINDER_OPTIONS)}"
            )
        for name in ("maxcor", "elbo_draws"):
            if name in kwargs:
                check_count(name, kwargs[name], 1)
        for name in ("ftol", "gtol"):
            value = kwargs.get(name, 1.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive, finite number (an L-BFGS-B tolerance), got {value!r}")
    n_iter = _DEFAULT_ITERATIONS[method] if iterations is None else iterations
    start_time = time.perf_counter()
    target = _TARGETS.get(fit)
    if target is None:
        target = _TARGETS[fit] = _Target(fit)
    if method == "pathfinder":
        options = {**_PATHFINDER_OPTIONS, **kwargs}
        starts = fit.initial_points(paths, seed=seed, jitter=jitter, init=init)
        flat, attrs, stats = _pathfinder(target, starts, draws, seed, n_iter, **options)
    else:
        start = fit.initial_points(1, seed=seed, jitter=jitter, init=init)[0]
        flat, attrs = _advi(target, start, method, draws, seed, n_iter, progressbar, kwargs)
        stats = {}
    attrs = {"inference_method": method, **attrs, "wall_s": time.perf_counter() - start_time}
    idata = target.to_datatree(flat, attrs, stats)
    if log_likelihood:
        idata["log_likelihood"] = fit.pointwise_log_likelihood(idata)
    return idata


# ---------------------------------------------------------------------- the target
_TARGETS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Compiled targets per fit: later calls on the same fit skip the compilation."""


class _Target:
    """A PyMC model's log density on its flat unconstrained vector (JAX), and the way back
    from such vectors to the posterior variables that `Hierarchical.sample` returns."""

    def __init__(self, fit: Hierarchical):
        import jax
        from jax.flatten_util import ravel_pytree
        from pymc.sampling.jax import get_jaxified_graph
        from pymc.util import get_default_varnames

        model = fit.pymc_model
        # The PyMC model, not the fit: a cached target must not keep its fit alive.
        self.pymc_model = model
        self.names = [v.name for v in model.value_vars]
        point = model.initial_point()
        _, self._unravel = ravel_pytree([np.asarray(point[n], dtype=float) for n in self.names])
        # What Hierarchical.sample keeps: free variables in natural units and
        # deterministics, less the signed coordinates (their sign is arbitrary).
        outputs = [
            v for v in get_default_varnames(model.unobserved_value_vars, include_transformed=False)
            if v.name not in fit.sampler_only
        ]
        self.out_names = [v.name for v in outputs]
        # One graph for the log density and the outputs: PyTensor's rewrites run once
        # (seconds), and XLA drops what each compiled function does not return.
        graph = get_jaxified_graph(inputs=model.value_vars, outputs=cast(Any, [model.logp(), *outputs]))
        self.logp: Callable[[Any], Any] = lambda x: graph(*self._unravel(x))[0]
        self.value_and_grad = jax.jit(jax.value_and_grad(self.logp))
        self._outputs = jax.jit(jax.vmap(lambda x: graph(*self._unravel(x))[1:]))

    def flatten(self, point: dict[str, np.ndarray], seed: int) -> np.ndarray:
        """A start (natural units, as `Hierarchical.initial_points` gives) as a flat vector."""
        import pymc as pm

        transformed = pm.initial_point.make_initial_point_fn(
            model=self.pymc_model, overrides=point, jitter_rvs=set(), return_transformed=True
        )(seed)
        return np.concatenate([np.asarray(transformed[n], dtype=float).ravel() for n in self.names])

    def batched_logp(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x``.

        One call of the compiled value-and-gradient per row rather than a vectorised
        log density: that would be one more compilation of the likelihood, which on the
        seed model (2900 rows, 4.4 ms a row here, 2.5 ms vectorised) costs about what it
        saves, and on small models more."""
        return np.array([float(self.value_and_grad(row)[0]) for row in x])

    def to_datatree(self, flat: np.ndarray, attrs: dict[str, Any], stats: dict[str, np.ndarray]) -> xr.DataTree:
        """Posterior (one chain) of flat unconstrained draws, and ``stats`` per draw."""
        import xarray as xr
        from pymc.backends.arviz import coords_and_dims_for_inferencedata

        coords, dims = coords_and_dims_for_inferencedata(self.pymc_model)
        chunk = 256
        n = len(flat)
        padded = np.concatenate([flat, np.repeat(flat[:1], (-n) % chunk, axis=0)]) if n % chunk else flat
        parts = [self._outputs(padded[i : i + chunk]) for i in range(0, len(padded), chunk)]
        values = [np.concatenate([np.asarray(p[k]) for p in parts])[:n] for k in range(len(self.out_names))]
        variables = {}
        for name, value in zip(self.out_names, values):
            extra = tuple(dims.get(name, ())) or tuple(f"{name}_dim_{i}" for i in range(value.ndim - 1))
            variables[name] = (("chain", "draw", *extra), value[None])
        used = {d for _, (d, _) in variables.items() for d in d}
        posterior = xr.Dataset(
            variables,
            coords={"chain": [0], "draw": np.arange(n), **{k: list(v) for k, v in coords.items() if k in used}},
            attrs={k: v for k, v in attrs.items() if v is not None},
        )
        groups = {"posterior": posterior}
        if stats:
            groups["sample_stats"] = xr.Dataset(
                {k: (("chain", "draw"), np.asarray(v)[None]) for k, v in stats.items()},
                coords={"chain": [0], "draw": np.arange(n)},
            )
        return xr.DataTree.from_dict(groups)


# ---------------------------------------------------------------------- Pathfinder
def _lbfgs_path(
    target: _Target, x0: np.ndarray, maxiter: int, maxcor: int, ftol: float, gtol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The iterates of L-BFGS-B maximising the log density, and the log density's gradient
    at each (the start first)."""
    from scipy.optimize import minimize

    seen: dict[bytes, np.ndarray] = {}

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = target.value_and_grad(x)
        value, grad = float(value), np.asarray(grad, dtype=float)
        seen[x.tobytes()] = grad
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            # Outside the density's support: the line search backs off.
            return math.inf, np.zeros_like(x)
        return -value, -grad

    xs, grads = [np.array(x0)], [objective(np.asarray(x0))[1] * -1.0]

    def callback(intermediate_result: Any) -> None:
        x = np.array(intermediate_result.x)
        grad = seen.get(x.tobytes())
        if grad is None:
            grad = np.asarray(target.value_and_grad(x)[1], dtype=float)
        xs.append(x)
        grads.append(grad)

    minimize(
        objective, np.asarray(x0), jac=True, method="L-BFGS-B", callback=callback,
        options={"maxiter": maxiter, "maxcor": maxcor, "ftol": ftol, "gtol": gtol},
    )
    return np.asarray(xs), np.asarray(grads)


def normal_approximations(
    xs: np.ndarray, grads: np.ndarray, maxcor: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Diagonal ``alpha`` and the update pairs ``(S, Z)`` of the inverse-Hessian estimate at
    every iterate after the first (Zhang et al. 2022, Algorithm 3).

    ``Z`` holds gradient changes of the *negative* log density, so that ``s . z > 0``
    where the density is locally concave; pairs without that curvature are skipped.

    Parameters
    ----------
    xs, grads
        The optimiser's iterates and the log density's gradients there, ``(steps, dim)``.
    maxcor
        The number of update pairs kept (the L-BFGS history).

    Returns
    -------
    list
        One ``(alpha, S, Z)`` per iterate after the first: ``alpha`` ``(dim,)``, ``S``
        and ``Z`` ``(dim, maxcor)``, zero-padded in front; the input of `draw_normal`.
    """
    dim = xs.shape[1]
    alpha = np.ones(dim)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    out = []
    for step in range(1, len(xs)):
        s = xs[step] - xs[step - 1]
        z = -(grads[step] - grads[step - 1])
        b = float(s @ z)
        if b > 1e-12 * float(np.linalg.norm(z)):
            a = float(np.sum(alpha * z**2))
            c = float(np.sum(s**2 / alpha))
            inv_alpha = a / (b * alpha) + z**2 / b - a * s**2 / (b * c * alpha**2)
            if np.all(np.isfinite(inv_alpha)) and np.all(inv_alpha > 0):
                alpha = 1.0 / inv_alpha
                pairs = (pairs + [(s, z)])[-maxcor:]
        out.append((alpha.copy(), *_stack_pairs(pairs, dim, maxcor)))
    return out


def _stack_pairs(pairs: list[tuple[np.ndarray, np.ndarray]], dim: int, maxcor: int) -> tuple[np.ndarray, np.ndarray]:
    """``(dim, maxcor)`` matrices of the pairs, zero-padded in front (fixed shapes: one
    compilation of the factorisation; zero columns add nothing to the estimate)."""
    S = np.zeros((dim, maxcor))
    Z = np.zeros((dim, maxcor))
    for k, (s, z) in enumerate(pairs[::-1]):
        S[:, maxcor - 1 - k] = s
        Z[:, maxcor - 1 - k] = z
    return S, Z


def draw_normal(key: Any, n: int, x: Any, grad: Any, alpha: Any, S: Any, Z: Any) -> tuple[Any, Any]:
    """``n`` draws (and their log densities) of the normal approximation at an iterate:
    covariance the L-BFGS inverse Hessian ``H``, mean the quasi-Newton step ``x + H grad``.

    Parameters
    ----------
    key
        A JAX PRNG key.
    n
        The number of draws.
    x, grad
        The iterate and the log density's gradient there, ``(dim,)``.
    alpha, S, Z
        The inverse-Hessian estimate at ``x``, from `normal_approximations`.

    Returns
    -------
    tuple
        ``(draws, logq)``: ``(n, dim)`` draws and their ``(n,)`` log densities under the
        approximation (blackjax's ``bfgs_sample``).
    """
    from blackjax.optimizers.lbfgs import bfgs_sample, lbfgs_inverse_hessian_factors

    beta, gamma = lbfgs_inverse_hessian_factors(S, Z, alpha)
    return bfgs_sample(key, n, x, grad, alpha, beta, gamma)


def _pathfinder(
    target: _Target,
    starts: list[dict[str, np.ndarray]],
    draws: int,
    seed: int,
    maxiter: int,
    *,
    maxcor: int,
    elbo_draws: int,
    ftol: float,
    gtol: float,
) -> tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]]:
    """Single- or multi-path Pathfinder: flat draws, what to keep in the attrs, and the
    log density and the approximation's log density at each draw."""
    import jax
    from arviz_stats.base.array import array_stats

    draw_fn = jax.jit(draw_normal, static_argnums=1)
    key = jax.random.key(seed)
    pooled, log_p, log_q, iterations, elbos = [], [], [], [], []
    for path, start in enumerate(starts):
        xs, grads = _lbfgs_path(target, target.flatten(start, seed + path), maxiter, maxcor, ftol, gtol)
        approximations = normal_approximations(xs, grads, maxcor)
        iterations.append(len(xs) - 1)
        if not approximations:  # the start was already optimal: approximate there
            approximations = normal_approximations(np.stack([xs[0], xs[0]]), np.stack([grads[0], grads[0]]), maxcor)
            xs, grads = np.stack([xs[0], xs[0]]), np.stack([grads[0], grads[0]])
        # The ELBO of every iterate's approximation, from elbo_draws draws each.
        keys = jax.random.split(jax.random.fold_in(key, path), len(approximations) + 1)
        candidates, logq = [], []
        for k, (alpha, S, Z) in enumerate(approximations):
            phi, lq = draw_fn(keys[k], elbo_draws, xs[k + 1], grads[k + 1], alpha, S, Z)
            candidates.append(np.asarray(phi))
            logq.append(np.asarray(lq))
        lp = target.batched_logp(np.concatenate(candidates)).reshape(len(approximations), elbo_draws)
        elbo = np.where(np.isfinite(lp), lp - np.asarray(logq), -np.inf).mean(axis=1)
        best = int(np.argmax(np.where(np.isnan(elbo), -np.inf, elbo)))
        elbos.append(float(elbo[best]))
        alpha, S, Z = approximations[best]
        # In batches of elbo_draws: the draw function is compiled for that one size.
        batches = [
            draw_fn(k, elbo_draws, xs[best + 1], grads[best + 1], alpha, S, Z)
            for k in jax.random.split(keys[-1], -(-draws // elbo_draws))
        ]
        phi = np.concatenate([np.asarray(b[0]) for b in batches])[:draws]
        lq = np.concatenate([np.asarray(b[1]) for b in batches])[:draws]
        pooled.append(phi)
        log_p.append(target.batched_logp(phi))
        log_q.append(np.asarray(lq))
    flat, lp, lq = np.concatenate(pooled), np.concatenate(log_p), np.concatenate(log_q)
    lw = np.where(np.isfinite(lp), lp - lq, -np.inf)
    smoothed, khat = array_stats.psislw(lw)
    attrs: dict[str, Any] = {
        "paths": len(starts),
        "lbfgs_iterations": iterations,
        "elbo": elbos,
        "pareto_k": float(np.asarray(khat)),
    }
    if len(starts) == 1:
        return flat, attrs, {"lp": lp, "logq": lq}
    if attrs["pareto_k"] > 0.7:
        warnings.warn(
            f"Pathfinder: the Pareto k of the importance weights is {attrs['pareto_k']:.2f} (> 0.7): "
            "a few draws carry almost all the weight, and the resampled draws repeat them. "
            "Use paths=1, or NUTS.",
            UserWarning,
            stacklevel=3,
        )
    weights = np.exp(np.asarray(smoothed) - np.max(smoothed))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(flat), size=draws, replace=True, p=weights / weights.sum())
    return flat[pick], attrs, {"lp": lp[pick], "logq": lq[pick]}


# ---------------------------------------------------------------------- ADVI
def _advi(
    target: _Target,
    start: dict[str, np.ndarray],
    method: str,
    draws: int,
    seed: int,
    iterations: int,
    progressbar: bool,
    kwargs: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """Mean-field or full-rank ADVI (``pymc.fit``): flat draws and what to keep in the attrs."""
    import pymc as pm

    options = dict(kwargs)
    if "backend" not in options and "mode" not in dict(options.get("compile_kwargs") or {}):
        # PyTensor's default backend calls the JAX likelihood from Python at every step
        # (75 ms a step on the seed model); compiled to JAX, a step is one call (~12 ms).
        options["backend"] = "jax"
    options.setdefault("obj_optimizer", pm.adam(learning_rate=_ADVI_LEARNING_RATE))
    with warnings.catch_warnings():
        # The JAX backend draws ADVI's noise from a copy of PyMC's random generator, which
        # it advances from step to step as PyMC's own (a copy is what it warns about).
        warnings.filterwarnings("ignore", message="The RandomType SharedVariables", category=UserWarning)
        approx = pm.fit(
            n=iterations, method=method, model=target.pymc_model, start=start, random_seed=seed,
            progressbar=progressbar, **options,
        )
    # Draws of the fitted normal, in numpy: PyMC's own sampler compiles a graph for it.
    mean = np.asarray(approx.mean.eval(), dtype=float)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((draws, mean.size))
    if method == "advi":
        flat_q = mean + noise * np.asarray(approx.std.eval(), dtype=float)
    else:
        flat_q = mean + noise @ np.linalg.cholesky(np.asarray(approx.cov.eval(), dtype=float)).T
    ordering = approx.groups[0].ordering  # name -> (name, slice, shape, dtype) in the flat vector
    flat = np.concatenate([flat_q[:, ordering[n][1]] for n in target.names], axis=1)
    hist = np.asarray(approx.hist, dtype=float)
    tail = hist[-max(len(hist) // 10, 1) :]
    # The negative ELBO, averaged over the last 10% of the steps (one draw each: noisy).
    return flat, {"iterations": iterations, "final_loss": float(np.mean(tail)) if tail.size else math.nan}
