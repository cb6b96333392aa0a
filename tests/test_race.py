"""Tests of the race models `rlssm.RDM` and `rlssm.LBA` (``rlssm/decision/race.py``).

References are independent of the code under test: HSSM's analytical ``logp_rdm3``,
``logp_lba2``, ``logp_lba3`` and ``logp_lba4``; scipy's inverse Gaussian for the race of
fixed-start Wald accumulators (``A = 0``); numerical quadrature of the densities against
the models' own exact samplers; and finite differences of the log-densities.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hssm.likelihoods.analytical import logp_lba2, logp_lba3, logp_lba4, logp_rdm3
from scipy import integrate, stats

from rlssm._spec import Domain
from rlssm.decision.race import LBA, LOGP_FLOOR, RDM


def vs(v: np.ndarray) -> dict[str, np.ndarray]:
    """Per-option inputs ``v0 .. v{N-1}`` from the rows of ``v``."""
    return {f"v{k}": v[k] for k in range(v.shape[0])}


# The models' logp and sample are jitted inside (per shape and dtype of the broadcast
# arguments); one jitted value-and-gradient serves the gradient tests. The model is a
# pytree without leaves (n_options is static), so traces are cached per model too.
def _logp(model, rt, choice, params):
    return model.logp(rt, choice, **params)


def _sample(model, key, params):
    return model.sample(key, **params)


# Compiling takes most of these tests' time. A gradient, and a likelihood evaluated
# once, are compiled with LLVM's optimisation level 0 (about 40% faster to compile; the
# HLO passes and IEEE arithmetic are unchanged, so values agree with the default build
# to rounding); likelihoods evaluated many times keep the default build.
_FAST_COMPILE = {"xla_backend_optimization_level": 0}
_logp_once = jax.jit(_logp, compiler_options=_FAST_COMPILE)


@functools.partial(jax.jit, compiler_options=_FAST_COMPILE)
def _value_and_grads(model, rt, choice, params):
    """The log-density and its gradient with respect to ``rt`` and every parameter."""

    def total(rt, params):
        lp = model.logp(rt, choice, **params)
        return jnp.sum(lp), lp

    (_, lp), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(rt, params)
    return lp, grads


# Compiling the likelihood takes seconds, its gradient more: every call of `_logp` has
# `_POINTS` points and every call of `_value_and_grads` `_GRADIENT_POINTS`.
_POINTS = 2048
_GRADIENT_POINTS = 96
_DRAWS = 100_000


# ---------------------------------------------------------------------- declarations
def test_declarations():
    rdm, lba = RDM(n_options=3), LBA(n_options=4)
    assert rdm.param_names == ("v0", "v1", "v2", "A", "B", "t")
    assert lba.param_names == ("v0", "v1", "v2", "v3", "A", "B", "t", "s")
    assert rdm.choices == (0, 1, 2) and rdm.n_options == 3
    assert lba.choices == (0, 1, 2, 3) and lba.n_options == 4
    assert RDM(2).param_names == ("v0", "v1", "A", "B", "t")
    # ssm-simulators' racing_diffusion_3 ranges (b = A + B in (0.5, 3)).
    assert rdm.bounds["v1"] == (0.0, 2.5) and rdm.bounds["A"] == (0.0, 1.0)
    assert rdm.bounds["B"] == (0.1, 3.0) and rdm.bounds["t"] == (0.0, 2.0)
    assert lba.bounds["s"] == (0.0, 5.0) and lba.defaults["s"] == 1.0
    assert dict(rdm.domains) == {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)"}
    assert dict(lba.domains) == {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)", "s": "(0, inf)"}
    for model in (rdm, lba):
        for name, domain in model.domains.items():
            assert Domain.parse(domain).covers(model.bounds[name])
            assert Domain.parse(domain).contains(np.asarray(model.defaults[name]))
        # n_options is a static field: the model has no array leaves.
        assert jax.tree_util.tree_leaves(model) == []


@pytest.mark.parametrize("cls", [RDM, LBA])
def test_bad_arguments_raise(cls):
    for n in (1, 0, -3, True):
        with pytest.raises(ValueError, match="n_options"):
            cls(n)
    # Not an integer: rejected by the annotation's check (beartype, under the test
    # suite's import hook) or by the model's own.
    for n in (2.0, "3", None):
        with pytest.raises((TypeError, ValueError), match="n_options"):
            cls(n)
    model = cls(2)
    params = {name: 1.0 for name in model.param_names}
    with pytest.raises(TypeError, match="v1"):
        model.logp(1.0, 0, **{k: x for k, x in params.items() if k != "v1"})
    with pytest.raises(TypeError, match="v2"):
        model.sample(jax.random.key(0), **params, v2=1.0)


# ---------------------------------------------------------------------- references
def test_rdm_matches_hssm_logp_rdm3():
    """HSSM's ``logp_rdm3`` (its ``b`` is ``A + B``) at random points inside the bounds."""
    rng = np.random.default_rng(20260315)
    n = _POINTS
    v = rng.uniform(0.0, 2.5, (3, n))
    A = rng.uniform(0.0, 1.0, n)
    B = rng.uniform(0.1, 3.0, n)
    t = rng.uniform(0.0, 2.0, n)
    rt = t + np.exp(rng.uniform(math.log(0.02), math.log(5.0), n))
    choice = rng.integers(0, 3, n)
    with jax.enable_x64(True):
        reference = np.asarray(jax.jit(logp_rdm3)(np.stack([rt, choice], axis=1), A, A + B, *v, t))
    with jax.enable_x64(True):
        ours = np.asarray(_logp(RDM(3), rt, choice, {**vs(v), "A": A, "B": B, "t": t}))
    assert ours.dtype == np.float64
    # HSSM differences normal distribution functions near 1 (Phi(beta) - Phi(alpha)),
    # which leaves it about 1e-16 / p of relative precision: compare where that is far
    # below the tolerance.
    live = reference > -15.0
    assert live.sum() > 1200
    np.testing.assert_allclose(ours[live], reference[live], rtol=0.0, atol=1e-6)


def test_rdm_at_zero_A_is_the_wald_race():
    """``A = 0``: the race of inverse Gaussian (Wald) times, from scipy; and ``A -> 0`` is
    continuous into it."""
    rng = np.random.default_rng(5)
    n = _POINTS
    v = rng.uniform(0.05, 3.0, (3, n))
    B = rng.uniform(0.1, 3.0, n)
    t = rng.uniform(0.0, 0.5, n)
    s = np.exp(rng.uniform(math.log(0.02), math.log(5.0), n))
    choice = rng.integers(0, 3, n)
    # Distance B, drift v, unit noise: mean B / v, shape B^2 (scipy: mu = mean / shape).
    dist = stats.invgauss(mu=1.0 / (v * B), scale=B**2)
    log_f = dist.logpdf(s)
    log_surv = dist.logsf(s)
    winner = np.arange(3)[:, None] == choice
    reference = np.sum(np.where(winner, log_f, log_surv), axis=0)
    params = {**vs(v), "B": B, "t": t}
    with jax.enable_x64(True):
        ours = np.asarray(_logp(RDM(3), t + s, choice, {**params, "A": np.zeros(n)}))
        near = np.asarray(_logp(RDM(3), t + s, choice, {**params, "A": np.full(n, 1e-9)}))
    live = reference > -15.0
    assert live.sum() > 1200
    np.testing.assert_allclose(ours[live], reference[live], rtol=0.0, atol=1e-8)
    np.testing.assert_allclose(near, ours, rtol=0.0, atol=1e-7)


@pytest.mark.parametrize(("n_options", "reference"), [(2, logp_lba2), (3, logp_lba3), (4, logp_lba4)])
def test_lba_matches_hssm(n_options, reference):
    """HSSM's ``logp_lba2/3/4`` (drift sd fixed at 0.1, ``t = 0``, ``b = A + B``).

    HSSM divides by the probability that some drift is positive; ours is the standard
    defective density, so the log of that probability is added back. HSSM's PyTensor
    versions (2 and 3 options) compute ``sqrt(2)`` of an integer, which PyTensor's
    default cast policy makes a float32: the ``numpy+floatX`` policy keeps it float64.
    """
    rng = np.random.default_rng(100 + n_options)
    n = _POINTS
    v = rng.uniform(0.0, 1.0, (n_options, n))
    A = rng.uniform(0.0, 1.0, n)
    B = rng.uniform(0.05, 1.0, n)
    rt = np.exp(rng.uniform(math.log(0.05), math.log(5.0), n))
    choice = rng.integers(0, n_options, n)
    data = np.stack([rt, choice], axis=1)
    if n_options == 4:
        # HSSM's JAX version mixes int32 and int64 indices (standard promotion needed).
        with jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):
            expected = np.asarray(jax.jit(reference)(data, A, A + B, *v))
    else:
        with pytensor.config.change_flags(cast_policy="numpy+floatX", floatX="float64"):
            inputs = [pt.matrix("data"), pt.vector("A"), pt.vector("b")]
            inputs += [pt.vector(f"v{k}") for k in range(n_options)]
            fn = pytensor.function(inputs, reference(*inputs))
            expected = fn(data, A, A + B, *v)
    log_p_some = np.log1p(-np.prod(stats.norm.cdf(-v / 0.1), axis=0))
    params = {**vs(v), "A": A, "B": B, "t": np.zeros(n), "s": np.full(n, 0.1)}
    with jax.enable_x64(True):
        logp = _logp if n_options == 3 else _logp_once  # LBA(3) serves the sampler tests too
        ours = np.asarray(logp(LBA(n_options), rt, choice, params)) - log_p_some
    # As for the RDM: HSSM differences normal distribution functions near 1.
    live = expected > -15.0
    assert live.sum() > 400
    np.testing.assert_allclose(ours[live], expected[live], rtol=0.0, atol=1e-6)


# ---------------------------------------------------------------------- sampler
def _ks_distance(samples: np.ndarray, grid: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between ``samples`` and a CDF tabulated on ``grid``."""
    x = np.sort(samples)
    f = np.interp(x, grid, cdf)
    n = len(x)
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(0, n) / n).max()))


def _full(params: dict[str, float], n: int) -> dict[str, np.ndarray]:
    """Every parameter as an array of ``n`` copies."""
    return {k: np.full(n, x, dtype=float) for k, x in params.items()}


def _density(model, rt: np.ndarray, choice: int, params: dict[str, float]) -> np.ndarray:
    """``exp(logp)`` at each of ``rt`` (a multiple of `_POINTS` long), in float64."""
    chunks = [
        np.exp(np.asarray(_logp(model, part, np.full(_POINTS, choice), _full(params, _POINTS))))
        for part in rt.reshape(-1, _POINTS)
    ]
    return np.concatenate(chunks)


_SAMPLER_CASES = [
    ("RDM", {"v": (1.5, 1.0, 0.5), "A": 0.5, "B": 1.0, "t": 0.2}),
    ("RDM", {"v": (2.0, 0.3, -0.5), "A": 0.0, "B": 0.6, "t": 0.3}),
    # All drifts negative: some trials never end (rt = inf, choice 0).
    ("RDM", {"v": (-0.4, -0.6, -0.8), "A": 0.8, "B": 0.3, "t": 0.1}),
    # Drifts all negative with probability Phi(-1.2) Phi(-0.8) Phi(-0.5) = 0.0075.
    ("LBA", {"v": (1.2, 0.8, 0.5), "A": 0.5, "B": 0.4, "t": 0.2, "s": 1.0}),
    ("LBA", {"v": (3.0, 2.0, 2.5), "A": 0.0, "B": 1.0, "t": 0.3, "s": 0.5}),
    ("LBA", {"v": (0.5, -0.5, 0.2), "A": 1.0, "B": 0.2, "t": 0.1, "s": 2.0}),
]


@pytest.mark.parametrize(("name", "case"), _SAMPLER_CASES)
def test_sampler_matches_likelihood(name, case):
    """100k draws: the proportion of each response (and of trials that never end) within
    Monte Carlo error of the density's mass, and each response's decision times within
    Kolmogorov-Smirnov distance of its distribution function (density integrated by
    Simpson's rule on a fine grid)."""
    model = RDM(3) if name == "RDM" else LBA(3)
    n = _DRAWS
    v = np.asarray(case["v"])
    params = {**vs(v), **{k: x for k, x in case.items() if k != "v"}}
    t = case["t"]
    # Decision times up to a horizon past which the remaining mass is negligible
    # (below 1e-5: exponential tails for the RDM, ~1/s ones for the LBA).
    horizon = 2000.0 if name == "RDM" else 1e5
    grid = np.concatenate([[0.0], np.geomspace(1e-5, horizon, 20 * _POINTS - 1)])
    with jax.enable_x64(True):
        rt, choice = (np.asarray(x) for x in _sample(model, jax.random.key(7), _full(params, n)))
        density = np.stack([_density(model, t + grid, k, params) for k in range(3)], axis=1)
    cumulative = integrate.cumulative_simpson(density, x=grid, axis=0, initial=0.0)
    mass = cumulative[-1]
    never = 1.0 - mass.sum()
    assert rt.dtype == np.float64 and choice.dtype == np.int32
    unfinished = ~np.isfinite(rt)
    assert np.all(choice[unfinished] == 0)
    low, high = stats.binom.interval(1 - 1e-6, n, max(never, 1e-12))
    assert low <= unfinished.sum() <= high
    for k in range(3):
        picked = (choice == k) & ~unfinished
        low, high = stats.binom.interval(1 - 1e-6, n, mass[k])
        assert low <= picked.sum() <= high, (k, picked.sum(), n * mass[k])
        if picked.sum() > 1000:
            ks = _ks_distance(rt[picked] - t, grid, cumulative[:, k] / mass[k])
            assert ks <= 2.3 / math.sqrt(picked.sum()) + 1e-3, (k, ks)


def test_sampler_broadcasts_and_is_deterministic():
    params = {
        "v0": np.array([[0.5], [1.5]], dtype=np.float32),
        "v1": np.float32(1.0),
        "v2": np.float32(0.2),
        "A": np.linspace(0.0, 1.0, 50, dtype=np.float32),
        "B": np.float32(0.5),
        "t": np.float32(0.25),
    }
    with jax.enable_x64(False):
        rt, choice = RDM(3).sample(jax.random.key(3), **params)
        again, _ = RDM(3).sample(jax.random.key(3), **params)
        other, _ = RDM(3).sample(jax.random.key(4), **params)
    assert rt.shape == choice.shape == (2, 50)
    assert rt.dtype == jnp.float32 and choice.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(rt), np.asarray(again))
    assert not np.array_equal(np.asarray(rt), np.asarray(other))
    assert np.all(np.asarray(rt) > 0.25) and np.all(np.isfinite(np.asarray(rt)))
    # A faster first accumulator wins more often.
    wins = np.mean(np.asarray(choice) == 0, axis=1)
    assert wins[0] < wins[1]


def test_no_finisher_gives_infinite_rt():
    with jax.enable_x64(True):
        rt, choice = _sample(RDM(3), jax.random.key(0), _full({"v0": -3.0, "v1": -3.0, "v2": -4.0, "A": 0.5, "B": 2.0, "t": 0.1}, _DRAWS))
        lba = {"v0": -8.0, "v1": -8.0, "v2": -9.0, "A": 0.5, "B": 1.0, "t": 0.1, "s": 1.0}
        lba_rt, lba_choice = _sample(LBA(3), jax.random.key(0), _full(lba, _DRAWS))
    rt, choice = np.asarray(rt), np.asarray(choice)
    # Each accumulator finishes with probability E[exp(2 v d)] < exp(-12).
    assert np.all(np.isinf(rt)) and np.all(choice == 0)
    assert np.all(np.isinf(np.asarray(lba_rt))) and np.all(np.asarray(lba_choice) == 0)


# ---------------------------------------------------------------------- gradients
def _gradient_points(name: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Interior points, points at and near ``A = 0``, ``v = 0`` and ``rt`` just above ``t``."""
    rng = np.random.default_rng(11)
    n = _GRADIENT_POINTS
    v = rng.uniform(-0.5, 2.5, (3, n))
    v[0, :8] = 0.0
    A = rng.uniform(0.05, 1.0, n)
    A[8:24] = 0.0
    A[24:32] = 1e-7
    B = rng.uniform(0.1, 2.0, n)
    t = rng.uniform(0.1, 0.5, n)
    s = np.exp(rng.uniform(math.log(0.05), math.log(3.0), n))
    s[32:40] = 0.02 * B[32:40] ** 2  # just above t: the winner's density is ~exp(-25) there
    s[40:44] = 1e-4
    params = {**vs(v), "A": A, "B": B, "t": t}
    if name == "LBA":
        params["s"] = rng.uniform(0.3, 2.0, n)
        s[32:40] = 0.1 * B[32:40] / params["s"][32:40]
    return t + s, rng.integers(0, 3, n), params


@pytest.mark.parametrize("name", ["RDM", "LBA"])
def test_gradients_match_finite_differences(name):
    model = RDM(3) if name == "RDM" else LBA(3)
    rt, choice, params = _gradient_points(name)
    with jax.enable_x64(True):
        value, (grad_rt, grads) = _value_and_grads(model, rt, choice, params)

        def at(rt=rt, **changes):
            return np.asarray(_value_and_grads(model, rt, choice, {**params, **changes})[0])

        value = np.asarray(value)
        assert np.all(np.isfinite(value))
        checks = [("rt", rt, np.asarray(grad_rt), lambda x: at(rt=x))]
        checks += [(k, params[k], np.asarray(grads[k]), lambda x, k=k: at(**{k: x})) for k in params]
        for key, x, grad, f in checks:
            assert np.all(np.isfinite(grad)), key
            h = 1e-6 * np.maximum(np.abs(x), 0.1)
            if key == "A":  # A >= 0: one-sided (second order) at 0
                numeric = (-3.0 * value + 4.0 * f(x + h) - f(x + 2.0 * h)) / (2.0 * h)
            else:
                numeric = (f(x + h) - f(x - h)) / (2.0 * h)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=2e-5, err_msg=key)


def _extreme_points(name: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Points on both sides of rt = t, far in the tails and at extreme parameters."""
    rng = np.random.default_rng(2)
    n = _GRADIENT_POINTS
    s = rng.choice(np.array([-1.0, -1e-3, 0.0, 1e-30, 1e-9, 1e-4, 0.01, 0.3, 3.0, 100.0]), n)
    params = {
        **vs(rng.choice(np.array([-5.0, -0.5, 0.0, 1e-7, 0.7, 2.5, 20.0]), (3, n))),
        "A": rng.choice(np.array([0.0, 1e-12, 1e-5, 0.3, 1.0, 5.0]), n),
        "B": rng.choice(np.array([1e-3, 0.1, 1.0, 3.0]), n),
        "t": np.where(s > 0, 0.0, 0.3),  # t = 0 after the non-decision time: rt = s exactly
    }
    if name == "LBA":
        params["s"] = rng.choice(np.array([0.05, 1.0, 5.0]), n)
    choice = rng.integers(0, 3, n)
    choice[:4] = (-1, 3, 7, -2)  # not a response of the model
    return params["t"] + s, choice, params, s


def _value_and_grads_or_value(model, rt, choice, params, dtype):
    """Value and gradients, except for the LBA in float32: its value alone (one
    gradient fewer to compile; the RDM's float32 gradients are checked)."""
    if isinstance(model, LBA) and dtype == "float32":
        return _logp_once(model, rt, choice, params), ()
    value, (grad_rt, grads) = _value_and_grads(model, rt, choice, params)
    return value, (grad_rt, *grads.values())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["RDM", "LBA"])
def test_finite_values_and_gradients_everywhere(name, dtype):
    model = RDM(3) if name == "RDM" else LBA(3)
    rt, choice, params, s = _extreme_points(name)
    with jax.enable_x64(dtype == "float64"):
        cast = {k: x.astype(dtype) for k, x in params.items()}
        value, all_grads = _value_and_grads_or_value(model, rt.astype(dtype), choice, cast, dtype)
    value = np.asarray(value)
    all_grads = [np.asarray(g) for g in all_grads]
    assert len(all_grads) == (0 if (name, dtype) == ("LBA", "float32") else len(params) + 1)
    assert value.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in all_grads)
    assert np.all(value >= np.asarray(LOGP_FLOOR, dtype=dtype))
    # No density before the non-decision time, nor for a response outside 0..N-1:
    # exactly the floor, flat in every argument.
    none = (s <= 0) | (choice < 0) | (choice > 2)
    assert none.sum() > 10
    assert np.all(value[none] == np.asarray(LOGP_FLOOR, dtype=dtype))
    assert all(np.all(g[none] == 0.0) for g in all_grads)


@pytest.mark.parametrize("name", ["RDM", "LBA"])
def test_float32_matches_float64(name):
    model = RDM(3) if name == "RDM" else LBA(3)
    rng = np.random.default_rng(3)
    n = _GRADIENT_POINTS
    params = {**vs(rng.uniform(0.0, 2.5, (3, n))), "A": rng.uniform(0.0, 1.0, n)}
    params |= {"B": rng.uniform(0.1, 2.0, n), "t": rng.uniform(0.0, 0.5, n)}
    if name == "LBA":
        params["s"] = rng.uniform(0.5, 2.0, n)
    rt = params["t"] + np.exp(rng.uniform(math.log(0.05), math.log(5.0), n))
    choice = rng.integers(0, 3, n)
    with jax.enable_x64(True):
        lp64 = np.asarray(_value_and_grads(model, rt, choice, params)[0])
    with jax.enable_x64(False):
        cast = {k: x.astype(np.float32) for k, x in params.items()}
        lp32 = _value_and_grads_or_value(model, rt.astype(np.float32), choice, cast, "float32")[0]
        assert lp32.dtype == jnp.float32
    live = lp64 > -30.0
    assert live.sum() > 60
    np.testing.assert_allclose(np.asarray(lp32)[live], lp64[live], rtol=1e-4, atol=1e-4)


def test_logp_broadcasts():
    """Arguments broadcast together (here to the shape the likelihood is compiled for)."""
    rng = np.random.default_rng(9)
    rt = 0.2 + np.exp(rng.uniform(-2.0, 1.0, _POINTS))
    choice = rng.integers(0, 3, _POINTS)
    params = {"v0": np.array([1.0]), "v1": 0.5, "v2": np.full(_POINTS, 1.5), "A": 0.3, "B": 0.8, "t": 0.2}
    with jax.enable_x64(True):
        lp = RDM(3).logp(rt, choice, **params)
        full = RDM(3).logp(rt, choice, **_full({k: float(np.ravel(x)[0]) for k, x in params.items()}, _POINTS))
    assert lp.shape == (_POINTS,) and lp.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(lp), np.asarray(full))


def test_winner_and_losers_selects_by_choice():
    # Option k's entry is 10 k + trial: the winner's and the losers' (in the order
    # k + 1, k + 2, ... mod N) can be read off; a trial marking no winner counts option 0.
    from rlssm.decision.accumulators import winner_and_losers, winner_mask

    choice = jnp.array([0, 2, 1, 3, -1])
    x = jnp.asarray(10.0 * np.arange(4)[:, None] + np.arange(5)[None, :])
    winner, losers = winner_and_losers(winner_mask(choice, 4, x[0]), x)
    np.testing.assert_array_equal(winner, [0.0, 21.0, 12.0, 33.0, 4.0])
    np.testing.assert_array_equal(
        losers, [[10.0, 31.0, 22.0, 3.0, 14.0], [20.0, 1.0, 32.0, 13.0, 24.0], [30.0, 11.0, 2.0, 23.0, 34.0]]
    )
