"""Tests of `rlssm.Angle`: the exact angle likelihood and its sampler.

References are independent of the code under test: PyDDM's implementation of Anderson's
(1960) series for Brownian motion between two linear boundaries, the Kolmogorov
distribution (undecided mass for expanding bounds), ssm-simulators' Euler simulator, and
`rlssm.DDM` for ``theta = 0``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pyddm.analytic import analytic_ddm, analytic_ddm_linbound
from scipy import integrate, special, stats
from ssms.basic_simulators.simulator import simulator

from rlssm.decision import Angle
from rlssm.decision.angle import LOGP_FLOOR

NAMES = ("v", "a", "z", "t", "theta")
# One jitted likelihood for the whole module: the trace is cached per shape and dtype.
_logp = jax.jit(Angle().logp)
BOUNDS = {"v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0), "theta": (-0.1, 1.3)}


def _meeting_time(a, theta):
    """Decision time at which the bounds meet (inf when they do not close)."""
    k = np.tan(theta)
    return np.where(k > 0, a / np.where(k > 0, k, 1.0), np.inf)


def _random_params(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {name: rng.uniform(*BOUNDS[name], size=n) for name in NAMES}


def _anderson_density(s, choice, v, a, z, theta):
    """First-passage density from PyDDM's Anderson series (zero drift, start 0, boundaries
    ``a1 + b1 s`` above and ``a2 + b2 s`` below).

    Subtracting the drift and the start maps the angle process onto it; a lower-boundary
    response is the upper one of the mirrored process (``v -> -v``, ``x0 -> -x0``).
    """
    k = np.tan(theta)
    sign = np.where(choice > 0, 1.0, -1.0)
    x0, vv = sign * a * (2 * z - 1), sign * v
    s = np.array(s, dtype=np.float64)  # the function overwrites zeros in place
    return analytic_ddm_linbound(a - x0, -k - vv, -a - x0, k - vv, s)


def _exact_cdfs(p: dict, s_end: float, n: int = 40001):
    """Decision-time grid and the (unnormalised) CDF of each response, from `logp`."""
    s = np.linspace(0.0, s_end, n)
    cdfs = {}
    with jax.enable_x64(True):
        for c in (-1, 1):
            lp = _logp(p["t"] + s, c, **{k: np.float64(v) for k, v in p.items()})
            density = np.exp(np.asarray(lp))
            cdfs[c] = integrate.cumulative_simpson(density, x=s, initial=0.0)
    return s, cdfs


def _total_mass(p: dict, s_end: float | None) -> float:
    """Integral of both densities over decision time (to infinity when ``s_end`` is None),
    by composite Gauss-Legendre (through ``s = 5 x / (1 - x)`` for infinite range)."""
    nodes, weights = np.polynomial.legendre.leggauss(32)
    edges = np.linspace(0.0, 1.0, 401)
    half = np.diff(edges)[:, None] / 2
    x = ((edges[1:] + edges[:-1])[:, None] / 2 + half * nodes).ravel()
    w = (half * weights).ravel()
    if s_end is None:
        s, w = 5.0 * x / (1 - x), w * 5.0 / (1 - x) ** 2
    else:
        s, w = s_end * x, w * s_end
    total = 0.0
    with jax.enable_x64(True):
        for c in (-1, 1):
            lp = _logp(s, c, **{k: np.float64(v) for k, v in p.items()}, t=0.0)
            total += float(np.sum(w * np.exp(np.asarray(lp))))
    return total


# --------------------------------------------------------------------------- attributes


def test_declared_attributes():
    model = Angle()
    assert model.param_names == NAMES
    assert model.choices == (-1, 1)
    assert dict(model.bounds) == BOUNDS
    assert model.n_options == 2
    with pytest.raises(ValueError, match="dt"):
        Angle(dt=0.0)
    with pytest.raises(ValueError, match="max_t"):
        Angle(dt=0.1, max_t=0.01)


# ------------------------------------------------------------------- likelihood: values


def test_matches_anderson_series_of_pyddm():
    """2000 random points inside the bounds, both responses, against PyDDM's series."""
    rng = np.random.default_rng(0)
    n = 2000
    p = _random_params(rng, n)
    horizon = np.minimum(_meeting_time(p["a"], p["theta"]), 10.0)
    # Decision times over the whole support, with extra weight on short ones.
    s = horizon * np.where(rng.uniform(size=n) < 0.3, rng.uniform(size=n) ** 3, rng.uniform(size=n))
    s = np.maximum(s, 1e-3)
    choice = rng.choice([-1, 1], size=n)
    reference = _anderson_density(s, choice, p["v"], p["a"], p["z"], p["theta"])
    with jax.enable_x64(True):
        lp = np.asarray(_logp(p["t"] + s, choice, **p))
    checked = reference > 1e-8
    assert checked.sum() > 1000
    err = np.abs(lp[checked] - np.log(reference[checked]))
    # 1e-6 is the requirement; the series are accurate to ~1e-11 and PyDDM's to ~1e-9
    # here, so 1e-7 also catches a missing series term (the third large-time mode is
    # worth ~4e-7 at the switch).
    assert err.max() <= 1e-7, err.max()


def test_series_switch_matches_anderson_series():
    """Around the switch between the small- and large-time series (standardised time
    ``tau / (2a)^2`` in [0.3, 0.5]) and at extreme starts, where truncation bites first,
    PyDDM's series is accurate to ~1e-12: every term of both series is needed for 1e-9."""
    rng = np.random.default_rng(5)
    n = 400
    p = _random_params(rng, n)
    p["z"] = rng.choice([0.1, 0.9], size=n)
    tau = rng.uniform(0.3, 0.5, size=n) * (2 * p["a"]) ** 2
    s = tau / (1 + np.tan(p["theta"]) * tau / p["a"])  # the time change, inverted
    choice = rng.choice([-1, 1], size=n)
    reference = _anderson_density(s, choice, p["v"], p["a"], p["z"], p["theta"])
    with jax.enable_x64(True):
        lp = np.asarray(_logp(p["t"] + s, choice, **p))
    checked = reference > 1e-8
    assert checked.sum() > 300
    assert np.max(np.abs(lp[checked] - np.log(reference[checked]))) <= 1e-9


def test_pyddm_conventions_map_onto_angle():
    """PyDDM's own collapsing-bound solver (bound ``b`` from 0, start shift in [0, 1],
    slope ``b_slope``) with ``b = a``, ``shift = z``, ``b_slope = -tan(theta)``.

    Its pure-Python path: the compiled one (the default) loses relative accuracy where
    the density is small (a factor ~50 at 1e-7 near the meeting point)."""
    p = {"v": 0.7, "a": 1.1, "z": 0.4, "t": 0.0, "theta": 0.45}
    s = np.linspace(0.0, 2.5, 2501)
    upper, lower = analytic_ddm(
        p["v"], 1.0, p["a"], s.copy(), shift=p["z"], b_slope=-np.tan(p["theta"]), force_python=True
    )
    with jax.enable_x64(True):
        mine = {c: np.exp(np.asarray(_logp(s, c, **p))) for c in (-1, 1)}
    for c, reference in ((1, upper), (-1, lower)):
        checked = reference > 1e-8
        assert checked.sum() > 1500
        np.testing.assert_allclose(mine[c][checked], reference[checked], rtol=1e-6)


def test_theta_zero_is_the_ddm():
    from rlssm.decision.ddm import DDM

    rng = np.random.default_rng(1)
    n = 1000
    p = _random_params(rng, n)
    del p["theta"]
    s = rng.uniform(0.0, 6.0, size=n) ** 1.5
    choice = rng.choice([-1, 1], size=n)
    with jax.enable_x64(True):
        angle = np.asarray(_logp(p["t"] + s, choice, **p, theta=0.0))
        ddm = np.asarray(jax.jit(DDM().logp)(p["t"] + s, choice, **p))
    checked = ddm > -40.0
    assert checked.sum() > 500
    np.testing.assert_allclose(angle[checked], ddm[checked], rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "p",
    [
        {"v": 1.0, "a": 1.0, "z": 0.5, "theta": 0.5},
        {"v": -2.5, "a": 2.5, "z": 0.8, "theta": 0.1},
        {"v": 0.3, "a": 0.3, "z": 0.2, "theta": 1.3},
        {"v": 3.0, "a": 3.0, "z": 0.1, "theta": 1.25},
    ],
)
def test_density_integrates_to_one_when_bounds_meet(p):
    total = _total_mass(p, float(_meeting_time(p["a"], p["theta"])))
    assert abs(total - 1.0) < 1e-9, total


@pytest.mark.parametrize(
    "p", [{"v": 0.4, "a": 1.5, "z": 0.3, "theta": 0.0}, {"v": -1.0, "a": 3.0, "z": 0.6, "theta": 0.0}]
)
def test_density_integrates_to_one_for_constant_bounds(p):
    assert abs(_total_mass(p, None) - 1.0) < 1e-9


@pytest.mark.parametrize("a, theta", [(3.0, -0.1), (2.0, -0.1), (1.0, -0.1), (3.0, -0.05)])
def test_undecided_mass_is_kolmogorov(a, theta):
    """Driftless, centred start, bounds ``+-(a + b s)``: by Doob's transform the
    probability of deciding is ``P(sup |bridge| >= sqrt(a b))``, Kolmogorov's tail."""
    total = _total_mass({"v": 0.0, "a": a, "z": 0.5, "theta": theta}, None)
    expected = special.kolmogorov(np.sqrt(a * np.tan(-theta)))
    assert abs(total - expected) < 1e-9, (total, expected)


@pytest.mark.parametrize(
    "p", [{"v": 0.05, "a": 3.0, "z": 0.4, "theta": -0.1}, {"v": -0.08, "a": 2.5, "z": 0.7, "theta": -0.1}]
)
def test_undecided_mass_matches_anderson_series(p):
    total = _total_mass(p, None)
    nodes, weights = np.polynomial.legendre.leggauss(32)
    edges = np.linspace(0.0, 1.0, 401)
    half = np.diff(edges)[:, None] / 2
    x = ((edges[1:] + edges[:-1])[:, None] / 2 + half * nodes).ravel()
    s, w = 5.0 * x / (1 - x), (half * weights).ravel() * 5.0 / (1 - x) ** 2
    reference = sum(
        np.sum(w * _anderson_density(s, c, p["v"], p["a"], p["z"], p["theta"])) for c in (-1, 1)
    )
    assert total < 0.99  # visible mass undecided
    assert abs(total - reference) < 1e-8, (total, reference)


# ------------------------------------------------------------ likelihood: floor, grads


def test_floor_where_the_density_is_zero():
    p = {"v": 0.5, "a": 1.0, "z": 0.5, "t": 0.3, "theta": 0.8}
    meet = float(_meeting_time(1.0, 0.8))
    rt = np.array([0.0, 0.2, 0.3, 0.3 + meet, 0.3 + meet + 1.0, 100.0])
    near = 0.3 + meet * np.array([0.5, 0.9, 0.97, 0.999, 0.9999])
    with jax.enable_x64(True):
        lp = np.asarray(_logp(np.concatenate([rt, near]), 1, **p))
    np.testing.assert_array_equal(lp[: rt.size], LOGP_FLOOR)
    # Continuous at the meeting point: the density vanishes as the bounds close.
    assert np.all(np.diff(lp[rt.size : -1]) < 0)
    assert lp[-2] == pytest.approx(LOGP_FLOOR, abs=1e-9)
    assert lp[-1] == LOGP_FLOOR


def test_broadcasting_dtypes_and_jit():
    model = Angle()
    rt = jnp.linspace(0.5, 2.0, 6, dtype=jnp.float32).reshape(2, 3)
    lp = jax.jit(model.logp)(rt, jnp.array([-1, 1, 1]), v=0.5, a=jnp.float32(1.0), z=0.5, t=0.2, theta=0.3)
    assert lp.shape == (2, 3) and lp.dtype == jnp.float32
    with jax.enable_x64(True):
        lp64 = model.logp(np.asarray(rt, np.float64), np.array([-1, 1, 1]), v=0.5, a=1.0, z=0.5, t=0.2, theta=0.3)
        assert lp64.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(lp), np.asarray(lp64), atol=1e-4)


def _edge_grid():
    """Points at every awkward place inside the bounds (and both responses)."""
    rows = []
    for theta in (-0.1, -1e-7, 0.0, 1e-7, 0.6, 1.3):
        for a in (0.3, 3.0):
            for z in (0.1, 0.9):
                for v in (-3.0, 3.0):
                    t = 0.3
                    meet = float(_meeting_time(a, theta))
                    s_values = [-1.0, 0.0, 1e-12, 1e-6, 1e-3, 0.05, 0.5, 5.0, 200.0]
                    if np.isfinite(meet):
                        s_values += [0.5 * meet, 0.99 * meet, 0.999999 * meet, meet, 1.5 * meet]
                    rows += [(t + s, c, v, a, z, t, theta) for s in s_values for c in (-1, 1)]
    return np.array(rows).T


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_value_and_gradient_finite_everywhere(dtype):
    rt, choice, *params = _edge_grid()
    model = Angle()

    def f(rt, v, a, z, t, theta, c):
        return model.logp(rt, c, v=v, a=a, z=z, t=t, theta=theta)

    grad = jax.jit(jax.vmap(jax.value_and_grad(f, argnums=(0, 1, 2, 3, 4, 5))))
    with jax.enable_x64(dtype == "float64"):
        args = [jnp.asarray(x, dtype=dtype) for x in (rt, *params)]
        value, grads = grad(*args, jnp.asarray(choice, dtype=jnp.int32))
        assert value.dtype == dtype
        assert np.all(np.isfinite(np.asarray(value)))
        assert np.all(np.asarray(value) >= LOGP_FLOOR)
        for g in grads:
            assert g.dtype == dtype
            assert np.all(np.isfinite(np.asarray(g)))


def test_float32_close_to_float64():
    rng = np.random.default_rng(2)
    n = 4000
    p = _random_params(rng, n)
    horizon = np.minimum(_meeting_time(p["a"], p["theta"]), 8.0)
    rt = p["t"] + horizon * rng.uniform(size=n)
    choice = jnp.asarray(rng.choice([-1, 1], size=n), dtype=jnp.int32)
    model = Angle()

    def total(rt, v, a, z, t, theta):
        lp = model.logp(rt, choice, v=v, a=a, z=z, t=t, theta=theta)
        return lp.sum(), lp

    f = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3, 4, 5), has_aux=True))
    args32 = [x.astype(np.float32) for x in (rt, *(p[k] for k in NAMES))]
    (_, lp32), g32 = f(*args32)
    # The reference is float64 at the float32-rounded inputs: near the meeting point the
    # log-density is so steep in rt that rounding the inputs alone moves it by ~1e-3.
    with jax.enable_x64(True):
        (_, lp64), g64 = f(*(x.astype(np.float64) for x in args32))
    assert lp32.dtype == jnp.float32 and lp64.dtype == jnp.float64
    assert np.all(np.isfinite(np.asarray(lp32)))
    np.testing.assert_allclose(np.asarray(lp32), np.asarray(lp64), rtol=2e-5, atol=2e-5)
    for a32, a64 in zip(g32, g64):
        assert a32.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(a32)))
        np.testing.assert_allclose(np.asarray(a32), np.asarray(a64), rtol=1e-3, atol=1e-3)


# --------------------------------------------------------------------------- sampling


def test_matches_ssm_simulators():
    """Choice probabilities and RT quantiles against ssm-simulators' angle simulator
    (Euler, dt = 1e-3). Its discretisation lets paths overshoot the boundary between
    steps, which delays responses by O(sqrt(dt)) of the process's time scale; the sets
    are fast ones, where that bias is within the tolerances."""
    sets = [
        {"v": 0.0, "a": 0.6, "z": 0.5, "t": 0.2, "theta": 0.7},
        {"v": -0.6, "a": 0.9, "z": 0.6, "t": 0.3, "theta": 1.0},
        {"v": 0.8, "a": 0.5, "z": 0.6, "t": 0.5, "theta": 1.1},
        {"v": 2.0, "a": 2.0, "z": 0.4, "t": 0.3, "theta": 0.9},
    ]
    model = Angle()
    for i, p in enumerate(sets):
        sim = simulator(
            theta=np.array([[p[k] for k in NAMES]]), model="angle", n_samples=100_000, random_state=i
        )
        rts, choices = sim["rts"].ravel(), sim["choices"].ravel()
        s, cdfs = _exact_cdfs(p, float(_meeting_time(p["a"], p["theta"])))
        assert cdfs[-1][-1] + cdfs[1][-1] == pytest.approx(1.0, abs=1e-8)
        for c in (-1, 1):
            assert abs(np.mean(choices == c) - cdfs[c][-1]) <= 0.01, (p, c)
            q = p["t"] + np.interp(np.array([0.1, 0.5, 0.9]) * cdfs[c][-1], cdfs[c], s)
            np.testing.assert_allclose(np.quantile(rts[choices == c], [0.1, 0.5, 0.9]), q, atol=0.02)


_SAMPLER_SETS = [
    {"v": 0.3, "a": 1.0, "z": 0.5, "t": 0.3, "theta": 0.6},
    {"v": -0.6, "a": 0.9, "z": 0.6, "t": 0.3, "theta": 1.0},
    {"v": 0.2, "a": 0.8, "z": 0.45, "t": 0.25, "theta": 0.0},
    {"v": 0.0, "a": 0.4, "z": 0.45, "t": 0.1, "theta": 1.3},
    {"v": 0.0, "a": 3.0, "z": 0.5, "t": 0.2, "theta": -0.1},
]


def test_sampler_matches_likelihood():
    """60,000 draws per set; per response, the KS distance to the exact conditional CDF
    is at most 0.015 (99.9% critical value for > 20,000 draws: 0.0138) and the response
    frequencies (including "undecided by max_t") lie in their 99.9% binomial intervals."""
    n = 60_000
    model = Angle()
    draw = jax.jit(lambda key, p: model.sample(key, **p))
    for i, p in enumerate(_SAMPLER_SETS):
        rt, choice = draw(jax.random.key(i), {k: jnp.full((n,), v, dtype=jnp.float32) for k, v in p.items()})
        assert rt.dtype == jnp.float32 and choice.dtype == jnp.int32
        rt, choice = np.asarray(rt, dtype=np.float64), np.asarray(choice)
        assert set(np.unique(choice)) <= {-1, 0, 1}
        assert np.all(np.isinf(rt[choice == 0])) and np.all(np.isfinite(rt[choice != 0]))
        s_end = float(min(_meeting_time(p["a"], p["theta"]), model.max_t))
        s, cdfs = _exact_cdfs(p, s_end)
        mass = {c: cdfs[c][-1] for c in (-1, 1)}
        mass[0] = 1.0 - mass[-1] - mass[1]  # undecided by the horizon
        for c in (-1, 0, 1):
            lo, hi = stats.binom.interval(0.999, n, np.clip(mass[c], 0.0, 1.0))
            assert lo <= np.sum(choice == c) <= hi, (p, c, np.sum(choice == c) / n, mass[c])
        for c in (-1, 1):
            x = rt[choice == c] - p["t"]
            assert x.size > 20_000
            assert np.all(x > 0) and np.all(x < s_end)
            ks = stats.kstest(x, lambda y, c=c: np.interp(y, s, cdfs[c] / cdfs[c][-1])).statistic
            assert ks <= 0.015, (p, c, ks)
    # The last set leaves a visible share undecided at the horizon.
    assert mass[0] > 0.05


def test_sample_broadcasting_and_dtypes():
    model = Angle()
    # x64 explicitly off: another test in this process may have imported HSSM, which
    # turns the global flag on (the dtype follows the inputs).
    with jax.enable_x64(False):
        rt, choice = model.sample(
            jax.random.key(0), v=jnp.zeros((3, 1)), a=1.0, z=jnp.full((4,), 0.5), t=0.3, theta=0.5
        )
    assert rt.shape == choice.shape == (3, 4)
    assert rt.dtype == jnp.float32 and choice.dtype == jnp.int32
    assert np.all(np.asarray(rt) > 0.3) and set(np.unique(np.asarray(choice))) <= {-1, 1}
    with jax.enable_x64(True):
        rt64, _ = model.sample(jax.random.key(1), v=0.5, a=1.0, z=0.5, t=0.3, theta=np.zeros(5))
        assert rt64.dtype == jnp.float64 and rt64.shape == (5,)
        assert np.all(np.isfinite(np.asarray(rt64)))
    keys = jax.random.split(jax.random.key(2), 7)
    rts, choices = jax.vmap(lambda k: model.sample(k, v=1.0, a=1.0, z=0.5, t=0.3, theta=0.5))(keys)
    assert rts.shape == choices.shape == (7,)
    assert len(set(np.asarray(rts).tolist())) == 7  # independent draws per key
