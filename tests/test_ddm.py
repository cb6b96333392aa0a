"""Tests of `rlssm.DDM`: the exact DDM likelihood and its sampler.

References are independent of the code under test: HSSM's analytical ``logp_ddm``
(PyTensor), the closed-form boundary probability of a Wiener process, and numerical
quadrature of the density.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hssm.likelihoods.analytical import ddm_bounds, logp_ddm
from scipy import integrate, stats

from rlssm.decision import DDM
from rlssm.decision.ddm import LOGP_FLOOR

# One jitted likelihood and sampler for the whole module: traces are cached per shape and
# dtype, so the tests share shapes where they can.
_logp = jax.jit(DDM().logp)
_sample = jax.jit(DDM().sample)


@pytest.fixture(scope="module")
def hssm_logp():
    """HSSM's analytical DDM log-likelihood, compiled once, called with numpy arrays."""
    data = pt.matrix("data", dtype="float64")
    v, a, z, t = (pt.vector(name, dtype="float64") for name in "vazt")
    return pytensor.function([data, v, a, z, t], logp_ddm(data, v, a, z, t))


def _p_upper(v: float, a: float, z: float) -> float:
    """Probability of the upper boundary: start ``2az`` above the lower of two boundaries
    ``2a`` apart, unit noise (the classic gambler's-ruin formula)."""
    if v == 0.0:
        return z
    sep = 2.0 * a
    return float(np.expm1(-2.0 * v * sep * z) / np.expm1(-2.0 * v * sep))


def _horizon(v: float, a: float) -> float:
    """A decision time by which both boundaries' remaining mass is below exp(-60)."""
    decay = v**2 / 2.0 + np.pi**2 / (2.0 * (2.0 * a) ** 2)  # slowest eigenmode
    return 60.0 / decay


def test_declarations_match_hssm_ddm():
    model = DDM()
    assert model.param_names == ("v", "a", "z", "t")
    assert model.choices == (-1, 1)
    assert dict(model.bounds) == {k: tuple(map(float, b)) for k, b in ddm_bounds.items()}


def test_matches_hssm_analytical_logp(hssm_logp):
    rng = np.random.default_rng(20260101)
    n = 600
    v = rng.uniform(-3.0, 3.0, n)
    a = rng.uniform(0.3, 2.5, n)
    z = rng.uniform(0.1, 0.9, n)
    t = rng.uniform(0.0, 2.0, n)
    rt = t + np.exp(rng.uniform(np.log(0.01), np.log(6.0), n))
    choice = rng.choice([-1.0, 1.0], n)
    reference = hssm_logp(np.stack([rt, choice], axis=1), v, a, z, t)
    # HSSM floors its zero-drift factor at exp(-66.1) and we floor the whole density:
    # compare where neither floor is within exp(-30) of mattering.
    live = reference > -36.0
    assert live.sum() >= 400
    with jax.enable_x64(True):
        ours = np.asarray(_logp(rt, choice, v=v, a=a, z=z, t=t))
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours[live], reference[live], rtol=0.0, atol=1e-8)


@pytest.mark.parametrize(
    ("v", "a", "z", "t"),
    [
        (0.0, 1.0, 0.5, 0.3),
        (1.2, 0.6, 0.35, 0.2),
        (-2.5, 0.4, 0.8, 0.1),
        (3.0, 2.5, 0.1, 0.5),
        (-0.7, 1.8, 0.95, 0.0),
        (5.0, 0.2, 0.03, 0.25),
    ],
)
def test_density_integrates_to_one(v, a, z, t):
    horizon = _horizon(v, a)
    mass = {}
    with jax.enable_x64(True):
        for choice in (-1, 1):

            def density(s, choice=choice):
                return float(np.exp(_logp(t + s, choice, v=v, a=a, z=z, t=t)))

            mass[choice] = integrate.quad(density, 0.0, horizon, limit=400, epsabs=1e-13)[0]
    assert mass[-1] + mass[1] == pytest.approx(1.0, abs=1e-9)
    assert mass[1] == pytest.approx(_p_upper(v, a, z), abs=1e-9)


@jax.jit
def _value_and_gradients(rt, choice, v, a, z, t):
    """The log-density, and its gradient with respect to rt and every parameter."""

    def total(*args):
        return jnp.sum(DDM().logp(args[0], choice, v=args[1], a=args[2], z=args[3], t=args[4]))

    value = DDM().logp(rt, choice, v=v, a=a, z=z, t=t)
    return value, jax.grad(total, argnums=(0, 1, 2, 3, 4))(rt, v, a, z, t)


def _grid():
    """Points on both sides of rt = t, in the far tail, and at extreme parameters."""
    s = np.array([-1.0, -1e-3, 0.0, 1e-30, 1e-12, 1e-6, 1e-3, 0.05, 0.4, 3.0, 60.0, 1e3])
    v = np.array([-20.0, -1.0, 0.0, 2.0, 20.0])
    a = np.array([0.01, 0.5, 10.0])
    z = np.array([1e-6, 0.3, 1.0 - 1e-6])
    grid = np.meshgrid(s, v, a, z, np.array([-1.0, 1.0]), indexing="ij")
    s, v, a, z, choice = (g.ravel() for g in grid)
    # t = 0 after the non-decision time, so that rt = s keeps the tiniest s exactly.
    t = np.where(s > 0, 0.0, 0.3)
    return t + s, choice, {"v": v, "a": a, "z": z, "t": t}, s


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_finite_values_and_gradients_everywhere(dtype):
    rt, choice, params, s = _grid()
    with jax.enable_x64(dtype == "float64"):
        args = [jnp.asarray(x, dtype=dtype) for x in (rt, *params.values())]
        value, grads = _value_and_gradients(args[0], choice, *args[1:])
    value, grads = np.asarray(value), [np.asarray(g) for g in grads]
    assert value.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(value))
    for g in grads:
        assert g.dtype == np.dtype(dtype)
        assert np.all(np.isfinite(g))
    # No density before the non-decision time: exactly the floor, flat in every argument.
    floor = np.asarray(LOGP_FLOOR, dtype=dtype)
    before = s <= 0
    assert np.all(value[before] == floor)
    assert all(np.all(g[before] == 0.0) for g in grads)
    # The floor is approached continuously from above.
    assert np.all(value >= floor)
    # (z = 1e-6 starts next to a boundary: there the density at s = 1e-12 is large.)
    assert np.all(value[(s > 0) & (s <= 1e-12) & (params["z"] == 0.3)] - floor <= 1e-6)


def test_float32_matches_float64():
    rng = np.random.default_rng(7)
    n = 2000
    params = {
        "v": rng.uniform(-3.0, 3.0, n),
        "a": rng.uniform(0.3, 2.5, n),
        "z": rng.uniform(0.1, 0.9, n),
        "t": rng.uniform(0.0, 1.0, n),
    }
    rt = params["t"] + np.exp(rng.uniform(np.log(0.01), np.log(5.0), n))
    choice = rng.choice(np.array([-1, 1], dtype=np.int32), n)
    with jax.enable_x64(True):
        lp64 = np.asarray(_logp(rt, choice, **params))
    with jax.enable_x64(False):
        lp32 = _logp(
            rt.astype(np.float32), choice, **{k: x.astype(np.float32) for k, x in params.items()}
        )
        assert lp32.dtype == jnp.float32
        # Python scalars take the dtype of the arrays they meet.
        scalar = DDM().logp(np.float32(1.0), 1, v=0.5, a=1.0, z=0.5, t=0.2)
        assert scalar.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(lp32), lp64, rtol=2e-5, atol=2e-5)


def test_logp_broadcasts():
    with jax.enable_x64(True):
        rt = np.linspace(0.5, 2.0, 4)[:, None]
        lp = _logp(rt, np.array([-1, 1]), v=0.5, a=np.array([0.8, 1.2]), z=0.4, t=0.2)
        single = DDM().logp(float(rt[2, 0]), 1, v=0.5, a=1.2, z=0.4, t=0.2)
    assert lp.shape == (4, 2) and single.shape == ()
    assert float(lp[2, 1]) == pytest.approx(float(single), rel=1e-14)


def test_sampler_broadcasts_and_is_deterministic_in_float32():
    params = {
        "v": np.array([[-1.0], [0.0], [2.0]], dtype=np.float32),
        "a": np.float32(1.0),
        "z": np.linspace(0.2, 0.8, 400, dtype=np.float32),
        "t": np.float32(0.3),
    }
    with jax.enable_x64(False):
        rt, choice = _sample(jax.random.key(3), **params)
        rt_again, choice_again = _sample(jax.random.key(3), **params)
        rt_other, _ = _sample(jax.random.key(4), **params)
    assert rt.shape == choice.shape == (3, 400)
    assert rt.dtype == jnp.float32 and choice.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(rt), np.asarray(rt_again))
    np.testing.assert_array_equal(np.asarray(choice), np.asarray(choice_again))
    assert not np.array_equal(np.asarray(rt), np.asarray(rt_other))
    assert np.all(np.isin(np.asarray(choice), [-1, 1]))
    assert np.all(np.isfinite(np.asarray(rt))) and np.all(np.asarray(rt) > 0.3)
    # The drift orders the choices: more upper responses for larger v.
    upper = np.mean(np.asarray(choice) == 1, axis=1)
    assert upper[0] < 0.3 < upper[1] < 0.7 < upper[2]


def _ks_distance(samples: np.ndarray, grid: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between ``samples`` and a CDF tabulated on ``grid``."""
    x = np.sort(samples)
    f = np.interp(x, grid, cdf)
    n = len(x)
    upper = np.arange(1, n + 1) / n - f
    lower = f - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


@pytest.mark.parametrize(
    ("v", "a", "z", "t"),
    [(0.5, 1.0, 0.45, 0.3), (-1.5, 0.5, 0.6, 0.1), (0.0, 1.5, 0.3, 0.5)],
)
def test_sampler_matches_likelihood(v, a, z, t):
    n = 80_000
    with jax.enable_x64(True):
        params = dict(zip("vazt", (v, a, z, t), strict=True))
        rt, choice = _sample(jax.random.key(11), **{k: np.full(n, x) for k, x in params.items()})
        rt, choice = np.asarray(rt), np.asarray(choice)
        horizon = _horizon(v, a)
        grid = np.linspace(0.0, horizon, 200_001)
        mass, cdfs = {}, {}
        for c in (-1, 1):
            density = np.exp(np.asarray(_logp(t + grid, c, v=v, a=a, z=z, t=t)))
            cumulative = integrate.cumulative_simpson(density, x=grid, initial=0.0)
            mass[c], cdfs[c] = cumulative[-1], cumulative / cumulative[-1]
    assert mass[-1] + mass[1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.isin(choice, [-1, 1]))
    n_upper = int(np.sum(choice == 1))
    low, high = stats.binom.interval(0.999, n, mass[1])
    assert low <= n_upper <= high
    for c in (-1, 1):
        picked = rt[choice == c] - t
        assert len(picked) > 20_000
        assert _ks_distance(picked, grid, cdfs[c]) <= 0.015
