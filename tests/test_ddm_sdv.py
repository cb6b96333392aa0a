"""Tests of `rlssm.DDMSdv`: the DDM with across-trial drift variability.

References independent of the code under test: HSSM's analytical ``logp_ddm_sdv``
(PyTensor), numerical quadrature of the constant-drift DDM density over the normal drift
distribution, integration of the density over time, finite differences, and the
sampler's own draws.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from hssm.likelihoods.analytical import logp_ddm_sdv
from scipy import integrate, stats

import rlssm
from rlssm.decision import DDM, DDMSdv

_logp = jax.jit(DDMSdv().logp)
_sample = jax.jit(DDMSdv().sample)
_ddm_logp = jax.jit(DDM().logp)


def test_declarations():
    model = rlssm.DDMSdv()
    assert model.param_names == ("v", "a", "z", "t", "sv")
    assert model.choices == (-1, 1)
    assert model.bounds["sv"] == (0.0, 2.5)


def test_matches_hssm_analytical_logp():
    data = pt.matrix("data", dtype="float64")
    v, a, z, t, sv = (pt.scalar(name, dtype="float64") for name in ("v", "a", "z", "t", "sv"))
    hssm = pytensor.function([data, v, a, z, t, sv], logp_ddm_sdv(data, v, a, z, t, sv))
    rng = np.random.default_rng(0)
    for _ in range(20):
        v, a, z, t, sv = (rng.uniform(-3, 3), rng.uniform(0.3, 2.5), rng.uniform(0.1, 0.9),
                          rng.uniform(0, 1), rng.uniform(0.01, 2.5))
        rt = t + rng.exponential(1.0, 50) + 0.01
        choice = rng.choice([-1.0, 1.0], 50)
        ours = np.asarray(_logp(rt, choice, v=v, a=a, z=z, t=t, sv=sv))
        ref = hssm(np.c_[rt, choice], v, a, z, t, sv)
        # HSSM floors the driftless density (at exp(-66.1)) before it adds the drift terms,
        # which can raise a floored value by tens of log units (rlssm floors the result):
        # compare where HSSM's floor does not act.
        driftless = np.asarray(_ddm_logp(rt, choice, v=0.0, a=a, z=z, t=t))
        live = (driftless > -60) & (ref > -40)  # where exp(-66.1) is negligible against p
        assert live.sum() > 40
        np.testing.assert_allclose(ours[live], ref[live], rtol=0, atol=1e-10)


@pytest.mark.parametrize(("v", "a", "z", "t", "sv"), [(0.8, 1.0, 0.4, 0.3, 1.0), (-1.5, 0.6, 0.6, 0.1, 0.4)])
def test_matches_quadrature_over_the_drift(v, a, z, t, sv):
    rt = t + np.array([0.05, 0.2, 0.5, 1.0, 2.0, 4.0])
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    for choice in (-1.0, 1.0):
        mixed = sum(
            w * np.exp(np.asarray(_ddm_logp(rt, choice, v=v + sv * x, a=a, z=z, t=t)))
            for x, w in zip(nodes, weights, strict=True)
        ) / np.sqrt(2.0 * np.pi)
        np.testing.assert_allclose(np.asarray(_logp(rt, choice, v=v, a=a, z=z, t=t, sv=sv)), np.log(mixed),
                                   rtol=0, atol=1e-8)


def test_zero_variability_is_the_ddm():
    rt = np.linspace(0.05, 4.0, 60)
    choice = np.where(np.arange(60) % 2, 1.0, -1.0)
    ours = _logp(rt, choice, v=1.2, a=0.9, z=0.35, t=0.2, sv=0.0)
    ddm = _ddm_logp(rt, choice, v=1.2, a=0.9, z=0.35, t=0.2)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ddm), rtol=0, atol=1e-12)


def test_sampler_matches_likelihood():
    v, a, z, t, sv = 0.7, 0.8, 0.45, 0.25, 1.5
    n = 60_000
    rt, choice = _sample(jax.random.key(3), **{k: np.full(n, x) for k, x in dict(v=v, a=a, z=z, t=t, sv=sv).items()})
    rt, choice = np.asarray(rt), np.asarray(choice)
    grid = np.linspace(0.0, 40.0, 200_001)
    mass = {}
    for c in (-1, 1):
        density = np.exp(np.asarray(_logp(t + grid, float(c), v=v, a=a, z=z, t=t, sv=sv)))
        cumulative = integrate.cumulative_simpson(density, x=grid, initial=0.0)
        mass[c] = cumulative[-1]
        picked = np.sort(rt[choice == c] - t)
        model_cdf = np.interp(picked, grid, cumulative / cumulative[-1])
        empirical = np.arange(1, len(picked) + 1) / len(picked)
        assert np.max(np.abs(model_cdf - empirical)) < 0.015
    assert mass[-1] + mass[1] == pytest.approx(1.0, abs=1e-6)
    low, high = stats.binom.interval(0.999, n, mass[1])
    assert low <= int(np.sum(choice == 1)) <= high


def test_gradients_match_finite_differences_and_are_finite_at_edges():
    rt = jnp.array([0.35, 0.6, 1.4, 3.0])
    choice = jnp.array([1.0, -1.0, 1.0, -1.0])

    def total(p):
        return jnp.sum(DDMSdv().logp(rt, choice, v=p[0], a=p[1], z=p[2], t=p[3], sv=p[4]))

    point = jnp.array([0.9, 1.1, 0.45, 0.3, 0.8])
    grad = np.asarray(jax.grad(total)(point))
    h = 1e-6
    for i in range(5):
        step = jnp.zeros(5).at[i].set(h)
        fd = (float(total(point + step)) - float(total(point - step))) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-6)
    for edge in ([0.9, 1.1, 0.45, 0.3, 0.0], [0.9, 1.1, 0.45, 0.3, 2.5], [0.9, 1.1, 0.45, 0.349, 2.5]):
        value, g = jax.value_and_grad(total)(jnp.array(edge))
        assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(g)))


def test_nan_parameter_gives_nan():
    out = _logp(np.array([0.5, 1.0]), np.array([1.0, -1.0]), v=0.5, a=1.0, z=0.5, t=0.2, sv=np.nan)
    assert np.all(np.isnan(np.asarray(out)))


def test_fits_in_a_model_and_simulates():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDMSdv())
    assert model.param_names[-1] == "sv"
    data = model.simulate({"rl_alpha": 0.3, "scaler": 2.0, "a": 1.0, "z": 0.5, "t": 0.2, "sv": 0.5},
                          rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.2), n_participants=2, n_trials=30, seed=1)
    ll = model.loglik(data, {"rl_alpha": 0.3, "scaler": 2.0, "a": 1.0, "z": 0.5, "t": 0.2, "sv": 0.5})
    assert np.isfinite(float(np.sum(np.asarray(ll))))
