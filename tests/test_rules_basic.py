"""ForgettingRW, CounterfactualRW, ChoiceKernel and KernelDrift; the bandits' complete feedback.

Values are checked against sequences written out by hand (values before each trial's
update drive that trial), likelihoods against the decision model's own ``logp`` fed
hand-computed drifts, and each rule's reduction to Rescorla-Wagner exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import ChoiceKernel, CounterfactualRW, ForgettingRW, KernelDrift

DDM = rlssm.DDM()
DECISION = {"a": 1.0, "z": 0.5, "t": 0.2}


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


UNCHOSEN = np.array([0.0, 1.0, 0.0, 0.0, 1.0])  # the forgone outcomes of five_trials

# ForgettingRW (alpha 0.5, forget 0.2, Q0 0.5), values before each trial, by hand:
# t0: opt 1, r 1: Q1 = .5 + .5*.5 = 0.75;           Q0 = .5 + .2*(.5 - .5) = 0.5
# t1: opt 1, r 0: Q1 = .75 - .5*.75 = 0.375;        Q0 = 0.5
# t2: opt 0, r 1: Q0 = .5 + .5*.5 = 0.75;           Q1 = .375 + .2*(.5 - .375) = 0.4
# t3: opt 1, r 1: Q1 = .4 + .5*.6 = 0.7;            Q0 = .75 + .2*(.5 - .75) = 0.7
FORGET = {"rl_alpha": 0.5, "rl_forget": 0.2}
FORGET_VALUES = np.array([[0.5, 0.5], [0.5, 0.75], [0.5, 0.375], [0.75, 0.4], [0.7, 0.7]])

# CounterfactualRW (alpha 0.5, alpha_cf 0.25, Q0 0.5), forgone outcomes 0, 1, 0, 0, 1:
# t0: opt 1, r 1, ru 0: Q1 = 0.75;                          Q0 = .5 + .25*(0 - .5) = 0.375
# t1: opt 1, r 0, ru 1: Q1 = .75 - .5*.75 = 0.375;          Q0 = .375 + .25*.625 = 0.53125
# t2: opt 0, r 1, ru 0: Q0 = .53125 + .5*.46875 = 0.765625; Q1 = .375 - .25*.375 = 0.28125
# t3: opt 1, r 1, ru 0: Q1 = .28125 + .5*.71875 = 0.640625; Q0 = .765625 - .25*.765625 = 0.57421875
CF = {"rl_alpha": 0.5, "rl_alpha_cf": 0.25}
CF_VALUES = np.array(
    [[0.5, 0.5], [0.375, 0.75], [0.53125, 0.375], [0.765625, 0.28125], [0.57421875, 0.640625]]
)

# ChoiceKernel (alpha 0.5, alpha_ck 0.4): the values are RW's (alpha 0.5); the kernel
# starts at 0 and moves every option toward 1[k = chosen]:
# t0: opt 1: CK = (0, .4*1) = (0, 0.4)
# t1: opt 1: CK1 = .4 + .4*.6 = 0.64
# t2: opt 0: CK0 = .4*1 = 0.4;       CK1 = .64 - .4*.64 = 0.384
# t3: opt 1: CK0 = .4 - .4*.4 = 0.24; CK1 = .384 + .4*.616 = 0.6304
CK = {"rl_alpha": 0.5, "rl_alpha_ck": 0.4}
RW_VALUES = np.array([[0.5, 0.5], [0.5, 0.75], [0.5, 0.375], [0.75, 0.375], [0.75, 0.6875]])
CK_KERNEL = np.array([[0.0, 0.0], [0.0, 0.4], [0.0, 0.64], [0.4, 0.384], [0.24, 0.6304]])
# KernelDrift (scaler 2, beta_ck 1.5): v = 2*(Q1 - Q0) + 1.5*(CK1 - CK0)
# t0: 0;  t1: .5 + .6 = 1.1;  t2: -.25 + .96 = 0.71;  t3: -.75 - .024 = -0.774;
# t4: -.125 + .5856 = 0.4606
CK_V = np.array([0.0, 1.1, 0.71, -0.774, 0.4606])


def ddm_logp(data: pd.DataFrame, v: np.ndarray) -> np.ndarray:
    """The DDM's own log density of ``data`` at drifts ``v`` (float64)."""
    choice = np.where(data["response"] == 1, 1, -1)
    with jax.enable_x64(True):
        return np.asarray(DDM.logp(data["rt"].to_numpy(), choice, v=v, a=1.0, z=0.5, t=0.2))


# ---------------------------------------------------------------------- by hand
def test_forgetting_values_by_hand():
    model = rlssm.RLSSM(ForgettingRW(), DDM)
    assert model.param_names == ("rl_alpha", "rl_forget", "scaler", "a", "z", "t")
    params = FORGET | {"scaler": 2.0} | DECISION
    out = model.values(five_trials(), params)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), FORGET_VALUES, atol=1e-12)
    v = 2.0 * (FORGET_VALUES[:, 1] - FORGET_VALUES[:, 0])
    np.testing.assert_allclose(model.loglik(five_trials(), params), ddm_logp(five_trials(), v), rtol=1e-10)


def test_forgetting_decays_toward_its_initial_value():
    """initial_value is both the start and the target of the decay (0: Ito & Doya, hBayesDM)."""
    model = rlssm.RLSSM(ForgettingRW(initial_value=0.0), DDM)
    out = model.values(five_trials(), FORGET | {"scaler": 2.0} | DECISION)
    # t0: Q1 = .5; t1: Q1 = .25; t2: Q0 = .5, Q1 = .25*.8 = .2; t3: Q1 = .6, Q0 = .4
    expected = np.array([[0.0, 0.0], [0.0, 0.5], [0.0, 0.25], [0.5, 0.2], [0.4, 0.6]])
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), expected, atol=1e-12)


def test_counterfactual_values_by_hand():
    model = rlssm.RLSSM(CounterfactualRW(), DDM)
    assert model.param_names == ("rl_alpha", "rl_alpha_cf", "scaler", "a", "z", "t")
    assert model.extra_fields == ("participant_id", "trial_id", "feedback", "feedback_unchosen")
    data = five_trials(feedback_unchosen=UNCHOSEN)
    params = CF | {"scaler": 2.0} | DECISION
    out = model.values(data, params)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), CF_VALUES, atol=1e-12)
    v = 2.0 * (CF_VALUES[:, 1] - CF_VALUES[:, 0])
    np.testing.assert_allclose(model.loglik(data, params), ddm_logp(data, v), rtol=1e-10)
    with pytest.raises(rlssm.DataError, match="feedback_unchosen"):
        model.loglik(five_trials(), params)


def test_counterfactual_is_hbayesdm_prl_fictitious():
    """r_u = -r, alpha_cf = alpha, Q0 = 0: hBayesDM's prl_fictitious update, transcribed."""
    data = five_trials(feedback=[1.0, -1.0, 1.0, 1.0, -1.0])
    data["feedback_unchosen"] = -data["feedback"]
    eta = 0.3
    ev, before = np.zeros(2), []
    for c, outcome in zip(data["response"], data["feedback"]):  # prl_fictitious.stan, 0-based
        before.append(ev.copy())
        pe, penc = outcome - ev[c], -outcome - ev[1 - c]
        ev[c] += eta * pe
        ev[1 - c] += eta * penc
    model = rlssm.RLSSM(CounterfactualRW(initial_value=0.0), DDM)
    out = model.values(data, {"rl_alpha": eta, "rl_alpha_cf": eta, "scaler": 2.0} | DECISION)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), np.array(before), atol=1e-12)


def test_choice_kernel_and_kernel_drift_by_hand():
    model = rlssm.RLSSM(ChoiceKernel(), DDM, mapping=KernelDrift())
    assert model.param_names == ("rl_alpha", "rl_alpha_ck", "scaler", "beta_ck", "a", "z", "t")
    params = CK | {"scaler": 2.0, "beta_ck": 1.5} | DECISION
    out = model.values(five_trials(), params)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), RW_VALUES, atol=1e-12)
    np.testing.assert_allclose(out[["kernel_0", "kernel_1"]].to_numpy(), CK_KERNEL, atol=1e-12)
    np.testing.assert_allclose(out["v"], CK_V, atol=1e-12)
    np.testing.assert_allclose(model.loglik(five_trials(), params), ddm_logp(five_trials(), CK_V), rtol=1e-10)
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.logp_fn(five_trials())(params), ddm_logp(five_trials(), CK_V), rtol=1e-10)


def test_kernel_drift_needs_a_kernel():
    with pytest.raises(ValueError, match=r"KernelDrift.*kernel.*RescorlaWagner"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=KernelDrift())
    assert KernelDrift.params == {"scaler": (0.0, 10.0), "beta_ck": (-10.0, 10.0)}


# ---------------------------------------------------------------------- reductions
RW_REST = {"scaler": 3.0} | DECISION


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (rlssm.RLSSM(ForgettingRW(), DDM), {"rl_alpha": 0.3, "rl_forget": 0.0}),
        (rlssm.RLSSM(CounterfactualRW(), DDM), {"rl_alpha": 0.3, "rl_alpha_cf": 0.0}),
        (rlssm.RLSSM(ChoiceKernel(), DDM, mapping=KernelDrift()),
         {"rl_alpha": 0.3, "rl_alpha_ck": 0.6, "beta_ck": 0.0}),
    ],
    ids=["forgetting", "counterfactual", "choice-kernel"],
)
def test_reduces_to_rescorla_wagner(seed_data, model, params):
    """forget = 0, alpha_cf = 0 and beta_ck = 0 are RW + DriftScaling, trial by trial."""
    data = seed_data.assign(feedback_unchosen=1.0 - seed_data["feedback"])
    rw = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM).loglik(seed_data, {"rl_alpha": 0.3} | RW_REST)
    np.testing.assert_allclose(model.loglik(data, params | RW_REST), rw, atol=1e-10)
    # ... and the extra parameter matters once it is not 0.
    name = next(k for k, v in params.items() if v == 0.0)
    moved = model.loglik(data, params | RW_REST | {name: 0.5})
    assert np.abs(moved - rw).max() > 1e-3


# ---------------------------------------------------------------------- missed trials, blocks
CASES = {
    "forgetting": (ForgettingRW(), None, FORGET, {}, {"value": FORGET_VALUES}, {"value": (0.5, 0.5)}),
    "counterfactual": (CounterfactualRW(), None, CF, {"feedback_unchosen": UNCHOSEN},
                       {"value": CF_VALUES}, {"value": (0.5, 0.5)}),
    "choice-kernel": (ChoiceKernel(), KernelDrift(), CK | {"beta_ck": 1.5}, {},
                      {"value": RW_VALUES, "kernel": CK_KERNEL}, {"value": (0.5, 0.5), "kernel": (0.0, 0.0)}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_missed_trial_keeps_state_and_block_resets_it(case):
    rule, mapping, rl, extra, expected, start = CASES[case]
    model = rlssm.RLSSM(rule, DDM, mapping=mapping)
    params = rl | {"scaler": 2.0} | DECISION
    data = five_trials(**extra)
    gap = {c: [np.nan] for c in ("response", "rt", "feedback", *extra)}
    missed = pd.concat(
        [data.iloc[:2], pd.DataFrame({"participant_id": [0], "trial_id": [10], **gap}),
         data.iloc[2:].assign(trial_id=lambda d: d.trial_id + 20)],
        ignore_index=True,
    )
    out = model.values(missed, params)
    keep = missed["rt"].notna().to_numpy()
    for part, hand in expected.items():
        cols = [f"{part}_0", f"{part}_1"]
        np.testing.assert_allclose(out[cols].to_numpy()[keep], hand, atol=1e-12)
        # The missed trial sees the state after trial 1, and leaves it for trial 2.
        np.testing.assert_allclose(out[cols].to_numpy()[2], hand[2], atol=1e-12)
    assert model.loglik(missed, params)[~keep] == 0.0
    blocks = model.values(data.assign(block=[0, 0, 0, 1, 1]), params)
    for part, first in start.items():
        cols = [f"{part}_0", f"{part}_1"]
        np.testing.assert_allclose(blocks[cols].to_numpy()[3], first, atol=1e-12)
        np.testing.assert_allclose(blocks[cols].to_numpy()[:3], expected[part][:3], atol=1e-12)


# ---------------------------------------------------------------------- simulation
SIM = {
    "forgetting": (rlssm.RLSSM(ForgettingRW(), DDM), {"rl_alpha": 0.4, "rl_forget": 0.2}, False),
    "counterfactual": (rlssm.RLSSM(CounterfactualRW(), DDM), {"rl_alpha": 0.4, "rl_alpha_cf": 0.3}, True),
    "choice-kernel": (rlssm.RLSSM(ChoiceKernel(), DDM, mapping=KernelDrift()),
                      {"rl_alpha": 0.4, "rl_alpha_ck": 0.3, "beta_ck": 1.0}, False),
}


@pytest.mark.parametrize("case", list(SIM))
def test_closed_loop_and_conditional_simulation(case):
    model, rl, complete = SIM[case]
    params = rl | {"scaler": 4.0} | DECISION
    env = rlssm.BernoulliBandit(p=(0.2, 0.8), reversals=(30,), complete_feedback=complete)
    sim = model.simulate(params, env, n_participants=3, n_trials=60, seed=1)
    assert len(sim) == 180
    answered = sim["rt"].notna()
    assert answered.mean() > 0.9
    assert set(sim.loc[answered, "feedback"]) <= {0.0, 1.0}
    assert ("feedback_unchosen" in sim) == complete
    if complete:
        assert set(sim.loc[answered, "feedback_unchosen"]) <= {0.0, 1.0}
        assert sim.loc[~answered, "feedback_unchosen"].isna().all()
    assert sim.loc[answered, "correct"].mean() > 0.6  # the model learns the better arm
    # What it simulated is data the model reads, on both likelihood paths.
    assert np.isfinite(model.loglik(sim, params)).all()
    cond = rlssm.simulation.simulate_conditional(model, sim, params, seed=2)
    assert len(cond) == len(sim)
    assert cond.loc[answered.to_numpy(), "rt"].notna().all()
    np.testing.assert_array_equal(cond["feedback"].to_numpy(), sim["feedback"].to_numpy())


def test_counterfactual_needs_complete_feedback_in_the_loop():
    model, rl, _ = SIM["counterfactual"]
    params = rl | {"scaler": 4.0} | DECISION
    with pytest.raises(ValueError, match=r"CounterfactualRW reads the data field\(s\) \['feedback_unchosen'\]"):
        model.simulate(params, rlssm.GaussianBandit(means=(0.2, 0.8)), 2, 10)
    sim = model.simulate(params, rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1, complete_feedback=True), 2, 10)
    assert sim["feedback_unchosen"].notna().any()


def test_complete_feedback_bandits():
    """The chosen arm's draw is the plain bandit's; the other arm's is drawn apart."""
    plain = rlssm.GaussianBandit(means=(0.0, 10.0), sd=0.01, reversals=(5,))
    complete = rlssm.GaussianBandit(means=(0.0, 10.0), sd=0.01, reversals=(5,), complete_feedback=True)
    assert plain.fields == ("feedback",)
    assert complete.fields == ("feedback", "feedback_unchosen")
    key = jax.random.key(0)
    for trial, option, other_mean in [(0, 0, 10.0), (0, 1, 0.0), (7, 0, 0.0), (7, 1, 10.0)]:
        got = complete.outcome(key, trial, option)
        assert set(got) == {"feedback", "feedback_unchosen"}
        assert float(got["feedback"]) == float(plain.outcome(key, trial, option)["feedback"])
        assert abs(float(got["feedback_unchosen"]) - other_mean) < 0.1
    bern = rlssm.BernoulliBandit(p=(0.0, 1.0), complete_feedback=True)
    assert bern.fields == ("feedback", "feedback_unchosen")
    got = bern.outcome(key, 0, 0)
    assert (float(got["feedback"]), float(got["feedback_unchosen"])) == (0.0, 1.0)
    # A model that reads only feedback simulates the same data in either bandit.
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM)
    params = {"rl_alpha": 0.4, "scaler": 4.0} | DECISION
    p = (0.3, 0.7)
    a = model.simulate(params, rlssm.BernoulliBandit(p=p), 2, 20, seed=4)
    b = model.simulate(params, rlssm.BernoulliBandit(p=p, complete_feedback=True), 2, 20, seed=4)
    pd.testing.assert_frame_equal(a, b.drop(columns="feedback_unchosen"))
    for make in (lambda: rlssm.GaussianBandit(means=(0.1, 0.5, 0.9), complete_feedback=True),
                 lambda: rlssm.BernoulliBandit(p=(0.1, 0.5, 0.9), complete_feedback=True)):
        with pytest.raises(ValueError, match=r"complete_feedback=True\) needs exactly 2 arms, got 3"):
            make()


# ---------------------------------------------------------------------- gradients
@pytest.mark.parametrize("case", list(SIM))
def test_gradients_are_finite(case):
    model, rl, _ = SIM[case]
    data = pd.concat([five_trials(feedback_unchosen=UNCHOSEN).assign(participant_id=p) for p in (0, 1)],
                     ignore_index=True)
    params = rl | {"scaler": 2.0} | DECISION
    f = model.logp_fn(data)
    with jax.enable_x64(True):  # logp_fn hands float64 back only with x64 on
        np.testing.assert_allclose(f(params), model.loglik(data, params), rtol=1e-10)
        grads = jax.grad(lambda p: f(p).sum())({k: jnp.asarray(v) for k, v in params.items()})
    for name, g in grads.items():
        assert np.all(np.isfinite(g)), name
    for name in model.param_names:
        if name not in ("rl_alpha", "scaler", "a", "z", "t"):  # the rule's or mapping's new parameter
            assert abs(float(grads[name])) > 0.0, name
