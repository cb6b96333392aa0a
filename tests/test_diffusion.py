"""Tests of `rlssm.decision.Diffusion`: first-passage densities of any boundary shape
from the Volterra integral equations, and its sampler.

References independent of the solver: the series likelihoods of `DDM` (Navarro & Fuss)
and `Angle` (a time change of the same series), ssm-simulators' own ``weibull``
simulator, and finite differences.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate
from ssms.basic_simulators.simulator import simulator
from ssms.config import model_config

from rlssm.boundaries import Constant, GeneralizedLogistic, Linear, Weibull
from rlssm.decision import DDM, Angle, Diffusion
from rlssm.decision.diffusion import LOGP_FLOOR
from rlssm.decision.first_passage import density, undecided

HSSM_DDM = {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)}
HSSM_ANGLE = {"v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0), "theta": (-0.1, 1.3)}
WEIBULL_NAMES = ("v", "a", "z", "t", "alpha", "beta")


def _random_design(rng, ranges, n_sets, n_times, horizon):
    """``n_sets`` parameter sets (shape ``(n_sets, 1)``, one solve each) and
    ``n_times`` decision times per set over ``[0, horizon(set)]``, more of them early."""
    p = {k: rng.uniform(*r, size=(n_sets, 1)) for k, r in ranges.items()}
    u = rng.uniform(size=(n_sets, n_times))
    s = horizon(p) * np.where(rng.uniform(size=u.shape) < 0.3, u**3, u)
    choice = rng.choice([-1, 1], size=(n_sets, n_times))
    return p, np.maximum(s, 1e-3), choice


def _compare(model, reference, p, s, choice):
    """Max |log-density difference| where the density is above ``exp(-10) / a**2``
    (its scale; far tails lose relative accuracy, see `Diffusion`)."""
    with jax.enable_x64(True):
        mine = np.asarray(jax.jit(model.logp)(p["t"] + s, choice, **p))
        ref = np.asarray(reference.logp(p["t"] + s, choice, **p))
    checked = ref + 2 * np.log(p["a"]) > -10.0
    assert checked.sum() > 0.5 * checked.size
    return np.max(np.abs(mine - ref)[checked])


def test_declared_attributes():
    model = Diffusion(Weibull())
    assert model.param_names == WEIBULL_NAMES == tuple(model_config["weibull"]["params"])
    for name in ("alpha", "beta"):
        assert model.bounds[name] == model_config["weibull"]["param_bounds_dict"][name]
    assert Diffusion().param_names == ("v", "a", "z", "t")
    assert Diffusion(Linear()).param_names == ("v", "a", "z", "t", "theta")
    assert Diffusion(GeneralizedLogistic()).param_names == ("v", "a", "z", "t", "d", "k", "m", "nu")
    assert model.choices == (-1, 1)
    assert model.domains["alpha"] == "(0, inf)"
    with pytest.raises(TypeError, match="alpha"):
        model.logp(1.0, 1, v=0.0, a=1.0, z=0.5, t=0.2, alpha=1.0)
    with pytest.raises(ValueError, match="n_steps"):
        Diffusion(n_steps=1)
    with pytest.raises(ValueError, match="dp"):
        Diffusion(dp=0.0)


def test_constant_matches_ddm():
    rng = np.random.default_rng(0)
    p, s, choice = _random_design(rng, HSSM_DDM, 24, 12, lambda p: np.minimum(3 * p["a"] ** 2, 15.0))
    assert _compare(Diffusion(), DDM(), p, s, choice) <= 1e-6


def test_linear_matches_angle():
    rng = np.random.default_rng(1)

    def horizon(p):
        k = np.tan(p["theta"])
        meet = np.where(k > 0, p["a"] / np.where(k > 0, k, 1.0), np.inf)
        return np.minimum(meet, np.minimum(3 * p["a"] ** 2, 15.0))

    p, s, choice = _random_design(rng, HSSM_ANGLE, 24, 12, horizon)
    assert _compare(Diffusion(Linear()), Angle(), p, s, choice) <= 1e-6


def _decided_mass(model, solution, p, bparams):
    """Both densities (drift ``v``) integrated to the grid's last node by composite
    Gauss-Legendre on geometric panels, from the Nystrom formula."""
    nodes, weights = np.polynomial.legendre.leggauss(16)
    end = float(solution.end)
    edges = np.concatenate([[0.0], np.geomspace(1e-4 * end, end, 150)])
    half = np.diff(edges)[:, None] / 2
    s = jnp.asarray(((edges[1:] + edges[:-1])[:, None] / 2 + half * nodes).ravel())
    w = jnp.asarray((half * weights).ravel())

    @eqx.filter_jit
    def mass(solution, bparams):
        total = 0.0
        for up in (True, False):
            g0 = density(solution, model.boundary, s, jnp.full(s.shape, up), jnp.float64(p["a"]), bparams)
            hit = (1.0 if up else -1.0) * model.boundary(s, p["a"], **bparams)
            total = total + jnp.sum(w * g0 * jnp.exp(p["v"] * (hit - solution.x0) - 0.5 * p["v"] ** 2 * s))
        return total

    return float(mass(solution, bparams))


@pytest.mark.parametrize(
    "boundary, p, bparams, tol",
    [
        (Constant(), {"v": 1.0, "a": 1.0, "z": 0.3}, {}, 1e-8),
        (Linear(), {"v": 0.5, "a": 1.5, "z": 0.4}, {"theta": 0.6}, 1e-8),
        # Open bounds leave mass undecided; its quadrature is of order 3/2 in dp.
        (Linear(), {"v": 0.3, "a": 1.5, "z": 0.3}, {"theta": -0.1}, 1e-5),
        # Curved bounds: the solver converges at order 3/2 (see the benchmark).
        (Weibull(), {"v": 0.8, "a": 1.2, "z": 0.4}, {"alpha": 2.5, "beta": 1.5}, 2e-4),
    ],
)
def test_total_probability(boundary, p, bparams, tol):
    model = Diffusion(boundary)
    with jax.enable_x64(True):
        bparams = {k: jnp.float64(x) for k, x in bparams.items()}
        solution = model.solve(jnp.float64(p["a"]), jnp.float64(p["z"]), **bparams)
        decided = _decided_mass(model, solution, p, bparams)
        left = float(undecided(solution, jnp.float64(p["v"])))
    assert abs(decided + left - 1.0) <= tol, (decided, left)


def _conditional_cdfs(model, p, s_end, n=6001):
    s = np.linspace(0.0, s_end, n)
    with jax.enable_x64(True):
        logp = jax.jit(model.logp)
        return s, {c: integrate.cumulative_simpson(np.exp(np.asarray(logp(p["t"] + s, c, **p))), x=s, initial=0.0) for c in (-1, 1)}


def test_weibull_against_ssm_simulators_and_own_sampler():
    """Choice probabilities and RT quantiles against ssm-simulators' ``weibull`` (Euler,
    dt = 1e-3: its overshoot delays responses by O(sqrt(dt)), within the tolerances of
    `test_angle`), and against this model's own sampler (exact steps, bridge
    crossings) to Monte Carlo error."""
    p = {"v": 0.8, "a": 1.2, "z": 0.4, "t": 0.3, "alpha": 2.5, "beta": 1.5}
    model = Diffusion(Weibull())
    s, cdfs = _conditional_cdfs(model, p, 4.0)
    assert cdfs[-1][-1] + cdfs[1][-1] == pytest.approx(1.0, abs=2e-4)
    sim = simulator(theta=np.array([[p[k] for k in WEIBULL_NAMES]]), model="weibull", n_samples=100_000, random_state=3)
    n = 100_000
    with jax.enable_x64(True):
        rt, choice = jax.jit(lambda key: model.sample(key, **{k: jnp.full(n, v) for k, v in p.items()}))(jax.random.key(0))
    rt, choice = np.asarray(rt), np.asarray(choice)
    assert np.all(np.isfinite(rt)) and set(np.unique(choice)) <= {-1, 1}
    for c in (-1, 1):
        mass = cdfs[c][-1]
        q = p["t"] + np.interp(np.array([0.1, 0.5, 0.9]) * mass, cdfs[c], s)
        se = np.sqrt(mass * (1 - mass) / n)
        assert abs(np.mean(choice == c) - mass) <= 4 * se, (c, np.mean(choice == c), mass)
        np.testing.assert_allclose(np.quantile(rt[choice == c], [0.1, 0.5, 0.9]), q, atol=0.006)
        ssm_rt, ssm_choice = sim["rts"].ravel(), sim["choices"].ravel()
        assert abs(np.mean(ssm_choice == c) - mass) <= 0.01
        np.testing.assert_allclose(np.quantile(ssm_rt[ssm_choice == c], [0.1, 0.5, 0.9]), q, atol=0.025)


@pytest.mark.parametrize(
    "boundary, p",
    [
        # (one curved shape: each case costs a compile of the solver's gradient)
        (Weibull(), {"v": 0.7, "a": 1.1, "z": 0.45, "t": 0.25, "alpha": 1.8, "beta": 1.2}),
    ],
)
def test_gradient_matches_finite_differences(boundary, p):
    """The nodes move with the parameters and are differentiated through, so the
    gradient is that of the computed value. (Away from ``z = 0.5``, where the grid's
    start scale has a kink in ``z``.)"""
    model = Diffusion(boundary)
    rt = np.array([0.6, 0.9, 1.4])
    choice = np.array([1, -1, 1])
    names = list(p)

    def total(x):
        return jnp.sum(model.logp(rt, choice, **dict(zip(names, x))))

    with jax.enable_x64(True):
        x = jnp.asarray([p[k] for k in names], dtype=jnp.float64)
        grad = np.asarray(jax.jit(jax.grad(total))(x))
        f = jax.jit(total)
        eps = 1e-5
        fd = np.array([(float(f(x.at[i].add(eps))) - float(f(x.at[i].add(-eps)))) / (2 * eps) for i in range(len(names))])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_finite_at_range_edges():
    """Value and gradient finite (float64) at every corner of Weibull's bounds in
    ``alpha``, ``beta``, ``a``, ``z``, at decision times from just after ``t`` to past
    the grid; exactly the floor where ``rt <= t``; NaN for a NaN parameter."""
    model = Diffusion(Weibull())
    corners = np.array(
        [(alpha, beta, a, z) for alpha in (0.31, 4.99) for beta in (0.31, 6.99) for a in (0.3, 2.5) for z in (0.2, 0.8)]
    )
    alpha, beta, a, z = (corners[:, i : i + 1] for i in range(4))
    s = np.array([-0.5, 0.0, 1e-9, 1e-3, 0.3, 2.0, 19.0, 50.0])
    rt = np.broadcast_to(0.3 + s, (len(corners), s.size))
    choice = np.where(np.arange(s.size) % 2 == 0, 1.0, -1.0)

    def total(v, a, z, t, alpha, beta):
        lp = model.logp(rt, choice, v=v, a=a, z=z, t=t, alpha=alpha, beta=beta)
        return jnp.sum(lp), lp

    with jax.enable_x64(True):
        (_, value), grads = jax.jit(jax.value_and_grad(total, argnums=tuple(range(6)), has_aux=True))(
            np.full_like(a, 2.5), a, z, np.full_like(a, 0.3), alpha, beta
        )
        value = np.asarray(value)
        assert np.all(np.isfinite(value)) and np.all(value >= LOGP_FLOOR - 1e-12)
        for g in grads:
            assert np.all(np.isfinite(np.asarray(g)))
        np.testing.assert_array_equal(value[:, s <= 0], LOGP_FLOOR)
        nan = model.logp(1.0, 1, v=0.0, a=1.0, z=0.5, t=0.2, alpha=np.nan, beta=1.0)
        assert np.isnan(np.asarray(nan))
