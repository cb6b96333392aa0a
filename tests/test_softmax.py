"""Softmax: the choice-only decision model.

References: HSSM's ``softmax_inv_temperature`` likelihood (PyTensor), hBayesDM's
``bandit2arm_delta`` choice rule written out by hand, the lapse mixture by hand, and
ssm-simulators' ``3AB_RW_InvTempSoftmax`` preset (a simulated learner whose choices our
model must predict).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytensor
import pytest
from hssm.likelihoods.analytical import softmax_inv_temperature

import rlssm
from rlssm.decision.softmax import LOGP_FLOOR, Softmax
from rlssm.mapping.per_option import Values


def vs(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-option inputs ``v0 .. v{N-1}`` from the columns of ``x``."""
    return {f"v{k}": x[..., k] for k in range(x.shape[-1])}


def softmax_by_hand(x: np.ndarray, beta: np.ndarray, epsilon: np.ndarray | float = 0.0) -> np.ndarray:
    """``(1 - epsilon) softmax(beta x) + epsilon / N`` over the last axis, float64."""
    z = beta[..., None] * x
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    eps = np.asarray(epsilon)[..., None]
    return (1.0 - eps) * p + eps / x.shape[-1]


# ---------------------------------------------------------------------- declarations
def test_declarations():
    two, lapsed = Softmax(2), Softmax(4, lapse=True)
    assert two.choice_only and lapsed.choice_only
    assert two.param_names == ("v0", "v1", "beta")
    assert lapsed.param_names == ("v0", "v1", "v2", "v3", "beta", "epsilon")
    assert lapsed.choices == (0, 1, 2, 3) and lapsed.n_options == 4
    assert lapsed.bounds["beta"] == (0.0, 100.0) and lapsed.bounds["epsilon"] == (0.0, 0.5)
    assert lapsed.bounds["v2"] == (-math.inf, math.inf)
    assert dict(two.domains) == {"beta": "[0, inf)"}
    assert dict(lapsed.domains) == {"beta": "[0, inf)", "epsilon": "[0, 1]"}
    with pytest.raises(ValueError, match="n_options"):
        Softmax(1)
    with pytest.raises(TypeError, match="epsilon"):  # no lapse, no epsilon
        two.logp(1.0, 0, v0=0.0, v1=0.0, beta=1.0, epsilon=0.1)
    with pytest.raises(TypeError, match="v1"):
        two.logp(1.0, 0, v0=0.0, beta=1.0)


# ---------------------------------------------------------------------- references
@pytest.mark.parametrize("n", [2, 3, 4])
def test_matches_hssm_softmax_inv_temperature(n):
    """HSSM fixes logit0 = 0: its logit_k is our v_k - v0 (the softmax is shift-invariant)."""
    rng = np.random.default_rng(n)
    rows = 300
    x = rng.uniform(-2.0, 2.0, (rows, n))
    beta = rng.uniform(0.05, 30.0, rows)
    choice = rng.integers(0, n, rows)
    # HSSM reads responses below 1 as option 0: its two-option coding is -1 / 1.
    data = np.where(choice == 0, -1, choice) if n == 2 else choice
    logits = [x[:, k] - x[:, 0] for k in range(1, n)]
    with pytensor.config.change_flags(floatX="float64"):
        expected = softmax_inv_temperature(data.astype(float), beta, *logits).eval(mode="FAST_COMPILE")
    with jax.enable_x64(True):
        got = np.asarray(Softmax(n).logp(np.nan, choice, beta=beta, **vs(x)))
    assert got.dtype == np.float64
    assert np.max(np.abs(got - expected)) < 1e-6


def test_matches_hbayesdm_bandit2arm_delta_by_hand():
    """hBayesDM's bandit2arm_delta: choice ~ categorical_logit(tau * ev), ev from 0.

    Learning rate A = 0.5, tau = beta = 2; options 0, 1, 1, 0, 1 with outcomes 1, 0, 1, 1, 0.
    ev before each trial, by hand:
      t0: (0, 0)       chose 0, PE = 1 - 0 = 1       -> ev0 = 0.5
      t1: (0.5, 0)     chose 1, PE = 0 - 0 = 0       -> unchanged
      t2: (0.5, 0)     chose 1, PE = 1 - 0 = 1       -> ev1 = 0.5
      t3: (0.5, 0.5)   chose 0, PE = 1 - 0.5 = 0.5   -> ev0 = 0.75
      t4: (0.75, 0.5)  chose 1
    log P: log(1/2); 0 - log(e^1 + e^0) = -log(1 + e) (twice); log(1/2);
    1 - log(e^1.5 + e^1) = -log(1 + e^0.5).
    """
    expected = np.array(
        [math.log(0.5), -math.log(1 + math.e), -math.log(1 + math.e), math.log(0.5),
         -math.log(1 + math.exp(0.5))]
    )
    ev = np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.0], [0.5, 0.5], [0.75, 0.5]])
    choice = np.array([0, 1, 1, 0, 1])
    with jax.enable_x64(True):
        direct = np.asarray(Softmax(2).logp(np.nan, choice, beta=2.0, **vs(ev)))
    np.testing.assert_allclose(direct, expected, rtol=0, atol=1e-12)

    data = pd.DataFrame(
        {
            "participant_id": 0,
            "trial_id": np.arange(5),
            "response": choice,
            "rt": [0.5, 0.6, 0.7, 0.8, 0.9],
            "feedback": [1.0, 0.0, 1.0, 1.0, 0.0],
        }
    )
    model = rlssm.RLSSM(rlssm.RescorlaWagner(initial_value=0.0), Softmax(2), mapping=Values())
    ll = model.loglik(data, {"rl_alpha": 0.5, "beta": 2.0})
    np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-12)


def test_lapse_matches_formula():
    rng = np.random.default_rng(7)
    rows, n = 200, 3
    x = rng.uniform(-1.0, 2.0, (rows, n))
    beta = rng.uniform(0.1, 60.0, rows)
    eps = rng.uniform(0.0, 0.5, rows)
    choice = rng.integers(0, n, rows)
    expected = np.log(softmax_by_hand(x, beta, eps)[np.arange(rows), choice])
    model = Softmax(n, lapse=True)
    with jax.enable_x64(True):
        got = np.asarray(model.logp(np.nan, choice, beta=beta, epsilon=eps, **vs(x)))
        # The ends of epsilon's domain: no lapse, and a uniform choice.
        at_zero = np.asarray(model.logp(np.nan, choice, beta=beta, epsilon=0.0, **vs(x)))
        plain = np.asarray(Softmax(n).logp(np.nan, choice, beta=beta, **vs(x)))
        at_one = np.asarray(model.logp(np.nan, choice, beta=beta, epsilon=1.0, **vs(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(at_zero, plain, rtol=0, atol=1e-14)
    np.testing.assert_allclose(at_one, -math.log(n), rtol=0, atol=1e-14)
    # A strong preference cannot push a choice below epsilon / N.
    assert np.all(got >= np.log(eps / n) - 1e-12)


def test_extreme_inputs_stable_and_floor():
    """beta * x in the thousands: exact log-probabilities, no overflow; a response outside
    the coding gets the floor."""
    model = Softmax(3)
    with jax.enable_x64(True):
        lp = np.asarray(model.logp(np.nan, np.array([0, 1, 2, 3]), v0=50.0, v1=-50.0, v2=49.0, beta=100.0))
    # log P(1) = -100 * 100 - log(1 + exp(-100)) and so on, written relative to the best option.
    expected = np.array(
        [-math.log1p(math.exp(-100.0)), -10000.0 - math.log1p(math.exp(-100.0)),
         -100.0 - math.log1p(math.exp(-100.0)), LOGP_FLOOR]
    )
    np.testing.assert_allclose(lp, expected, rtol=1e-14, atol=1e-12)
    lp32 = model.logp(np.nan, np.array([0, 1, 2]), v0=np.float32(50.0), v1=np.float32(-50.0),
                      v2=np.float32(49.0), beta=np.float32(100.0))
    assert lp32.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(lp32)))


# ---------------------------------------------------------------------- sampler
@pytest.mark.parametrize(
    "model, params",
    [
        (Softmax(2), {"v0": 0.3, "v1": 0.7, "beta": 4.0}),
        (Softmax(3), {"v0": 0.1, "v1": 0.5, "v2": 0.45, "beta": 10.0}),
        (Softmax(4, lapse=True), {"v0": 1.0, "v1": 0.0, "v2": 0.2, "v3": 0.9, "beta": 8.0, "epsilon": 0.2}),
    ],
)
def test_sampler_proportions(model, params):
    n_draws = 100_000
    full = {k: np.full(n_draws, v) for k, v in params.items()}
    rt, choice = model.sample(jax.random.key(3), **full)
    assert rt.shape == choice.shape == (n_draws,)
    assert choice.dtype == jnp.int32 and bool(jnp.all(jnp.isnan(rt)))
    x = np.array([[params[f"v{k}"] for k in range(model.n_options)]])
    p = softmax_by_hand(x, np.array([params["beta"]]), params.get("epsilon", 0.0))[0]
    freq = np.bincount(np.asarray(choice), minlength=model.n_options) / n_draws
    assert freq.shape == (model.n_options,)
    se = np.sqrt(p * (1 - p) / n_draws)
    assert np.all(np.abs(freq - p) < 4.5 * se), (freq, p)


# ---------------------------------------------------------------------- gradients, rt, dtype
def test_gradients_match_finite_differences():
    model = Softmax(3, lapse=True)
    point = {"v0": 0.3, "v1": -0.4, "v2": 0.8, "beta": 3.0, "epsilon": 0.1}
    choice = np.array([0, 1, 2])

    def total(p):
        return jnp.sum(model.logp(jnp.nan, choice, **p))

    with jax.enable_x64(True):
        value, gradient = jax.jit(total), jax.jit(jax.grad(total))
        p64 = {k: jnp.asarray(v, jnp.float64) for k, v in point.items()}
        grad = gradient(p64)
        h = 1e-6
        for name in point:
            up = dict(p64, **{name: p64[name] + h})
            down = dict(p64, **{name: p64[name] - h})
            fd = (value(up) - value(down)) / (2 * h)
            assert abs(float(grad[name]) - float(fd)) < 1e-7, name
        # Finite at large beta * x and at the ends of epsilon's domain.
        for extra in ({"beta": 99.0, "v1": 40.0}, {"epsilon": 0.0}, {"epsilon": 1.0}):
            g = gradient(dict(p64, **{k: jnp.asarray(v, jnp.float64) for k, v in extra.items()}))
            assert all(bool(jnp.isfinite(v)) for v in g.values()), extra


def test_nan_rt_is_ignored():
    model = Softmax(3)
    choice = jnp.array([0, 2, 1])
    params = {"v0": jnp.array(0.2), "v1": jnp.array(0.9), "v2": jnp.array(-0.3), "beta": jnp.array(2.5)}

    def f(rt, p):
        return jnp.sum(model.logp(rt, choice, **p))

    value_and_grad = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
    value, (g_rt, g_p) = value_and_grad(jnp.full(3, jnp.nan), params)
    value_ok, (_, g_p_ok) = value_and_grad(jnp.array([0.5, 0.6, 0.7]), params)
    assert bool(jnp.isfinite(value)) and float(value) == float(value_ok)
    assert bool(jnp.all(g_rt == 0.0))
    for name in params:
        assert bool(jnp.isfinite(g_p[name])) and float(g_p[name]) == float(g_p_ok[name])
    # rt sets the broadcast shape only.
    assert model.logp(jnp.full((2, 3), jnp.nan), choice, **params).shape == (2, 3)


def test_float32():
    rng = np.random.default_rng(11)
    x = rng.uniform(-1.0, 1.0, (50, 4)).astype(np.float32)
    beta = rng.uniform(0.1, 20.0, 50).astype(np.float32)
    choice = rng.integers(0, 4, 50).astype(np.int32)
    model = Softmax(4)
    lp = model.logp(np.float32(np.nan), choice, beta=beta, **vs(x))
    assert lp.dtype == jnp.float32
    expected = np.log(softmax_by_hand(x.astype(np.float64), beta.astype(np.float64))[np.arange(50), choice])
    np.testing.assert_allclose(np.asarray(lp), expected, rtol=0, atol=2e-5)
    g = jax.grad(lambda b: jnp.sum(model.logp(jnp.nan, choice, beta=b, **vs(jnp.asarray(x)))))(jnp.asarray(beta))
    assert g.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(g)))
    rt, drawn = model.sample(jax.random.key(0), beta=beta, **vs(x))
    assert rt.dtype == jnp.float32 and drawn.dtype == jnp.int32


# ---------------------------------------------------------------------- ssm-simulators
def test_predicts_ssms_three_armed_softmax_learner():
    """ssm-simulators' ``3AB_RW_InvTempSoftmax``: Rescorla-Wagner from 0.5 and
    softmax(beta * Q) over three Bernoulli arms. Our model, replaying its history, must
    prefer the true parameters and predict how often each arm is chosen."""
    import dataclasses

    from ssms.rl import Simulator, preset

    config = dataclasses.replace(preset.get("3AB_RW_InvTempSoftmax"), learning_backend="python")
    true = {"rl_alpha": 0.3, "beta": 6.0}
    sim = Simulator(config).simulate(true, n_trials=400, n_participants=2, random_state=5)
    data = sim.assign(rt=1.0)  # ssms writes a placeholder rt of -1 for choice-only models
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(3), mapping=Values(), choices=(0, 1, 2))

    mean_ll = {name: float(np.mean(model.loglik(data, p))) for name, p in {
        "true": true,
        "beta low": {"rl_alpha": 0.3, "beta": 1.0},
        "beta high": {"rl_alpha": 0.3, "beta": 30.0},
        "alpha low": {"rl_alpha": 0.02, "beta": 6.0},
        "alpha high": {"rl_alpha": 0.95, "beta": 6.0},
    }.items()}
    assert all(mean_ll["true"] > v for k, v in mean_ll.items() if k != "true"), mean_ll

    # Predicted number of choices of each arm vs the simulated counts.
    v = model.values(data, true)[["v0", "v1", "v2"]].to_numpy()
    p = softmax_by_hand(v, np.full(len(v), true["beta"]))
    observed = np.bincount(data["response"].to_numpy(), minlength=3)
    expected = p.sum(axis=0)
    sd = np.sqrt((p * (1 - p)).sum(axis=0))
    assert np.all(np.abs(observed - expected) < 4 * sd), (observed, expected, sd)
