"""RLWM (Collins & Frank 2012; Collins 2018): reinforcement learning plus a decaying,
capacity-limited working memory.

The values are checked against a sequence written out by hand and against a direct
simulation of Collins' trial loop (decide, learn, then decay every stimulus's working
memory), written below in plain numpy; the reductions against the library's
Rescorla-Wagner rules.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import RLWM, DataError

DDM = rlssm.DDM()
DECISION = {"scaler": 2.0, "a": 1.2, "z": 0.5, "t": 0.15}
RL = {"rl_alpha": 0.5, "rl_phi": 0.2, "rl_rho": 0.8, "rl_capacity": 3.0, "rl_gamma": 0.5, "rl_epsilon": 0.1}
VALUES = ["value_0", "value_1"]


def hand_data(**extra) -> pd.DataFrame:
    """One participant, stimuli A and B interleaved, set size 4 (so w = 0.8 * 3/4 = 0.6)."""
    return pd.DataFrame(
        {
            "participant_id": 0,
            "trial_id": np.arange(6),
            "state": ["A", "B", "A", "A", "B", "A"],
            "response": [1, 0, 1, 0, 1, 1],
            "rt": [0.6, 0.7, 0.55, 0.9, 0.8, 0.5],
            "feedback": [1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            "set_size": 4,
            **extra,
        }
    )


# By hand: alpha .5, phi .2 (keep .8 per trial), rho .8, capacity 3, gamma .5, epsilon .1,
# n = 2 (uniform .5), set size 4: w = .8 * min(1, 3/4) = .6; V = .9 * (.6 W + .4 Q) + .05.
# W is stored after learning with last = trial; at trial t it is .5 + .8**(t - last) * (W - .5).
# t0 A: Q (.5,.5) W (.5,.5) -> V (.5,.5). opt 1, r 1: Q1 = .75; W1 = 1 (delta .5, rate 1); last 0
# t1 B: V (.5,.5). opt 0, r 0: Q0 = .5 - .25*.5 = .375 (rate gamma*alpha); W0 = .5 - .5*.5 = .25; last 1
# t2 A: keep .8**2 = .64: W (.5, .82); Q (.5, .75); V1 = .9*(.6*.82 + .4*.75) + .05 = .7628.
#       opt 1, r 0: Q1 = .75 - .25*.75 = .5625; W1 = .82 - .5*.82 = .41; last 2
# t3 A: keep .8: W (.5, .428); Q (.5, .5625); V1 = .9*(.2568 + .225) + .05 = .48362.
#       opt 0, r 1: Q0 = .75; W0 = 1; W1 stays .428 (stored decayed); last 3
# t4 B: keep .8**3 = .512: W (.5 - .512*.25 = .372, .5); Q (.375, .5);
#       V0 = .9*(.6*.372 + .4*.375) + .05 = .38588. opt 1, r 1: Q1 = .75; W1 = 1; last 4
# t5 A: keep .64: W (.82, .5 - .64*.072 = .45392); Q (.75, .5625);
#       V = (.9*(.492 + .3) + .05, .9*(.272352 + .225) + .05) = (.7628, .4976168)
HAND_V = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.7628], [0.5, 0.48362], [0.38588, 0.5], [0.7628, 0.4976168]])
HAND_Q = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.75], [0.5, 0.5625], [0.375, 0.5], [0.75, 0.5625]])
HAND_WM = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 1.0], [0.5, 0.41], [0.25, 0.5], [1.0, 0.428]])  # as stored
HAND_LAST = np.array([0.0, 0.0, 0.0, 2.0, 1.0, 3.0])


def test_values_by_hand():
    model = rlssm.RLSSM(RLWM(), DDM)
    out = model.values(hand_data(), RL | DECISION)
    np.testing.assert_allclose(out[VALUES].to_numpy(), HAND_V, atol=1e-12)
    np.testing.assert_allclose(out[["q_0", "q_1"]].to_numpy(), HAND_Q, atol=1e-12)
    np.testing.assert_allclose(out[["wm_0", "wm_1"]].to_numpy(), HAND_WM, atol=1e-12)
    np.testing.assert_allclose(out["last"], HAND_LAST, atol=1e-12)
    np.testing.assert_allclose(out["v"], 2.0 * (HAND_V[:, 1] - HAND_V[:, 0]), atol=1e-12)


def test_missed_trial_teaches_nothing_but_time_passes():
    """A missed trial leaves Q and W as they were, but W decays through it."""
    model = rlssm.RLSSM(RLWM(), DDM)
    data = pd.DataFrame({
        "participant_id": 0, "trial_id": [0, 1, 2], "state": "A", "set_size": 2,
        "response": [1, np.nan, 1], "rt": [0.6, np.nan, 0.7], "feedback": [1.0, np.nan, 1.0],
    })
    out = model.values(data, RL | DECISION)
    # After t0: Q (.5, .75), W (.5, 1), last 0. set size 2: w = .8.
    # t2, two decays (t0's and the missed t1's): W1 = .5 + .64 * .5 = .82;
    # V1 = .9 * (.8 * .82 + .2 * .75) + .05 = .7754.
    np.testing.assert_allclose(out[["q_0", "q_1"]].to_numpy()[1:], [[0.5, 0.75], [0.5, 0.75]], atol=1e-12)
    np.testing.assert_allclose(out["last"].to_numpy()[1:], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(out[VALUES].to_numpy()[2], [0.5, 0.7754], atol=1e-12)
    assert model.loglik(data, RL | DECISION)[1] == 0.0
    # Without the missed trial, one decay: W1 = .9; V1 = .9 * (.72 + .15) + .05 = .833.
    kept = model.values(data.iloc[[0, 2]], RL | DECISION)
    np.testing.assert_allclose(kept[VALUES].to_numpy()[1], [0.5, 0.833], atol=1e-12)


def test_block_resets_q_and_wm():
    model = rlssm.RLSSM(RLWM(), DDM)
    out = model.values(hand_data(block=[0, 0, 0, 1, 1, 1]), RL | DECISION)
    np.testing.assert_allclose(out[VALUES].to_numpy()[:3], HAND_V[:3], atol=1e-12)
    # t3 (A) and t4 (B) start block 1 afresh; t3 then teaches A: opt 0, r 1 -> Q0 = .75, W0 = 1,
    # last 3; at t5 (keep .64): W0 = .82, V0 = .9 * (.6 * .82 + .4 * .75) + .05 = .7628.
    np.testing.assert_allclose(out[["q_0", "q_1", "wm_0", "wm_1"]].to_numpy()[3:5], 0.5, atol=1e-12)
    np.testing.assert_allclose(out[VALUES].to_numpy()[3:], [[0.5, 0.5], [0.5, 0.5], [0.7628, 0.5]], atol=1e-12)


# ---------------------------------------------------------------------- reference
def random_data(seed: int = 0, n_trials: int = 80) -> pd.DataFrame:
    """Two participants, two blocks each (set sizes 3 then 2, stimulus labels shared
    across blocks), stimuli interleaved at random, some missed trials, trial_id with
    gaps, rows shuffled."""
    rng = np.random.default_rng(seed)
    frames = []
    for pid in ("p1", "p0"):
        half = n_trials // 2
        stim = np.concatenate([rng.choice(["s0", "s1", "s2"], half), rng.choice(["s0", "s3"], n_trials - half)])
        correct = {s: int(rng.integers(2)) for s in ("s0", "s1", "s2", "s3")}
        response = rng.integers(0, 2, n_trials).astype(float)
        feedback = np.array([float(r == correct[s]) for r, s in zip(response, stim)])
        flip = rng.random(n_trials) < 0.15  # noisy feedback
        feedback[flip] = 1.0 - feedback[flip]
        rt = rng.uniform(0.3, 1.2, n_trials)
        missed = rng.random(n_trials) < 0.08
        response[missed], rt[missed], feedback[missed] = np.nan, np.nan, np.nan
        frames.append(pd.DataFrame({
            "participant_id": pid, "trial_id": 3 * np.arange(n_trials) + 7,
            "block": np.repeat([0, 1], [half, n_trials - half]), "state": stim,
            "set_size": np.repeat([3, 2], [half, n_trials - half]),
            "response": response, "rt": rt, "feedback": feedback,
        }))
    data = pd.concat(frames, ignore_index=True)
    return data.iloc[rng.permutation(len(data))].reset_index(drop=True)


def global_decay_loop(data: pd.DataFrame, p: dict, phi: dict) -> dict[str, np.ndarray]:
    """Collins' trial loop, per participant in trial order: reset at a block start;
    decide on the trial's stimulus; learn (answered trials only); then decay the working
    memory of *every* stimulus toward 1/n. Returns, per row of ``data``, the mixed values,
    Q and W at the decision."""
    n = 2
    labels = sorted(data["state"].unique())
    out = {k: np.full((len(data), n), np.nan) for k in ("values", "q", "w")}
    for pid, rows in data.sort_values(["participant_id", "trial_id"]).groupby("participant_id"):
        block = None
        for i, row in rows.iterrows():
            if row["block"] != block:
                block = row["block"]
                Q = np.full((len(labels), n), 1.0 / n)
                W = np.full((len(labels), n), 1.0 / n)
            s = labels.index(row["state"])
            w = p["rl_rho"] * min(1.0, p["rl_capacity"] / row["set_size"])
            mixed = w * W[s] + (1 - w) * Q[s]
            out["values"][i] = (1 - p["rl_epsilon"]) * mixed + p["rl_epsilon"] / n
            out["q"][i], out["w"][i] = Q[s], W[s]
            if not np.isnan(row["response"]):
                a, r = int(row["response"]), row["feedback"]
                delta = r - Q[s, a]
                Q[s, a] += (p["rl_alpha"] if delta > 0 else p["rl_gamma"] * p["rl_alpha"]) * delta
                delta_wm = r - W[s, a]
                W[s, a] += (1.0 if delta_wm > 0 else p["rl_gamma"]) * delta_wm
            W += phi[pid] * (1.0 / n - W)
    return out


def test_equals_global_decay_loop():
    """The lazy decay (by elapsed trials, per stimulus) equals decaying every stimulus
    on every trial, with stimuli interleaved, missed trials and block resets."""
    data = random_data()
    phi = {"p0": 0.15, "p1": 0.35}
    p = RL | {"rl_capacity": 2.5, "rl_gamma": 0.3}
    params = p | DECISION | {"rl_phi": np.array([phi["p0"], phi["p1"]])}  # sorted participant order
    model = rlssm.RLSSM(RLWM(), DDM)
    out = model.values(data, params)
    ref = global_decay_loop(data, p, phi)
    answered = data["rt"].notna().to_numpy()
    assert (~answered).sum() > 3
    np.testing.assert_allclose(out[["q_0", "q_1"]].to_numpy(), ref["q"], rtol=0, atol=1e-12)
    # W at the decision from the state (stored W, trial of its last update) and trial_index.
    trial_index = data.groupby("participant_id")["trial_id"].rank().to_numpy() - 1
    phi_row = data["participant_id"].map(phi).to_numpy()
    keep = (1 - phi_row) ** (trial_index - out["last"].to_numpy())
    w_now = 0.5 + keep[:, None] * (out[["wm_0", "wm_1"]].to_numpy() - 0.5)
    np.testing.assert_allclose(w_now, ref["w"], rtol=0, atol=1e-12)
    # The mixed values that drive the decision (a missed trial's decision is never scored).
    np.testing.assert_allclose(out[VALUES].to_numpy()[answered], ref["values"][answered], rtol=0, atol=1e-12)
    # Working memory mattered: the values are not those of RL alone.
    assert np.abs(ref["values"] - ((1 - 0.1) * ref["q"] + 0.05)).max() > 0.1


# ---------------------------------------------------------------------- reductions
def test_without_working_memory_it_is_rescorla_wagner():
    """rho = 0: RL alone, drift scaled by 1 - epsilon. gamma = 1 is RescorlaWagner(1/n),
    gamma < 1 is DualRateRW with alpha_neg = gamma * alpha (per state, with blocks and
    missed trials)."""
    data = random_data(1)
    rlwm = rlssm.RLSSM(RLWM(), DDM)
    base = {"rl_alpha": 0.4, "rl_phi": 0.3, "rl_rho": 0.0, "rl_capacity": 2.5, "rl_epsilon": 0.2}
    rest = {"a": 1.2, "z": 0.45, "t": 0.15}
    got = rlwm.loglik(data, base | {"rl_gamma": 1.0, "scaler": 2.5} | rest)
    rw = rlssm.RLSSM(rlssm.RescorlaWagner(initial_value=1 / 2), DDM)
    want = rw.loglik(data, {"rl_alpha": 0.4, "scaler": 2.5 * 0.8} | rest)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    got = rlwm.loglik(data, base | {"rl_gamma": 0.25, "scaler": 2.5} | rest)
    dual = rlssm.RLSSM(rlssm.DualRateRW(), DDM)
    want = dual.loglik(data, {"rl_alpha": 0.4, "rl_alpha_neg": 0.1, "scaler": 2.5 * 0.8} | rest)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_initial_value_sets_the_start_of_q_only():
    model = rlssm.RLSSM(RLWM(initial_value=0.2), DDM)
    first = model.values(hand_data(), RL | DECISION).iloc[0]
    np.testing.assert_allclose(first[["q_0", "q_1", "wm_0", "wm_1"]].to_numpy(float), [0.2, 0.2, 0.5, 0.5])


# ---------------------------------------------------------------------- data and paths
def test_set_size_is_required():
    model = rlssm.RLSSM(RLWM(), DDM)
    assert model.learning_rule.cues == ("set_size", "trial_index")
    with pytest.raises(DataError, match="set_size"):
        model.loglik(hand_data().drop(columns="set_size"), RL | DECISION)


def test_closed_loop_simulation_is_refused():
    model = rlssm.RLSSM(RLWM(), DDM)
    with pytest.raises(ValueError, match="set_size.*simulate_conditional"):
        model.simulate(RL | DECISION, rlssm.BernoulliBandit(p=(0.3, 0.7)), 2, 10)


def test_simulate_conditional():
    """One-step-ahead draws follow the drift the mixed values give."""
    from rlssm.simulation import simulate_conditional

    data = random_data(2, n_trials=40)
    model = rlssm.RLSSM(RLWM(), DDM)
    params = RL | DECISION | {"scaler": 6.0}
    sim = simulate_conditional(model, data, params, seed=3, n_draws=40)
    assert len(sim) == 40 * len(data)
    answered = np.tile(data["rt"].notna().to_numpy(), 40)
    assert sim["rt"][~answered].isna().all() and (sim["rt"][answered] > DECISION["t"]).all()
    assert set(sim["response"][answered].unique()) <= {0.0, 1.0}
    v = np.tile(model.values(data, params)["v"].to_numpy(), 40)
    up = sim["response"].to_numpy() == 1
    assert up[answered & (v > 1.5)].mean() > 0.75 > 0.25 > up[answered & (v < -1.5)].mean()


def test_gradients_are_finite_on_both_paths():
    """logp_fn (row path; the plain scan on one-stimulus data) equals loglik (grid path)
    in float64, and its gradient is finite, also through missed trials (set_size 0)."""
    model = rlssm.RLSSM(RLWM(), DDM)
    p = RL | {"rl_capacity": 2.5} | DECISION
    plain = random_data(3, n_trials=30).query("participant_id == 'p0' and block == 0 and rt == rt")
    plain = plain.drop(columns=["state", "block"])
    for data in (random_data(3, n_trials=30), plain):
        f = model.logp_fn(data)
        with jax.enable_x64(True):  # logp_fn hands float64 back only with x64 on
            np.testing.assert_allclose(f(p), model.loglik(data, p), rtol=0, atol=1e-10)
            grads = jax.grad(lambda q: f(q).sum())({k: jnp.asarray(v, jnp.float64) for k, v in p.items()})
            grads = {k: float(g) for k, g in grads.items()}
        for name, g in grads.items():
            assert np.isfinite(g), name
        for name in ("rl_alpha", "rl_phi", "rl_rho", "rl_capacity", "rl_gamma", "rl_epsilon"):
            assert grads[name] != 0.0, name
