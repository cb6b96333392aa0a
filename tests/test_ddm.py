"""Tests of `rlssm.DDM`: the exact DDM likelihood and its sampler.

References are independent of the code under test: HSSM's analytical ``logp_ddm``
(PyTensor), PyDDM's analytical solver, the closed-form boundary probability of a Wiener
process, numerical quadrature of the density, finite differences, and a frozen copy of
rlssm's own earlier series (fixed term counts sized for exp(-160), differentiated by JAX),
which the faster series that chooses its terms from the error bounds must reproduce.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hssm.likelihoods.analytical import ddm_bounds, logp_ddm
from pyddm.analytic import analytic_ddm
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


# ------------------------------------------------------------------ frozen reference
# rlssm's DDM density as it was before issue 25, kept verbatim as the reference of the
# faster series: both series, with fixed numbers of terms sized for a truncation error
# below exp(-160) on every trial (six image pairs, ten eigenmodes, switch at 0.5), and
# gradients by JAX's autodiff of these formulas.

_REF_TT_SWITCH = 0.5
_REF_N_SMALL = 6
_REF_N_LARGE = 10
_REF_MAX_EXPONENT = 1000.0
_REF_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _ref_index(start, stop, like):
    return jnp.arange(start, stop, dtype=like.dtype).reshape((-1,) + (1,) * like.ndim)


def _ref_sin_k_pi_w(k, w, d):
    sign = jnp.where(k % 2 == 1, 1.0, -1.0).astype(w.dtype)
    return jnp.where(w <= 0.5, jnp.sin(k * jnp.pi * w), sign * jnp.sin(k * jnp.pi * d))


def _ref_log_fpt_small(tt, w, d):
    k = _ref_index(1, _REF_N_SMALL + 1, tt)
    x = 4.0 * k * w / tt
    pairs_near_0 = jnp.exp(-2.0 * k * (k - w) / tt) * (-(2.0 * k + w) * jnp.expm1(-x) - 2.0 * w)
    sum_near_0 = w - jnp.sum(pairs_near_0, axis=0)
    m = 2.0 * _ref_index(0, _REF_N_SMALL + 1, tt) + 1.0
    y = 2.0 * m * d / tt
    pairs_near_1 = jnp.exp(-(m - 1.0) * (m + 1.0 - 2.0 * d) / (2.0 * tt)) * (
        -(m - d) * jnp.expm1(-y) - 2.0 * d * jnp.exp(-y)
    )
    sum_near_1 = jnp.sum(pairs_near_1, axis=0)
    total = jnp.where(w <= 0.5, sum_near_0, sum_near_1)
    return jnp.log(total) - w**2 / (2.0 * tt) - 1.5 * jnp.log(tt) - _REF_LOG_SQRT_2PI


def _ref_log_fpt_large(tt, w, d):
    k = _ref_index(1, _REF_N_LARGE + 1, tt)
    terms = k * jnp.exp(-(k**2 - 1.0) * math.pi**2 * tt / 2.0) * _ref_sin_k_pi_w(k, w, d)
    return math.log(math.pi) - math.pi**2 * tt / 2.0 + jnp.log(jnp.sum(terms, axis=0))


def _ref_log_fpt(tt, w, d):
    small = tt < _REF_TT_SWITCH
    lp_small = _ref_log_fpt_small(jnp.where(small, tt, _REF_TT_SWITCH / 2.0), w, d)
    lp_large = _ref_log_fpt_large(jnp.where(small, 2.0 * _REF_TT_SWITCH, tt), w, d)
    return jnp.where(small, lp_small, lp_large)


def _reference_logp(rt, choice, v, a, z, t):
    """The pre-issue-25 `DDM.logp` (its `_log_density`), float64 arrays."""
    upper = choice > 0
    rt, upper, v, a, z, t = jnp.broadcast_arrays(rt, upper, v, a, z, t)
    v_low = jnp.where(upper, -v, v)
    w = jnp.where(upper, 1.0 - z, z)
    d = jnp.where(upper, z, 1.0 - z)
    sep = 2.0 * a
    s = rt - t
    positive = s > 0
    tt = jnp.where(positive, s, 1.0) / sep**2
    exact_region = positive & (w**2 / (2.0 * tt) <= _REF_MAX_EXPONENT)
    tt = jnp.where(exact_region, tt, 1.0)
    s = tt * sep**2
    log_p = _ref_log_fpt(tt, w, d) - 2.0 * jnp.log(sep) - v_low * sep * w - v_low**2 * s / 2.0
    floor = jnp.asarray(LOGP_FLOOR, dtype=log_p.dtype)
    return jnp.where(exact_region, jnp.logaddexp(log_p, floor), floor)


def _value_and_gradients_of(logp):
    """Jitted: per-trial log-density and its gradient in (rt, v, a, z, t)."""

    def total(rt, choice, v, a, z, t):
        return jnp.sum(logp(rt, choice, v, a, z, t))

    grad = jax.grad(total, argnums=(0, 2, 3, 4, 5))
    def value_and_gradients(rt, choice, v, a, z, t):
        return logp(rt, choice, v, a, z, t), grad(rt, choice, v, a, z, t)

    return jax.jit(value_and_gradients)


_new_vg = _value_and_gradients_of(lambda rt, c, v, a, z, t: DDM().logp(rt, c, v=v, a=a, z=z, t=t))
_ref_vg = _value_and_gradients_of(_reference_logp)


def _wide_sample(rng, n):
    """Parameters inside the bounds, wide: normalised times tt = (rt - t) / (2a)**2 from
    1e-4 to 50 (a tenth of them around the series switch, 0.35-0.55), starts up to
    1e-12 from either boundary, |v| up to 20."""
    v = rng.uniform(-20.0, 20.0, n)
    a = np.exp(rng.uniform(np.log(0.05), np.log(5.0), n))
    z = rng.uniform(0.0, 1.0, n)
    edges = np.array([1e-12, 1e-6, 1e-3, 0.5, 1.0 - 1e-3, 1.0 - 1e-6, 1.0 - 1e-12])
    z = np.where(rng.uniform(size=n) < 0.2, rng.choice(edges, n), z)
    t = rng.uniform(0.0, 1.0, n)
    tt = np.exp(rng.uniform(np.log(1e-4), np.log(50.0), n))
    tt = np.where(rng.uniform(size=n) < 0.1, rng.uniform(0.35, 0.55, n), tt)
    rt = t + tt * (2.0 * a) ** 2
    choice = rng.choice([-1.0, 1.0], n)
    return rt, choice, v, a, z, t


def test_matches_frozen_reference_series():
    """Values to 1e-12 relative (absolute below |log p| = 1) and gradients to 1e-9 of the
    earlier implementation, on 20,000 points across both series, the switch and the edges."""
    rt, choice, v, a, z, t = _wide_sample(np.random.default_rng(25), 20_000)
    with jax.enable_x64(True):
        new, new_grads = _new_vg(rt, choice, v, a, z, t)
        ref, ref_grads = _ref_vg(rt, choice, v, a, z, t)
    new, ref = np.asarray(new), np.asarray(ref)
    assert np.all(np.isfinite(new))
    live = ref > LOGP_FLOOR + 1.0
    assert live.sum() > 10_000
    err = np.abs(new - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= 1e-12, err.max()
    for name, g_new, g_ref in zip(("rt", "v", "a", "z", "t"), new_grads, ref_grads, strict=True):
        g_new, g_ref = np.asarray(g_new), np.asarray(g_ref)
        assert np.all(np.isfinite(g_new)), name
        g_err = np.abs(g_new - g_ref) / np.maximum(1.0, np.abs(g_ref))
        assert g_err.max() <= 1e-9, (name, g_err.max())


def test_float32_matches_frozen_reference():
    """float32 against the float64 reference at the same (float32-rounded) inputs: within
    1e-5 of max(1, |log p|) (measured 2.6e-6; the earlier series in float32: 6.0e-6)."""
    rt, choice, v, a, z, t = _wide_sample(np.random.default_rng(26), 4000)
    keep = (z > 1e-3) & (z < 1.0 - 1e-3)  # float32 cannot hold 1 - 1e-6 apart from 1
    f32 = [x[keep].astype(np.float32) for x in (rt, choice, v, a, z, t)]
    with jax.enable_x64(True):
        ref = np.asarray(_ref_vg(*(x.astype(np.float64) for x in f32))[0])
    with jax.enable_x64(False):
        new, grads = _new_vg(*f32)
    assert np.asarray(new).dtype == np.float32
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    err = np.abs(np.asarray(new, np.float64) - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() <= 1e-5, err.max()


@pytest.mark.parametrize(
    ("v", "a", "z", "s"),
    [
        (0.5, 0.8, 0.01, 1e-3),  # rt just above t: tt ~ 4e-4
        (0.5, 0.3, 0.005, 1e-6),  # tt ~ 3e-6
        (-1.0, 1.2, 0.1, 0.05),
        (2.0, 0.6, 0.7, 0.6),  # around the switch, tt ~ 0.42
        (1.0, 0.6, 0.3, 0.64),  # tt ~ 0.44
        (-0.3, 0.5, 0.5, 8.0),  # large tt (8: the density is near exp(-40))
        (20.0, 1.0, 0.3, 0.2),  # large |v|
        (-20.0, 0.5, 0.9, 0.02),
        (3.0, 1.5, 1e-6, 0.3),  # starts next to a boundary
        (-3.0, 1.5, 1.0 - 1e-6, 0.3),
        (0.0, 0.05, 0.5, 2e-5),  # small a, tiny time
    ],
)
def test_gradients_match_finite_differences(v, a, z, s):
    """Central differences (float64) of the log-density in rt, v, a, z and t, for both
    responses, at points inside the bounds where the floor is not active."""
    t = 0.3
    base = np.array([t + s, v, a, z, t])

    def logp(x, choice):
        with jax.enable_x64(True):
            return float(DDM().logp(x[0], choice, v=x[1], a=x[2], z=x[3], t=x[4]))

    # Steps: a small fraction of each argument's own scale (the decision time for rt
    # and t, the distance to the nearer bound for z).
    scale = np.array([s, max(1.0, abs(v)), a, min(z, 1.0 - z), s])
    checked = 0
    for choice in (-1, 1):
        if logp(base, choice) < LOGP_FLOOR + 10.0:
            continue
        checked += 1
        with jax.enable_x64(True):
            _, grads = _new_vg(*(np.array([x]) for x in (base[0], float(choice), *base[1:])))
        grads = np.array([float(np.asarray(g)[0]) for g in grads])
        for i in range(5):
            h = 1e-5 * scale[i]
            up, down = base.copy(), base.copy()
            up[i] += h
            down[i] -= h
            fd = (logp(up, choice) - logp(down, choice)) / (2.0 * h)
            assert abs(grads[i] - fd) <= 1e-5 * max(1.0, abs(fd)), (choice, i, grads[i], fd)
    assert checked >= 1


def test_forward_mode_matches_reverse_mode():
    rt, choice, v, a, z, t = _wide_sample(np.random.default_rng(3), 64)
    with jax.enable_x64(True):
        _, grads = _new_vg(rt, choice, v, a, z, t)
        tangents = [np.random.default_rng(4).normal(size=64) for _ in range(5)]
        _, jvp = jax.jvp(
            lambda rt, v, a, z, t: DDM().logp(rt, choice, v=v, a=a, z=z, t=t),
            (rt, v, a, z, t),
            tuple(tangents),
        )
    expected = sum(np.asarray(g) * dx for g, dx in zip(grads, tangents, strict=True))
    np.testing.assert_allclose(np.asarray(jvp), expected, rtol=1e-12, atol=1e-12)


def test_nan_parameter_gives_nan_value_and_gradient():
    with jax.enable_x64(True):
        value, grads = _new_vg(
            np.array([0.8, 0.8, 0.8, 0.8]),
            np.array([1.0, 1.0, -1.0, -1.0]),
            np.array([np.nan, 0.5, 0.5, 0.5]),
            np.array([1.0, np.nan, 1.0, 1.0]),
            np.array([0.5, 0.5, np.nan, 0.5]),
            np.array([0.2, 0.2, 0.2, np.nan]),
        )
    assert np.all(np.isnan(np.asarray(value)))
    for g in grads:
        assert np.all(np.isnan(np.asarray(g)))


@pytest.mark.parametrize(("v", "a", "z"), [(0.7, 1.1, 0.4), (-2.0, 0.6, 0.8), (0.0, 1.6, 0.05)])
def test_matches_pyddm_analytic_solver(v, a, z):
    """PyDDM's own constant-bound solver (bound ``a`` from 0, start shift ``z``)."""
    s = np.linspace(0.0, 4.0, 4001)
    upper, lower = analytic_ddm(v, 1.0, a, s.copy(), shift=z, b_slope=0.0, force_python=True)
    with jax.enable_x64(True):
        mine = {c: np.exp(np.asarray(_logp(s, c, v=v, a=a, z=z, t=0.0))) for c in (-1, 1)}
    for c, reference in ((1, upper), (-1, lower)):
        checked = reference > 1e-8
        assert checked.sum() > 1000
        np.testing.assert_allclose(mine[c][checked], reference[checked], rtol=1e-6)
