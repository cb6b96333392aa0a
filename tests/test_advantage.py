"""Tests of `rlssm.AdvantageRDM` (``rlssm/decision/advantage.py``), the win-all
advantage race.

References are independent of the code under test: the density assembled from scipy's
inverse Gaussian (per-accumulator densities and distribution functions averaged over the
start point by Gauss-Legendre quadrature); the densities integrated over ``rt`` by
Simpson's rule, whose per-option masses (the choice probabilities) must sum to one, or to
one minus the closed-form probability that no option finishes; the model's own exact
sampler; the two-option identity with the racing diffusion model (itself checked against
HSSM in ``test_race.py``); and finite differences.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from rlssm._spec import Domain
from rlssm.decision.advantage import AdvantageRDM
from rlssm.decision.race import LOGP_FLOOR, RDM
from rlssm.mapping import Advantage

_POINTS = 1024  # every likelihood call has this many points (one compiled shape)
_GRADIENT_POINTS = 64
_DRAWS = 100_000


def vs(v: np.ndarray) -> dict[str, np.ndarray]:
    """Per-option inputs ``v0 .. v{N-1}`` from the rows of ``v``."""
    return {f"v{k}": v[k] for k in range(v.shape[0])}


def _full(params: dict[str, float], n: int) -> dict[str, np.ndarray]:
    """Every parameter as an array of ``n`` copies."""
    return {k: np.full(n, x, dtype=float) for k, x in params.items()}


def _drifts(v: np.ndarray, urgency, wd, ws) -> np.ndarray:
    """``(N, N - 1, n)`` drifts of the accumulators ``(i, j)``, ``j != i`` in order."""
    n = v.shape[0]
    return np.stack(
        [np.stack([urgency + wd * (v[i] - v[j]) + ws * (v[i] + v[j]) for j in range(n) if j != i]) for i in range(n)]
    )


# Compiling takes most of these tests' time. A gradient, and a likelihood evaluated
# once, are compiled with LLVM's optimisation level 0 (about 40% faster to compile; the
# HLO passes and IEEE arithmetic are unchanged, so values agree with the default build
# to rounding); likelihoods evaluated many times keep the default build.
_FAST_COMPILE = {"xla_backend_optimization_level": 0}


@functools.partial(jax.jit, compiler_options=_FAST_COMPILE)
def _value_and_grads(model, rt, choice, params):
    """The log-density and its gradient with respect to ``rt`` and every parameter."""

    def total(rt, params):
        lp = model.logp(rt, choice, **params)
        return jnp.sum(lp), lp

    (_, lp), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(rt, params)
    return lp, grads


@functools.partial(jax.jit, compiler_options=_FAST_COMPILE)
def _logp_once(model, rt, choice, params):
    """``model.logp`` for a model, shape and dtype evaluated once: compiled faster."""
    return model.logp(rt, choice, **params)


def _random_points(n_options: int, n: int, seed: int):
    """Values in [0, 1], urgency, weights, A, B, t: some drifts are negative."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.0, 1.0, (n_options, n))
    params = {
        **vs(v),
        "urgency": rng.uniform(-0.5, 3.0, n),
        "wd": rng.uniform(0.0, 2.0, n),
        "ws": rng.uniform(0.0, 1.0, n),
        "A": rng.uniform(0.0, 1.0, n),
        "B": rng.uniform(0.1, 2.0, n),
        "t": rng.uniform(0.0, 0.5, n),
    }
    rt = params["t"] + np.exp(rng.uniform(math.log(0.05), math.log(4.0), n))
    return rt, rng.integers(0, n_options, n), params


# ---------------------------------------------------------------------- declarations
def test_declarations_and_bad_arguments():
    model = AdvantageRDM(n_options=3)
    assert model.param_names == ("v0", "v1", "v2", "urgency", "wd", "ws", "A", "B", "t")
    assert model.choices == (0, 1, 2) and model.n_options == 3
    assert AdvantageRDM(4).param_names[:5] == ("v0", "v1", "v2", "v3", "urgency")
    assert model.bounds["v0"] == (-math.inf, math.inf)
    assert model.bounds["urgency"] == (0.0, 10.0) and model.bounds["A"] == (0.0, 1.0)
    assert dict(model.domains) == {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)"}
    for name, domain in model.domains.items():
        assert Domain.parse(domain).covers(model.bounds[name])
    assert jax.tree_util.tree_leaves(model) == []
    for n in (1, 0, True):
        with pytest.raises(ValueError, match="n_options"):
            AdvantageRDM(n)
    for n in (2.5, None):
        with pytest.raises((TypeError, ValueError), match="n_options"):
            AdvantageRDM(n)
    with pytest.raises(TypeError, match="ws"):
        AdvantageRDM(2).logp(1.0, 0, v0=0.5, v1=0.2, urgency=1.0, wd=1.0, A=0.5, B=1.0, t=0.2)


# ---------------------------------------------------------------------- references
def test_two_options_is_the_rdm():
    """For ``N = 2`` each option has one accumulator, so `AdvantageRDM(2)` at values
    ``(v0, v1)`` is `RDM(2)` at drifts ``v01 = urgency + wd (v0 - v1) + ws (v0 + v1)``
    and ``v10 = urgency + wd (v1 - v0) + ws (v0 + v1)`` with the same ``A``, ``B``,
    ``t``, for every parameter value; these drifts are the `Advantage` mapping's, so
    ``AdvantageRDM(2)`` + ``Values`` is ``RDM(2)`` + ``Advantage``. (For ``N > 2`` an
    option needs all its ``N - 1`` accumulators: no race of ``N`` accumulators.)"""
    rt, choice, params = _random_points(2, _POINTS, seed=1)
    drifts = _drifts(np.stack([params["v0"], params["v1"]]), params["urgency"], params["wd"], params["ws"])
    rest = {k: params[k] for k in ("A", "B", "t")}
    with jax.enable_x64(True):
        mapped = jax.vmap(Advantage())(
            np.stack([params["v0"], params["v1"]], axis=1), params["urgency"], params["wd"], params["ws"]
        )
        ours = np.asarray(_logp_once(AdvantageRDM(2), rt, choice, params))
        rdm = np.asarray(_logp_once(RDM(2), rt, choice, {"v0": drifts[0, 0], "v1": drifts[1, 0], **rest}))
    np.testing.assert_allclose(np.asarray(mapped["v0"]), drifts[0, 0], rtol=1e-14)
    np.testing.assert_allclose(np.asarray(mapped["v1"]), drifts[1, 0], rtol=1e-14)
    assert np.sum(rdm > -30.0) > 800
    np.testing.assert_allclose(ours, rdm, rtol=0.0, atol=1e-9)


def _reference_density(rt, choice, params, n_options) -> np.ndarray:
    """The win-all density from per-accumulator densities and distribution functions,
    each averaged over the start point by 64-node Gauss-Legendre quadrature of scipy's
    fixed-start inverse Gaussian (mean d / |v|, shape d^2; a negative drift reaches the
    threshold with probability exp(2 v d), and then as with drift |v|)."""
    v = np.stack([params[f"v{k}"] for k in range(n_options)])
    drifts = _drifts(v, params["urgency"], params["wd"], params["ws"])  # (N, N - 1, n)
    x, w = np.polynomial.legendre.leggauss(64)
    A, B = params["A"], params["B"]
    d = B[:, None] + A[:, None] * (1.0 + x) / 2.0  # (n, 64)
    drift = drifts[..., None]
    dist = stats.invgauss(mu=1.0 / (np.abs(drift) * d), scale=d * d)
    reach = np.exp(2.0 * np.minimum(drift, 0.0) * d)
    s = (rt - params["t"])[:, None]
    f = (reach * dist.pdf(s)) @ (w / 2.0)  # (N, N - 1, n)
    F = (reach * dist.cdf(s)) @ (w / 2.0)
    out = np.empty(len(rt))
    for p in range(len(rt)):
        i = choice[p]
        win = sum(f[i, j, p] * np.prod(np.delete(F[i, :, p], j)) for j in range(n_options - 1))
        lose = np.prod([1.0 - np.prod(F[k, :, p]) for k in range(n_options) if k != i])
        out[p] = np.log(win * lose)
    return out


def test_matches_density_from_quadrature():
    rt, choice, params = _random_points(3, _POINTS, seed=2)
    params["A"] = np.maximum(params["A"], 0.05)
    with jax.enable_x64(True):
        ours = np.asarray(AdvantageRDM(3).logp(rt, choice, **params))
    pick = np.flatnonzero(ours > -12.0)[:300]
    assert len(pick) == 300
    reference = _reference_density(rt[pick], choice[pick], {k: x[pick] for k, x in params.items()}, 3)
    np.testing.assert_allclose(ours[pick], reference, rtol=0.0, atol=1e-9)


def _density(model, rt: np.ndarray, choice: int, params: dict[str, float]) -> np.ndarray:
    """``exp(logp)`` at each of ``rt`` (a multiple of `_POINTS` long), in float64."""
    chunks = [
        np.exp(np.asarray(model.logp(part, np.full(_POINTS, choice), **_full(params, _POINTS))))
        for part in rt.reshape(-1, _POINTS)
    ]
    return np.concatenate(chunks)


def _masses(model, params, horizon):
    """Per-option distribution functions of the decision time on a grid, by Simpson's
    rule: ``(grid, cumulative (G, N))``."""
    grid = np.concatenate([[0.0], np.geomspace(1e-5, horizon, 12 * _POINTS - 1)])
    with jax.enable_x64(True):
        density = np.stack(
            [_density(model, params["t"] + grid, k, params) for k in range(model.n_options)], axis=1
        )
    return grid, integrate.cumulative_simpson(density, x=grid, axis=0, initial=0.0)


def _finish_probability(drift: np.ndarray, A: float, B: float) -> np.ndarray:
    """Probability that an accumulator ever finishes: 1 for a drift >= 0, else the
    average over the distance ``d`` in ``(B, B + A)`` of ``exp(2 v d)``, in closed form."""
    v = np.minimum(drift, 0.0)
    x = 2.0 * v * A  # 0 where the drift is >= 0 or A = 0: the average is exp(2 v B)
    return np.exp(2.0 * v * B) * np.where(x < 0.0, np.expm1(x) / np.where(x < 0.0, x, 1.0), 1.0)


def _ks_distance(samples: np.ndarray, grid: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between ``samples`` and a CDF tabulated on ``grid``."""
    x = np.sort(samples)
    f = np.interp(x, grid, cdf)
    n = len(x)
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(0, n) / n).max()))


_SAMPLER_CASES = [
    {"v": (0.8, 0.5, 0.2), "urgency": 1.5, "wd": 1.5, "ws": 0.5, "A": 0.5, "B": 1.0, "t": 0.2},
    # A = 0: fixed-start Wald accumulators.
    {"v": (0.3, 0.9, 0.6), "urgency": 2.5, "wd": 3.0, "ws": 0.0, "A": 0.0, "B": 0.7, "t": 0.3},
    # A negative urgency (inside its domain, outside the default bounds): every option has
    # an accumulator with a negative drift, and about a quarter of the trials never end.
    {"v": (0.5, 0.45, 0.1), "urgency": -0.6, "wd": 2.0, "ws": 0.2, "A": 0.8, "B": 0.5, "t": 0.1},
]


@pytest.mark.parametrize("case", _SAMPLER_CASES)
def test_choice_probabilities_and_sampler(case):
    """The densities integrated over ``rt`` (Simpson's rule): the choice probabilities
    sum to one minus the probability that no option finishes (zero in the first two
    cases; in closed form, from each accumulator's finishing probability), to 1e-9. And
    100k draws of the sampler: each response's proportion (and that of trials that never
    end) within Monte Carlo error of its mass, its decision times within
    Kolmogorov-Smirnov distance of its distribution function."""
    model = AdvantageRDM(3)
    params = {**{f"v{k}": x for k, x in enumerate(case["v"])}, **{k: x for k, x in case.items() if k != "v"}}
    t = params["t"]
    grid, cumulative = _masses(model, params, horizon=2000.0)
    mass = cumulative[-1]
    drifts = _drifts(np.asarray(case["v"], dtype=float), case["urgency"], case["wd"], case["ws"])
    reach = np.prod(_finish_probability(drifts, case["A"], case["B"]), axis=1)  # option i all done
    never = float(np.prod(1.0 - reach))
    assert (never > 0.2) == (case["urgency"] < 0)
    assert mass.sum() == pytest.approx(1.0 - never, abs=1e-9)
    assert np.all(mass > 0.005)
    with jax.enable_x64(True):
        rt, choice = (np.asarray(x) for x in model.sample(jax.random.key(5), **_full(params, _DRAWS)))
    assert rt.dtype == np.float64 and choice.dtype == np.int32
    unfinished = ~np.isfinite(rt)
    assert np.all(choice[unfinished] == 0)
    low, high = stats.binom.interval(1 - 1e-6, _DRAWS, max(never, 1e-12))
    assert low <= unfinished.sum() <= high
    for k in range(3):
        picked = (choice == k) & ~unfinished
        low, high = stats.binom.interval(1 - 1e-6, _DRAWS, mass[k])
        assert low <= picked.sum() <= high, (k, picked.sum(), _DRAWS * mass[k])
        if picked.sum() > 1000:
            ks = _ks_distance(rt[picked] - t, grid, cumulative[:, k] / mass[k])
            assert ks <= 2.3 / math.sqrt(picked.sum()) + 1e-3, (k, ks)


# ---------------------------------------------------------------------- gradients
def test_gradients_match_finite_differences():
    rt, choice, params = _random_points(3, _GRADIENT_POINTS, seed=3)
    params["A"][:12] = 0.0
    params["A"][12:18] = 1e-7
    params["v1"][18:24] = params["v0"][18:24]  # a zero advantage
    s = rt - params["t"]
    s[24:30] = 0.02 * params["B"][24:30] ** 2  # just above t
    rt = params["t"] + s
    with jax.enable_x64(True):
        value, (grad_rt, grads) = _value_and_grads(AdvantageRDM(3), rt, choice, params)
        value = np.asarray(value)

        def at(rt=rt, **changes):
            return np.asarray(_value_and_grads(AdvantageRDM(3), rt, choice, {**params, **changes})[0])

        assert np.all(np.isfinite(value))
        checks = [("rt", rt, np.asarray(grad_rt), lambda x: at(rt=x))]
        checks += [(k, params[k], np.asarray(grads[k]), lambda x, k=k: at(**{k: x})) for k in params]
        for key, x, grad, f in checks:
            assert np.all(np.isfinite(grad)), key
            h = 1e-6 * np.maximum(np.abs(x), 0.1)
            if key == "A":
                numeric = (-3.0 * value + 4.0 * f(x + h) - f(x + 2.0 * h)) / (2.0 * h)
            else:
                numeric = (f(x + h) - f(x - h)) / (2.0 * h)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=2e-5, err_msg=key)


def test_extremes_and_float32():
    """Finite values and gradients at extreme points (float64); the floor where there is
    no density; float32 finite and close to float64."""
    rng = np.random.default_rng(4)
    n = _GRADIENT_POINTS
    s = rng.choice(np.array([-1.0, 0.0, 1e-30, 1e-6, 0.01, 0.3, 3.0, 60.0]), n)
    params = {
        **vs(rng.choice(np.array([-3.0, 0.0, 0.5, 1.0, 5.0]), (3, n))),
        "urgency": rng.choice(np.array([-2.0, 0.0, 1.0, 4.0]), n),
        "wd": rng.choice(np.array([0.0, 1.0, 6.0]), n),
        "ws": rng.choice(np.array([-1.0, 0.0, 0.5]), n),
        "A": rng.choice(np.array([0.0, 1e-10, 0.3, 3.0]), n),
        "B": rng.choice(np.array([1e-3, 0.5, 3.0]), n),
        "t": np.where(s > 0, 0.0, 0.3),
    }
    rt = params["t"] + s
    choice = rng.integers(0, 3, n)
    choice[:3] = (-1, 3, 5)
    with jax.enable_x64(True):
        value, (grad_rt, grads) = _value_and_grads(AdvantageRDM(3), rt, choice, params)
    value = np.asarray(value)
    all_grads = [np.asarray(grad_rt), *map(np.asarray, grads.values())]
    assert np.all(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in all_grads)
    none = (s <= 0) | (choice < 0) | (choice > 2)
    assert np.all(value[none] == LOGP_FLOOR) and all(np.all(g[none] == 0.0) for g in all_grads)

    rt, choice, params = _random_points(3, _POINTS, seed=6)
    with jax.enable_x64(True):
        lp64 = np.asarray(AdvantageRDM(3).logp(rt, choice, **params))
    with jax.enable_x64(False):
        lp32 = _logp_once(AdvantageRDM(3), rt.astype(np.float32), choice, {k: x.astype(np.float32) for k, x in params.items()})
        assert lp32.dtype == jnp.float32
    lp32 = np.asarray(lp32)
    assert np.all(np.isfinite(lp32))
    live = lp64 > -30.0
    assert live.sum() > 700
    np.testing.assert_allclose(lp32[live], lp64[live], rtol=1e-4, atol=1e-4)
