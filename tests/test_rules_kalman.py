"""The Kalman filter of Daw et al. (2006) and the mappings UncertaintyDrift, SigmoidDrift
and ValueModulatedThreshold.

States and decision parameters are checked against sequences written out by hand, the
Kalman filter's stationary case against the closed-form posterior of a normal mean, and
likelihoods against the decision model's own ``logp`` fed the hand-computed parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import KalmanFilter, SigmoidDrift, UncertaintyDrift, ValueModulatedThreshold

DDM = rlssm.DDM()
DECISION = {"z": 0.5, "t": 0.2}


def five_trials(**extra) -> pd.DataFrame:
    """One participant, five trials: options 1, 1, 0, 1, 0 with feedback 1, 0, 1, 1, 0."""
    return pd.DataFrame(
        {
            "participant_id": 0,
            "trial_id": np.arange(5),
            "response": [1, 1, 0, 1, 0],
            "rt": [0.6, 0.7, 0.55, 0.9, 0.8],
            "feedback": [1.0, 0.0, 1.0, 1.0, 0.0],
            **extra,
        }
    )


def ddm_logp(data: pd.DataFrame, v, a) -> np.ndarray:
    """The DDM's own density of the data given per-trial v and a (float64)."""
    choice = np.where(data["response"] == 1, 1, -1)
    with jax.enable_x64(True):
        return np.asarray(DDM.logp(data["rt"].to_numpy(), choice, v=v, a=a, **DECISION))


# ---------------------------------------------------------------------- KalmanFilter
# Kalman filter, sigma_obs 0.2 (sigma_obs^2 = 0.04), initial_value 0.5, sigma0 0.2
# (S starts at 0.04), decay 0.5, decay_center 0.5, sigma_d 0.1 (sigma_d^2 = 0.01).
# Each trial: gain k = S[c] / (S[c] + 0.04); M[c] += k (r - M[c]); S[c] *= 1 - k;
# then every option: M = 0.5 M + 0.25; S = 0.25 S + 0.01. By hand (before each trial):
# t0: M = [.5, .5], S = [.04, .04].   Opt 1, r 1: k = .5, M1 = .75, S1 = .02;
#     diffuse: M = [.5, .625], S = [.25*.04 + .01, .25*.02 + .01] = [.02, .015]
# t1: opt 1, r 0: k = .015/.055 = 3/11, M1 = .625 * 8/11 = 5/11, S1 = .015 * 8/11 = .12/11;
#     diffuse: M = [.5, 2.5/11 + .25 = 21/44], S = [.015, .03/11 + .01 = .14/11]
# t2: opt 0, r 1: k = .015/.055 = 3/11, M0 = .5 + 3/11 * .5 = 7/11, S0 = .015 * 8/11 = .12/11;
#     diffuse: M = [3.5/11 + .25 = 25/44, 21/88 + .25 = 43/88], S = [.14/11, .035/11 + .01 = .145/11]
# t3: opt 1, r 1: k = .145/(.145 + .44) = 29/117, M1 = 43/88 + 29/117 * 45/88 = 8/13,
#     S1 = .145/11 * 88/117 = 1.16/117;
#     diffuse: M = [25/88 + .25 = 47/88, 4/13 + .25 = 29/52], S = [.145/11, .29/117 + .01 = 1.46/117]
KF = {"rl_decay": 0.5, "rl_decay_center": 0.5, "rl_sigma0": 0.2, "rl_sigma_d": 0.1}
KF_MEANS = np.array([[0.5, 0.5], [0.5, 0.625], [0.5, 21 / 44], [25 / 44, 43 / 88], [47 / 88, 29 / 52]])
KF_VARIANCE = np.array(
    [[0.04, 0.04], [0.02, 0.015], [0.015, 0.14 / 11], [0.14 / 11, 0.145 / 11], [0.145 / 11, 1.46 / 117]]
)
UD = {"scaler": 2.0, "phi": 3.0, "a": 1.0} | DECISION


def test_kalman_filter_by_hand():
    model = rlssm.RLSSM(KalmanFilter(), DDM, mapping=UncertaintyDrift())
    out = model.values(five_trials(), KF | UD)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), KF_MEANS, atol=1e-12)
    np.testing.assert_allclose(out[["variance_0", "variance_1"]].to_numpy(), KF_VARIANCE, atol=1e-12)


def test_kalman_filter_stationary_is_the_conjugate_normal_posterior():
    """decay 1, sigma_d 0: after n rewards from one option, its M and S are the posterior
    mean and variance of a normal mean (prior N(initial_value, sigma0^2), known noise
    variance sigma_obs^2); the other option keeps its prior."""
    mu0, sigma0, sigma_obs = 0.4, 0.3, 0.25
    rewards = np.array([1.0, 0.2, 0.9, 0.55, 0.0, 0.7])
    n = len(rewards)
    data = pd.DataFrame({"participant_id": 0, "trial_id": np.arange(n), "response": 1,
                         "rt": np.linspace(0.5, 0.9, n), "feedback": rewards})
    model = rlssm.RLSSM(KalmanFilter(initial_value=mu0, sigma_obs=sigma_obs), DDM)
    params = {"rl_decay": 1.0, "rl_decay_center": 0.5, "rl_sigma0": sigma0, "rl_sigma_d": 0.0,
              "scaler": 1.0, "a": 1.0} | DECISION
    out = model.values(data, params)
    seen = np.arange(n)  # rewards seen before each row
    sums = np.concatenate([[0.0], np.cumsum(rewards)[:-1]])
    post_var = 1.0 / (1.0 / sigma0**2 + seen / sigma_obs**2)
    post_mean = post_var * (mu0 / sigma0**2 + sums / sigma_obs**2)
    # e.g. after one reward of 1: S = 1 / (1/.09 + 1/.0625) = .036885..., M = S (.4/.09 + 16) = .7557...
    assert post_var[1] == pytest.approx(0.0368852459, rel=1e-9)
    np.testing.assert_allclose(out["variance_1"], post_var, rtol=1e-12)
    np.testing.assert_allclose(out["value_1"], post_mean, rtol=1e-12)
    np.testing.assert_allclose(out["variance_0"], sigma0**2, rtol=1e-12)
    np.testing.assert_allclose(out["value_0"], mu0, rtol=1e-12)


def test_kalman_filter_missed_trial_and_block_reset():
    """A missed trial changes neither M nor S (no diffusion step); a block resets both."""
    model = rlssm.RLSSM(KalmanFilter(), DDM, mapping=UncertaintyDrift())
    params = KF | UD
    data = five_trials()
    missed_row = pd.DataFrame(
        {"participant_id": [0], "trial_id": [10], "response": [np.nan], "rt": [np.nan], "feedback": [np.nan]}
    )
    missed = pd.concat([data.iloc[:2], missed_row, data.iloc[2:].assign(trial_id=lambda d: d.trial_id + 20)],
                       ignore_index=True)
    out = model.values(missed, params)
    keep = missed["rt"].notna().to_numpy()
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy()[keep], KF_MEANS, atol=1e-12)
    np.testing.assert_allclose(out[["variance_0", "variance_1"]].to_numpy()[keep], KF_VARIANCE, atol=1e-12)
    assert model.loglik(missed, params)[~keep] == 0.0
    blocks = model.values(data.assign(block=[0, 0, 0, 1, 1]), params)
    cols = ["value_0", "value_1", "variance_0", "variance_1"]
    np.testing.assert_allclose(blocks[cols].to_numpy()[3], [0.5, 0.5, 0.04, 0.04], atol=1e-12)
    # ... and the block's second trial follows t0's update again.
    np.testing.assert_allclose(blocks[cols].to_numpy()[4], [0.5, 0.625, 0.02, 0.015], atol=1e-12)


def test_kalman_filter_settings_are_checked():
    with pytest.raises(ValueError, match="sigma_obs must be a positive number"):
        KalmanFilter(sigma_obs=0.0)
    assert rlssm.RLSSM(KalmanFilter(), DDM).param_names[:4] == (
        "rl_decay", "rl_decay_center", "rl_sigma0", "rl_sigma_d")


# ---------------------------------------------------------------------- UncertaintyDrift
def test_uncertainty_drift_by_hand():
    model = rlssm.RLSSM(KalmanFilter(), DDM, mapping=UncertaintyDrift())
    assert model.param_names == ("rl_decay", "rl_decay_center", "rl_sigma0", "rl_sigma_d", "scaler", "phi",
                                 "a", "z", "t")
    # v = 2 (M1 - M0) + 3 (sqrt(S1) - sqrt(S0)); t1: 2 * .125 + 3 (sqrt(.015) - sqrt(.02)) = -0.0068...
    v = 2.0 * (KF_MEANS[:, 1] - KF_MEANS[:, 0]) + 3.0 * (np.sqrt(KF_VARIANCE[:, 1]) - np.sqrt(KF_VARIANCE[:, 0]))
    assert v[0] == 0.0 and v[1] == pytest.approx(0.25 + 3.0 * (np.sqrt(0.015) - np.sqrt(0.02)), abs=1e-15)
    data = five_trials()
    out = model.values(data, KF | UD)
    np.testing.assert_allclose(out["v"], v, atol=1e-12)
    expected = ddm_logp(data, v, 1.0)
    np.testing.assert_allclose(model.loglik(data, KF | UD), expected, rtol=1e-10)
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.logp_fn(data)(KF | UD), expected, rtol=1e-10)


def test_uncertainty_drift_needs_a_rule_with_variance():
    with pytest.raises(ValueError, match=r"UncertaintyDrift.*'variance'.*RescorlaWagner"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=UncertaintyDrift())


# ---------------------------------------------------------------------- SigmoidDrift
# RW (alpha 0.5, Q0 0.5) on five_trials, values before each trial, by hand:
# t0 [.5, .5]; t1 opt 1 r 1 -> [.5, .75]; t2 opt 1 r 0 -> [.5, .375]; t3 opt 0 r 1 -> [.75, .375];
# t4 opt 1 r 1 -> [.75, .6875]
RW = {"rl_alpha": 0.5}
RW_Q = np.array([[0.5, 0.5], [0.5, 0.75], [0.5, 0.375], [0.75, 0.375], [0.75, 0.6875]])


def test_sigmoid_drift_by_hand():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=SigmoidDrift())
    assert model.param_names == ("rl_alpha", "v_mod", "v_max", "a", "z", "t")
    params = RW | {"v_mod": 4.0, "v_max": 3.0, "a": 1.2} | DECISION
    dq = RW_Q[:, 1] - RW_Q[:, 0]
    v = 2.0 * 3.0 / (1.0 + np.exp(-4.0 * dq)) - 3.0  # Fontanesi et al. (2019), as printed
    # t1: dq = .25, 6 / (1 + e^-1) - 3 = 6 / 1.367879 - 3 = 1.386351
    assert v[1] == pytest.approx(6.0 / (1.0 + np.exp(-1.0)) - 3.0) and v[1] == pytest.approx(1.386351, abs=1e-6)
    data = five_trials()
    np.testing.assert_allclose(model.values(data, params)["v"], v, atol=1e-12)
    np.testing.assert_allclose(model.loglik(data, params), ddm_logp(data, v, 1.2), rtol=1e-10)


def test_sigmoid_drift_slope_and_saturation():
    mapping = SigmoidDrift()
    v_mod, v_max = 6.0, 2.5
    with jax.enable_x64(True):
        def v(dq):
            return float(mapping(jnp.array([0.4, 0.4 + dq]), v_mod=jnp.array(v_mod), v_max=jnp.array(v_max))["v"])

        h = 1e-5
        assert v(0.0) == 0.0
        assert (v(h) - v(-h)) / (2 * h) == pytest.approx(v_max * v_mod / 2, rel=1e-8)  # 7.5
        assert v(1.0) == pytest.approx(v_max * np.tanh(3.0), rel=1e-12) and v(1.0) < v_max
        assert v(-1.0) == pytest.approx(-v(1.0), rel=1e-12)
        # Far out it is +-v_max, finitely: no overflow, finite gradient.
        assert v(500.0) == pytest.approx(v_max, rel=1e-12) and v(-500.0) == pytest.approx(-v_max, rel=1e-12)
        grad = jax.grad(lambda q: mapping(q, v_mod=jnp.array(20.0), v_max=jnp.array(v_max))["v"])(
            jnp.array([0.0, 1e4]))
        assert np.all(np.isfinite(np.asarray(grad)))


# ---------------------------------------------------------------------- ValueModulatedThreshold
def test_value_modulated_threshold_by_hand():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=ValueModulatedThreshold())
    assert model.param_names == ("rl_alpha", "scaler", "a_base", "a_mod", "z", "t")  # no "a"
    params = RW | {"scaler": 2.0, "a_base": 1.5, "a_mod": -0.8} | DECISION
    v = 2.0 * (RW_Q[:, 1] - RW_Q[:, 0])
    a = 1.5 * np.exp(-0.8 * RW_Q.mean(axis=1))  # t1: 1.5 exp(-.8 * .625) = 1.5 e^-.5 = 0.90980...
    assert a[1] == pytest.approx(0.909796, abs=1e-6)
    data = five_trials()
    out = model.values(data, params)
    np.testing.assert_allclose(out["v"], v, atol=1e-12)
    np.testing.assert_allclose(out["a"], a, atol=1e-12)
    np.testing.assert_allclose(model.loglik(data, params), ddm_logp(data, v, a), rtol=1e-10)
    # a_mod = 0: a is a_base on every trial.
    flat = model.values(data, params | {"a_mod": 0.0})
    np.testing.assert_allclose(flat["a"], 1.5, rtol=1e-15)


def test_value_modulated_threshold_is_positive():
    mapping = ValueModulatedThreshold()
    rng = np.random.default_rng(0)
    values, a_base, a_mod = rng.uniform(-3.0, 3.0, (2000, 2)), rng.uniform(0.1, 5.0, 2000), rng.uniform(-5.0, 5.0, 2000)
    with jax.enable_x64(True):
        call = jax.vmap(lambda q, b, m: mapping(q, scaler=jnp.array(1.0), a_base=b, a_mod=m)["a"])
        a = np.asarray(call(jnp.asarray(values), jnp.asarray(a_base), jnp.asarray(a_mod)))
    assert np.all(a > 0.0)
    np.testing.assert_allclose(a, a_base * np.exp(a_mod * values.mean(axis=1)), rtol=1e-12)


# ---------------------------------------------------------------------- every path
CASES = {
    "uncertainty": (UncertaintyDrift(), {"scaler": 3.0, "phi": 2.0, "a": 1.2}),
    "sigmoid": (SigmoidDrift(), {"v_mod": 6.0, "v_max": 3.0, "a": 1.2}),
    "threshold": (ValueModulatedThreshold(), {"scaler": 3.0, "a_base": 1.2, "a_mod": -0.5}),
}
KF_SIM = {"rl_decay": 0.95, "rl_decay_center": 0.5, "rl_sigma0": 0.3, "rl_sigma_d": 0.08}


@pytest.mark.parametrize("case", sorted(CASES))
def test_kalman_with_each_mapping_simulates_and_differentiates(case):
    """Closed-loop and conditional simulation run; logp_fn equals loglik and its gradient is
    finite and matches central differences."""
    mapping, rest = CASES[case]
    model = rlssm.RLSSM(KalmanFilter(), DDM, mapping=mapping)
    params = KF_SIM | rest | {"z": 0.5, "t": 0.15}
    data = model.simulate(params, rlssm.BernoulliBandit(p=(0.3, 0.7)), n_participants=2, n_trials=25, seed=1)
    assert len(data) == 50 and np.all(data["rt"].to_numpy() > 0.15) and set(data["response"]) <= {0, 1}
    assert set(data["feedback"]) <= {0.0, 1.0}
    cond = rlssm.simulation.simulate_conditional(model, data, params, seed=2)
    assert len(cond) == 50 and np.all(cond["rt"].to_numpy() > 0.15)  # NaN fails too

    f = model.logp_fn(data)
    with jax.enable_x64(True):  # logp_fn hands float64 back only with x64 on
        p64 = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        total = jax.jit(lambda p: jnp.sum(f(p)))
        value, grads = jax.jit(jax.value_and_grad(lambda p: jnp.sum(f(p))))(p64)
        assert float(value) == pytest.approx(float(np.sum(model.loglik(data, params))), rel=1e-10)
        for name in params:
            assert np.isfinite(float(grads[name])), name
        for name in ("rl_sigma_d", "rl_decay", "rl_sigma0"):
            h = 1e-6
            fd = (float(total(p64 | {name: p64[name] + h})) - float(total(p64 | {name: p64[name] - h}))) / (2 * h)
            assert float(grads[name]) == pytest.approx(fd, rel=1e-5, abs=1e-6), name
        assert abs(float(grads["rl_sigma_d"])) > 0.0
