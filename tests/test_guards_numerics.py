"""Extreme values inside the domains, stateful rules' data, and the messages that name the
right part (issue 24, items 7-9).

Every value here is one a user (or a sampler) can pass: each test reproduces a case that
gave NaN, a positive log-probability, a silently recoded row or a message blaming the
wrong component, and checks the finite, correct value or the named error instead.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import (
    LBA,
    RDM,
    RLSSM,
    RLWM,
    AdvantageRDM,
    DataError,
    KalmanFilter,
    PearceHall,
    RaceScaling,
    RescorlaWagner,
    Softmax,
    UncertaintyDrift,
    Values,
)

FLOOR = -66.1
ENV3 = rlssm.BernoulliBandit(p=(0.2, 0.5, 0.8))


def simulated(model: RLSSM, params: dict) -> pd.DataFrame:
    """3 participants x 30 trials of the three-armed bandit."""
    return model.simulate(params, ENV3, n_participants=3, n_trials=30, seed=0)


# ------------------------------------------------------------------ softmax at large beta
@pytest.fixture(scope="module")
def soft_data() -> pd.DataFrame:
    soft = RLSSM(RescorlaWagner(), Softmax(n_options=3), Values(), choices=(0, 1, 2))
    return simulated(soft, {"rl_alpha": 0.3, "beta": 5.0})


def softmax_reference(model: RLSSM, data: pd.DataFrame, beta: float) -> np.ndarray:
    """log softmax(beta * x) of the chosen option, in float64 numpy from the values."""
    values = model.values(data, {"rl_alpha": 0.3, "beta": 1.0})
    x = values[["value_0", "value_1", "value_2"]].to_numpy()
    diff = beta * (x - x.max(axis=1, keepdims=True))
    log_p = diff - np.log(np.exp(diff).sum(axis=1, keepdims=True))
    return log_p[np.arange(len(data)), data["response"].to_numpy().astype(int)]


@pytest.mark.parametrize("precision, beta", [("float64", 1e300), ("float64", 1e17), ("float32", 1e7), ("float32", 1e8)])
def test_softmax_large_beta_is_finite_and_at_most_zero(soft_data, precision, beta):
    """Was: +-inf on 85 of 90 rows at 1e300, and positive log-probabilities (+0.25 in
    float32 at 1e7, +7.6 in float64 at 1e17) from rounding beta * v before the shift."""
    model = RLSSM(RescorlaWagner(), Softmax(n_options=3), Values(), choices=(0, 1, 2), precision=precision)
    ll = model.loglik(soft_data, {"rl_alpha": 0.3, "beta": beta})
    assert np.all(np.isfinite(ll)) and np.all(ll <= 0.0)
    expected = softmax_reference(model, soft_data, beta)
    # float32 values carry their own rounding: relative 1e-6 of beta * (v - max v).
    rtol = 1e-12 if precision == "float64" else 2e-6
    np.testing.assert_allclose(ll, expected, rtol=rtol, atol=1e-12)
    # Rows whose choice was the best option have log-probability 0 (beta this large).
    assert np.any(ll == 0.0)


def test_softmax_infinite_beta_is_the_argmax_limit():
    """A float32 beta that overflows to inf: the argmax rule, ties shared, and a finite
    log-probability (-finfo.max) for the other options; no inf * 0 = NaN."""
    model = Softmax(3)
    lp = model.logp(
        np.float32(np.nan), np.array([0, 1, 2, 3]), v0=np.float32(0.4), v1=np.float32(0.7),
        v2=np.float32(0.7), beta=np.float32(np.inf),
    )
    assert lp.dtype == jnp.float32
    np.testing.assert_allclose(
        np.asarray(lp), [np.finfo(np.float32).min, -math.log(2), -math.log(2), FLOOR], rtol=1e-6
    )


def test_values_float32_cannot_hold_are_refused(soft_data):
    """1e300 (or 1e-300) in a float32 model would compute as inf (or 0): a DataError
    naming the parameter and the precision, not the argmax rule or NaN rows."""
    model = RLSSM(RescorlaWagner(), Softmax(n_options=3), Values(), choices=(0, 1, 2), precision="float32")
    with pytest.raises(DataError, match=r"params\['beta'\] = 1e\+300 cannot be held in float32.*inf.*float64"):
        model.loglik(soft_data, {"rl_alpha": 0.3, "beta": 1e300})
    lba = RLSSM(RescorlaWagner(), LBA(3), RaceScaling(), choices=(0, 1, 2), precision="float32")
    params = {"rl_alpha": 0.3, "scaler": 2.0, "A": 0.5, "B": 1.0, "t": 0.2, "s": 1e-300}
    with pytest.raises(DataError, match=r"params\['s'\] = 1e-300 cannot be held in float32.*compute as 0"):
        lba.loglik(soft_data.assign(rt=0.8), params)
    # The same values are fine in float64.
    ll = RLSSM(RescorlaWagner(), Softmax(n_options=3), Values(), choices=(0, 1, 2)).loglik(
        soft_data, {"rl_alpha": 0.3, "beta": 1e300}
    )
    assert np.all(np.isfinite(ll))


# ------------------------------------------------------------------ race models
RDM_P = {"rl_alpha": 0.3, "scaler": 2.0, "A": 0.5, "B": 1.0, "t": 0.2}
LBA_P = RDM_P | {"s": 1.0}
ARD_P = {"rl_alpha": 0.3, "urgency": 2.0, "wd": 1.0, "ws": 0.5, "A": 0.5, "B": 1.0, "t": 0.2}


@pytest.mark.parametrize("precision, scaler", [("float32", 1e8), ("float64", 1e30)])
def test_rdm_huge_drifts_give_the_floor(precision, scaler):
    """Was: NaN rows. Drifts of 1e7 and more finish within ~1e-7 s: the density of any
    observed rt is 0, the floor, and the gradient is finite (zero)."""
    model = RLSSM(RescorlaWagner(), RDM(3), RaceScaling(), choices=(0, 1, 2), precision=precision)
    data = simulated(model, RDM_P)
    params = RDM_P | {"scaler": scaler}
    ll = model.loglik(data, params)
    np.testing.assert_array_equal(ll, np.asarray(FLOOR, ll.dtype))
    if precision == "float64":
        return  # (one gradient compile is enough: the same code path)
    f = model.logp_fn(data)
    grads = jax.grad(lambda p: f(p).sum())({k: jnp.asarray(v, jnp.float32) for k, v in params.items()})
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads.values())


def lba_deterministic(rt, choice, v, A, B):
    """The LBA's limit as the drift sd -> 0 (drifts fixed, starts uniform): the winner's
    density v / A on its window, the losers' probabilities of arriving later."""
    n = len(rt)
    vw = v[choice, np.arange(n)]
    f = np.where((B <= vw * rt) & (vw * rt <= B + A), vw / A, 0.0)
    surv = np.where(v > 0, np.clip((B + A - v * rt) / A, 0.0, 1.0), 1.0)
    surv[choice, np.arange(n)] = 1.0
    return np.logaddexp(np.log(np.maximum(f * surv.prod(axis=0), 1e-300)), FLOOR)


@pytest.mark.parametrize("dtype, sd", [(np.float32, 1e-20), (np.float64, 1e-160), (np.float64, 1e-300)])
def test_lba_tiny_drift_sd_is_the_deterministic_limit(dtype, sd):
    """Was: NaN rows (s = 1e-20 in float32, 1e-160 in float64). The density tends to the
    race of fixed drifts, which the likelihood now matches."""
    rng = np.random.default_rng(5)
    n = 3000
    rt = rng.uniform(0.01, 3.0, n)
    A, B = rng.uniform(0.05, 1.5, n), rng.uniform(0.05, 3.0, n)
    v = rng.uniform(-1.0, 3.0, (3, n))
    choice = rng.integers(0, 3, n)
    # Away from the window edges, where the limit jumps.
    edges = np.min(np.abs(np.concatenate([v * rt - B, v * rt - B - A])), axis=0) > 1e-3
    with jax.enable_x64(dtype == np.float64):
        lp = LBA(3).logp(
            jnp.asarray(rt, dtype), choice, **{f"v{k}": jnp.asarray(v[k], dtype) for k in range(3)},
            A=jnp.asarray(A, dtype), B=jnp.asarray(B, dtype), t=jnp.zeros(n, dtype), s=jnp.full(n, sd, dtype),
        )
        lp = np.asarray(lp)
    assert lp.dtype == dtype
    assert np.all(np.isfinite(lp))
    atol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(lp[edges], lba_deterministic(rt, choice, v, A, B)[edges], rtol=0, atol=atol)


@pytest.mark.parametrize("precision, sd", [("float32", 1e-20), ("float64", 1e-160)])
def test_lba_model_tiny_drift_sd_is_finite(precision, sd):
    model = RLSSM(RescorlaWagner(), LBA(3), RaceScaling(), choices=(0, 1, 2), precision=precision)
    data = simulated(model, LBA_P)
    ll = model.loglik(data, LBA_P | {"s": sd})
    assert np.all(np.isfinite(ll)) and np.any(ll > FLOOR)


@pytest.mark.parametrize("name", ["wd", "urgency", "ws"])
def test_advantage_rdm_huge_weights_float32(name):
    """Was: NaN rows at wd or urgency = 1e20 in float32. Finite, and float32 agrees
    with float64 (the same settled accumulators in both)."""
    m32 = RLSSM(RescorlaWagner(), AdvantageRDM(3), Values(), choices=(0, 1, 2), precision="float32")
    m64 = RLSSM(RescorlaWagner(), AdvantageRDM(3), Values(), choices=(0, 1, 2))
    data = simulated(m64, ARD_P)
    params = ARD_P | {name: 1e20}
    ll32, ll64 = m32.loglik(data, params), m64.loglik(data, params)
    assert np.all(np.isfinite(ll32)) and np.all(np.isfinite(ll64))
    np.testing.assert_allclose(ll32, ll64, rtol=0, atol=1e-3)
    if name != "wd":
        return  # (one gradient compile is enough: the same code path)
    # The decision model's gradient on these trials' inputs (values as v0..v2).
    values = m64.values(data, params)
    inputs = {f"v{k}": values[f"value_{k}"].to_numpy() for k in range(3)}
    inputs |= {k: np.full(len(data), v) for k, v in params.items() if k != "rl_alpha"}
    inputs = {k: jnp.asarray(v, jnp.float32) for k, v in inputs.items()}
    rt, choice = jnp.asarray(data["rt"].to_numpy(), jnp.float32), data["response"].to_numpy().astype(np.int32)
    grads = jax.grad(lambda p: AdvantageRDM(3).logp(rt, choice, **p).sum())(inputs)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in grads.values())


def test_advantage_rdm_urgency_everything_finishes_at_once():
    """urgency = 1e20: every accumulator finishes within ~1e-20 s, so every observed rt
    has density 0: the floor."""
    model = RLSSM(RescorlaWagner(), AdvantageRDM(3), Values(), choices=(0, 1, 2), precision="float32")
    data = simulated(model, ARD_P)
    np.testing.assert_array_equal(model.loglik(data, ARD_P | {"urgency": 1e20}), np.float32(FLOOR))


# ------------------------------------------------------------------ stateful rules: data
def rlwm_data(**extra) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "participant_id": 0,
            "trial_id": np.arange(6),
            "state": ["A", "B", "A", "A", "B", "A"],
            "response": [1, 0, 1, np.nan, 1, 1],
            "rt": [0.6, 0.7, 0.55, np.nan, 0.8, 0.5],
            "feedback": [1.0, 0.0, 0.0, np.nan, 1.0, 1.0],
            "set_size": 4.0,
            **extra,
        }
    )


RLWM_P = {
    "rl_alpha": 0.5, "rl_phi": 0.2, "rl_rho": 0.8, "rl_capacity": 3.0, "rl_gamma": 0.5, "rl_epsilon": 0.1,
    "scaler": 2.0, "a": 1.2, "z": 0.5, "t": 0.15,
}


@pytest.mark.parametrize("size, row", [(0.0, 2), (-2.0, 2), (0.0, 3)])
def test_rlwm_set_size_must_be_positive(size, row):
    """Was: scored as if set_size were 1. A DataError naming column, participant, row and
    value, on a missed trial too (the set size is a cue, known before the choice)."""
    model = RLSSM(RLWM(), rlssm.DDM())
    sizes = np.full(6, 4.0)
    sizes[row] = size
    with pytest.raises(DataError, match=rf"column 'set_size', participant 0, row {row}: value {size}.*\(0, inf\)"):
        model.loglik(rlwm_data(set_size=sizes), RLWM_P)
    # A positive set size below 1 is a set size (capacity / 0.5 = 6): accepted.
    sizes[row] = 0.5
    assert np.all(np.isfinite(model.loglik(rlwm_data(set_size=sizes), RLWM_P)))


def test_field_domains_are_checked_at_construction():
    class Typo(rlssm.AbstractLearningRule):
        initial_value: float = 0.5
        params = {"alpha": (0.0, 1.0)}
        fields = ("feedback",)
        field_domains = {"feedbak": "[0, 1]"}

        def update(self, values, option, feedback, alpha):
            return values.at[option].add(alpha * (feedback - values[option]))

    with pytest.raises(ValueError, match=r"Typo: field_domains names 'feedbak'.*\('feedback',\)"):
        RLSSM(Typo(), rlssm.DDM())


@pytest.mark.parametrize("column", ["state", "block"])
def test_state_and_block_refuse_mixed_label_types(column):
    """Was: 1 and "1" read as two stimuli (blocks). Refused as for participant_id."""
    model = RLSSM(RLWM(), rlssm.DDM())
    data = rlwm_data(**{column: [1, "1", 1, 1, "1", 1]})
    with pytest.raises(DataError, match=rf"column '{column}' mixes value types \['number', 'str'\]"):
        model.loglik(data, RLWM_P)
    # One type (numbers of any kind) is fine.
    assert np.all(np.isfinite(model.loglik(rlwm_data(**{column: [1, 2.0, 1, 1, 2, 1]}), RLWM_P)))


# ------------------------------------------------------------------ Kalman at the domain's edge
KALMAN_P = {
    "rl_decay": 0.9, "rl_decay_center": 0.5, "rl_sigma0": 0.3, "rl_sigma_d": 0.1,
    "scaler": 2.0, "phi": 1.0, "a": 1.5, "z": 0.5, "t": 0.2,
}


def kalman_gradient(f, params):
    with jax.enable_x64(True):
        value, grads = jax.value_and_grad(lambda p: f(p).sum())(
            {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
        )
        return float(value), {k: float(g) for k, g in grads.items()}


@pytest.mark.parametrize("edge", [{"rl_sigma0": 0.0}, {"rl_sigma0": 0.0, "rl_sigma_d": 0.0}])
def test_kalman_gradient_is_finite_at_zero_variance(seed_data, edge):
    """Was: NaN gradients for rl_sigma0 (and rl_decay, rl_sigma_d with sigma_d = 0) through
    UncertaintyDrift's sqrt of a zero variance. Finite, and the limit from inside."""
    data = seed_data[seed_data["participant_id"] == seed_data["participant_id"].iloc[0]].head(40)
    f = RLSSM(KalmanFilter(), rlssm.DDM(), UncertaintyDrift()).logp_fn(data)
    value, grads = kalman_gradient(f, KALMAN_P | edge)
    assert all(math.isfinite(g) for g in grads.values()), grads
    inside, grads_inside = kalman_gradient(f, KALMAN_P | {k: 1e-10 for k in edge})
    assert abs(value - inside) < 1e-5
    for name, g in grads.items():
        assert abs(g - grads_inside[name]) < 1e-3 * (1 + abs(g)), name


def test_kalman_values_and_gradients_unchanged_inside(seed_data):
    """The guard changes nothing where the variance is positive: gradients match finite
    differences."""
    data = seed_data[seed_data["participant_id"] == seed_data["participant_id"].iloc[0]].head(40)
    f = RLSSM(KalmanFilter(), rlssm.DDM(), UncertaintyDrift()).logp_fn(data)
    _, grads = kalman_gradient(f, KALMAN_P)
    h = 1e-6
    for name in ("rl_sigma0", "rl_sigma_d", "rl_decay", "phi"):
        up, _ = kalman_gradient(f, KALMAN_P | {name: KALMAN_P[name] + h})
        down, _ = kalman_gradient(f, KALMAN_P | {name: KALMAN_P[name] - h})
        assert abs((up - down) / (2 * h) - grads[name]) < 1e-5 * (1 + abs(grads[name])), name


# ------------------------------------------------------------------ messages
@pytest.mark.parametrize(
    "decision, mapping, choices",
    [(Softmax(3), Values(), (0, 1, 2, 3)), (RDM(2), RaceScaling(), (0, 1, 2)), (Softmax(3), Values(), (0, 1))],
)
def test_choices_and_options_disagree_names_choices(decision, mapping, choices):
    """Was: 'Values computes ['v3'], which Softmax does not take'."""
    name = type(decision).__name__
    with pytest.raises(
        ValueError, match=rf"choices lists {len(choices)} response values.*{name} has {decision.n_options} options"
    ):
        RLSSM(RescorlaWagner(), decision, mapping, choices=choices)


def test_diverging_rule_is_named_not_the_mapping(seed_data):
    """Was: 'DriftScaling computed v = -inf'. A Pearce-Hall associability so large that
    every update overshoots makes the values diverge: the rule and its parameters are
    named."""
    data = seed_data[seed_data["participant_id"] == seed_data["participant_id"].iloc[0]].head(30)
    model = RLSSM(PearceHall(), rlssm.DDM())
    params = {"rl_kappa": 1.0, "rl_eta": 0.5, "rl_alpha0": 1e200, "scaler": 2.0, "a": 1.5, "z": 0.5, "t": 0.2}
    with pytest.raises(DataError, match=r"PearceHall's values became .*inf.*row \d+, participant .*rl_alpha0") as info:
        model.loglik(data, params)
    assert "DriftScaling computed" not in str(info.value)
