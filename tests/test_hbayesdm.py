"""hBayesDM's models (``rlssm.hbayesdm``), the rules they brought, and ``rlssm.Fixed``
on learning rules and mappings.

Reference: for each model a line-by-line numpy port of its Stan model block
(hBayesDM 1.1.1, ``hbayesdm/common/stan_files/<name>.stan``), with hBayesDM's
preprocessing (subjects and blocks in order of appearance, rows in file order, rows with
a missing choice dropped, ``sign(outcome)`` for the ``prl_*`` models). The ports use no
rlssm code. Data: hBayesDM's ``prl_multipleB`` example file (``$RLSSM_TEST_DATA``) and
files in hBayesDM's format simulated here (single-block PRL, two-armed bandit).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import hbayesdm
from rlssm.learning import EWA, DualRateFictitiousRW, FictitiousRW, RewardPunishmentRW, SignOfFeedback
from rlssm.mapping import IndecisionPoint

TOL = 1e-8


# ------------------------------------------------------------------ the Stan ports
# Each takes one subject's (one block's) choices (1 or 2) and outcomes, as the Stan
# data block has them, and returns the log-likelihood of every trial and ev before it.
# Index k in Stan (1-based) is k - 1 here; Stan's `3 - choice` is `2 - choice` here.


def stan_bandit2arm_delta(choice, outcome, A, tau):
    ev = np.zeros(2)  # initV
    lls, evs = [], []
    for t in range(len(choice)):
        c = choice[t] - 1
        x = tau * ev  # categorical_logit(tau * ev)
        evs.append(ev.copy())
        lls.append(x[c] - math.log(math.exp(x[0]) + math.exp(x[1])))
        PE = outcome[t] - ev[c]
        ev[c] += A * PE
    return lls, evs


def stan_prl_fictitious(choice, outcome, eta, alpha, beta):
    ev = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c, nc = choice[t] - 1, 2 - choice[t]
        prob1 = 1 / (1 + math.exp(beta * (alpha - (ev[0] - ev[1]))))
        prob = (prob1, 1 - prob1)
        evs.append(ev.copy())
        lls.append(math.log(prob[c]))  # categorical(prob)
        PE = outcome[t] - ev[c]
        PEnc = -outcome[t] - ev[nc]
        ev[c] += eta * PE
        ev[nc] += eta * PEnc
    return lls, evs


def stan_prl_fictitious_woa(choice, outcome, eta, beta):
    ev = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c, nc = choice[t] - 1, 2 - choice[t]
        prob1 = 1 / (1 + math.exp(beta * (ev[1] - ev[0])))
        prob = (prob1, 1 - prob1)
        evs.append(ev.copy())
        lls.append(math.log(prob[c]))
        PE = outcome[t] - ev[c]
        PEnc = -outcome[t] - ev[nc]
        ev[c] += eta * PE
        ev[nc] += eta * PEnc
    return lls, evs


def stan_prl_rp(choice, outcome, Apun, Arew, beta):
    ev = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c = choice[t] - 1
        x = ev * beta  # categorical_logit(ev * beta)
        evs.append(ev.copy())
        lls.append(x[c] - math.log(math.exp(x[0]) + math.exp(x[1])))
        PE = outcome[t] - ev[c]
        if outcome[t] > 0:
            ev[c] += Arew * PE
        else:
            ev[c] += Apun * PE
    return lls, evs


def stan_prl_fictitious_rp(choice, outcome, eta_pos, eta_neg, alpha, beta):
    ev = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c, nc = choice[t] - 1, 2 - choice[t]
        prob1 = 1 / (1 + math.exp(beta * (alpha - (ev[0] - ev[1]))))
        prob = (prob1, 1 - prob1)
        evs.append(ev.copy())
        lls.append(math.log(prob[c]))
        PE = outcome[t] - ev[c]
        PEnc = -outcome[t] - ev[nc]
        if PE >= 0:
            ev[c] += eta_pos * PE
            ev[nc] += eta_pos * PEnc
        else:
            ev[c] += eta_neg * PE
            ev[nc] += eta_neg * PEnc
    return lls, evs


def stan_prl_fictitious_rp_woa(choice, outcome, eta_pos, eta_neg, beta):
    ev = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c, nc = choice[t] - 1, 2 - choice[t]
        prob1 = 1 / (1 + math.exp(beta * (ev[1] - ev[0])))
        prob = (prob1, 1 - prob1)
        evs.append(ev.copy())
        lls.append(math.log(prob[c]))
        PE = outcome[t] - ev[c]
        PEnc = -outcome[t] - ev[nc]
        if PE >= 0:
            ev[c] += eta_pos * PE
            ev[nc] += eta_pos * PEnc
        else:
            ev[c] += eta_neg * PE
            ev[nc] += eta_neg * PEnc
    return lls, evs


def stan_prl_ewa(choice, outcome, phi, rho, beta):
    ev = np.zeros(2)
    ew = np.zeros(2)
    lls, evs = [], []
    for t in range(len(choice)):
        c = choice[t] - 1
        x = ev * beta
        evs.append(ev.copy())
        lls.append(x[c] - math.log(math.exp(x[0]) + math.exp(x[1])))
        ewt1 = ew[c]
        ew[c] *= rho
        ew[c] += 1
        ev[c] *= phi * ewt1
        ev[c] += outcome[t]
        ev[c] /= ew[c]
    return lls, evs


PORTS = {
    "bandit2arm_delta": stan_bandit2arm_delta,
    "prl_fictitious": stan_prl_fictitious,
    "prl_fictitious_woa": stan_prl_fictitious_woa,
    "prl_rp": stan_prl_rp,
    "prl_fictitious_rp": stan_prl_fictitious_rp,
    "prl_fictitious_rp_woa": stan_prl_fictitious_rp_woa,
    "prl_ewa": stan_prl_ewa,
}
PRL = [name for name in PORTS if name.startswith("prl_")]


def stan_loglik(name: str, raw: pd.DataFrame, params: dict[str, pd.Series], blocks: bool):
    """Per row of the raw file: hBayesDM's log-likelihood (NaN where hBayesDM drops the
    row) and ev before the trial, running the port over hBayesDM's data layout."""
    kept = raw.dropna(subset=["choice", "outcome"])
    lls = np.full(len(raw), np.nan)
    evs = np.full((len(raw), 2), np.nan)
    position = pd.Series(np.arange(len(raw)), index=raw.index)
    keys = ["subjID", "block"] if blocks else ["subjID"]
    for key, group in kept.groupby(keys, sort=False):
        subject = key[0] if isinstance(key, tuple) else key
        outcome = group["outcome"].to_numpy(dtype=float)
        if name.startswith("prl_"):
            outcome = np.sign(outcome)  # hBayesDM's prl preprocessing: "Use sign"
        choice = group["choice"].to_numpy().astype(int)
        own = {p: float(v.loc[subject]) for p, v in params.items()}
        ll, ev = PORTS[name](choice, outcome, **own)
        rows = position.loc[group.index].to_numpy()
        lls[rows], evs[rows] = ll, ev
    return lls, evs


# ------------------------------------------------------------------ data


def prl_file(path: Path, example: Path) -> Path:
    """hBayesDM's prl_multipleB example (3 subjects x 3 blocks, outcomes +-25) with four
    simulated subjects of a single block appended (hBayesDM's format; unequal lengths, a
    reversal, outcomes of +-1, +-25 and 0, one missed choice). hBayesDM's
    ``_multipleB`` preprocessing makes a one-block subject the single-block model's
    data, so one file (and one compilation per model) serves both."""
    rng = np.random.default_rng(11)
    frames = [pd.read_csv(example, sep="\t")]
    for subject, n in zip((101, 7, 35, 2), (60, 45, 80, 30)):
        good = np.where(np.arange(n) < n // 2, 1, 2)  # a reversal half-way
        choice = np.where(rng.random(n) < 0.7, good, 3 - good)
        win = rng.random(n) < np.where(choice == good, 0.8, 0.2)
        size = 25.0 if subject in (7, 2) else 1.0
        outcome = np.where(win, size, -size)
        outcome[rng.random(n) < 0.1] = 0.0
        frames.append(pd.DataFrame({"subjID": subject, "block": 1, "trial": np.arange(1, n + 1),
                                    "choice": choice.astype(float), "outcome": outcome}))
    data = pd.concat(frames, ignore_index=True)[["subjID", "block", "trial", "choice", "outcome"]]
    missed = len(frames[0]) + 17
    data.loc[missed, "choice"] = np.nan  # hBayesDM drops the row; rlssm: a missed trial
    data.to_csv(path, sep="\t", index=False)
    return path


def bandit2arm_file(path: Path) -> Path:
    """Two-armed bandit data in hBayesDM's format (no blocks); outcomes of different sizes
    (this model learns from the outcome itself, not its sign)."""
    rng = np.random.default_rng(12)
    frames = []
    for subject, n, size in ((1, 50, 1.0), (2, 70, 2.5), (3, 40, 0.5)):
        choice = rng.integers(1, 3, n)
        win = rng.random(n) < np.where(choice == 1, 0.7, 0.3)
        frames.append(pd.DataFrame({"subjID": subject, "trial": np.arange(1, n + 1), "choice": choice,
                                    "outcome": np.where(win, size, -size)}))
    data = pd.concat(frames, ignore_index=True)
    data.to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="module")
def prl_example(data_dir: Path) -> Path:
    return data_dir / "prl_multipleB_exampleData.txt"


@pytest.fixture(scope="module")
def prl_path(prl_example: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prl_file(tmp_path_factory.mktemp("prl") / "prl.txt", prl_example)


def random_points(name: str, subjects, rng: np.random.Generator, n: int = 5) -> list[dict[str, pd.Series]]:
    """``n`` random points of hBayesDM's parameters, one value per subject.

    Inverse temperatures up to 5 for the models whose Stan code writes
    ``prob[2] = 1 - prob[1]``: beyond, ``1 - prob[1]`` loses digits in the port (and in
    Stan) where rlssm's log-softmax does not, and the two drift apart by more than 1e-8.
    """
    index = pd.Index(subjects)
    softmax = name.removesuffix("_multipleB") in ("prl_rp", "prl_ewa")
    table = {"A": (0.02, 0.98), "tau": (0.1, 5.0), "eta": (0.02, 0.98), "eta_pos": (0.02, 0.98),
             "eta_neg": (0.02, 0.98), "Apun": (0.02, 0.98), "Arew": (0.02, 0.98), "phi": (0.02, 0.98),
             "rho": (0.02, 0.98), "beta": (0.1, 10.0 if softmax else 5.0), "alpha": (-0.5, 0.5)}
    return [
        {p: pd.Series(rng.uniform(*table[p], len(index)), index=index) for p in hbayesdm.PARAMETERS[name]}
        for _ in range(n)
    ]


def check_against_port(name: str, raw_path: Path, blocks: bool, seed: int) -> None:
    raw = pd.read_csv(raw_path, sep="\t")
    data = rlssm.load_hbayesdm(raw_path)
    model = hbayesdm.model(name)
    port = name.removesuffix("_multipleB")
    for point in random_points(name, raw["subjID"].unique(), np.random.default_rng(seed)):
        ours = model.loglik(data, hbayesdm.params_from_hbayesdm(name, point))
        theirs, _ = stan_loglik(port, raw, point, blocks)
        dropped = np.isnan(theirs)
        np.testing.assert_array_equal(ours[dropped], 0.0)  # rlssm's missed trials
        np.testing.assert_allclose(ours[~dropped], theirs[~dropped], rtol=0, atol=TOL)
        assert abs(ours.sum() - theirs[~dropped].sum()) < TOL * len(raw)


# ------------------------------------------------------------------ models = Stan ports


@pytest.mark.parametrize("name", [*PRL, "prl_fictitious_multipleB", "prl_rp_multipleB"])
def test_prl_model_equals_stan_port(name: str, prl_path: Path):
    """The example's subjects with values reset per block (the ``_multipleB`` Stan files,
    and for the models without one their model block run per block), the simulated ones
    as the single-block Stan files."""
    check_against_port(name, prl_path, blocks=True, seed=len(name))


def test_bandit2arm_delta_equals_stan_port(tmp_path: Path):
    check_against_port("bandit2arm_delta", bandit2arm_file(tmp_path / "bandit2arm.txt"), blocks=False, seed=2)


@pytest.mark.parametrize("name", ["prl_fictitious_rp"])
def test_response_time_form_drifts_from_the_same_values(name: str, prl_example: Path):
    """``response_times=True``: a DDM whose drift is ``scaler * (ev[2] - ev[1] + alpha)``,
    with ev the port's values (alpha 0 where hBayesDM's model has none)."""
    raw = pd.read_csv(prl_example, sep="\t")
    data = rlssm.load_hbayesdm(prl_example)
    model = hbayesdm.model(name, response_times=True)
    assert isinstance(model.decision_model, rlssm.DDM)
    point = random_points(name, raw["subjID"].unique(), np.random.default_rng(5), n=1)[0]
    learning = {k: v for k, v in hbayesdm.params_from_hbayesdm(name, point).items() if k != "beta"}
    params = learning | {"scaler": 2.0, "a": 1.2, "z": 0.5, "t": 0.15}
    values = model.values(data, params)
    _, ev = stan_loglik(name, raw, point, blocks=True)
    alpha = point["alpha"].loc[raw["subjID"]].to_numpy() if "alpha" in point else 0.0
    np.testing.assert_allclose(values[["value_1", "value_2"]].to_numpy(), ev, rtol=0, atol=TOL)
    np.testing.assert_allclose(values["v"].to_numpy(), 2.0 * (ev[:, 1] - ev[:, 0] + alpha), rtol=0, atol=TOL)
    assert np.isfinite(model.loglik(data, params)).all()


def test_parameter_tables_match_the_models():
    for name, table in hbayesdm.PARAMETERS.items():
        assert sorted(table.values()) == sorted(hbayesdm.model(name).param_names), name
        rt_names = hbayesdm.model(name, response_times=True).param_names
        assert sorted([*(v for v in table.values() if v != "beta"), "scaler", "a", "z", "t"]) == sorted(rt_names)
    assert hbayesdm.prl_ewa().bounds["beta"] == (0.0, 10.0)
    assert hbayesdm.bandit2arm_delta().bounds["beta"] == (0.0, 5.0)
    woa = hbayesdm.prl_fictitious_woa(response_times=True).mapping
    assert isinstance(woa, rlssm.Fixed) and woa.held == {"indecision": 0.0}


def test_params_from_hbayesdm_reads_all_ind_pars():
    frame = pd.DataFrame({"subjID": [5, 9], "Apun": [0.1, 0.2], "Arew": [0.3, 0.4], "beta": [1.0, 2.0]})
    params = hbayesdm.params_from_hbayesdm("prl_rp", frame)
    assert set(params) == {"rl_alpha_pun", "rl_alpha_rew", "beta"}
    assert params["rl_alpha_rew"].loc[9] == 0.4
    with pytest.raises(ValueError, match=r"missing \['beta'\], unknown \['tau'\]"):
        hbayesdm.params_from_hbayesdm("prl_rp", {"Apun": 0.1, "Arew": 0.2, "tau": 1.0})
    with pytest.raises(ValueError, match="unknown hBayesDM model 'prl_nope'"):
        hbayesdm.model("prl_nope")


# ------------------------------------------------------------------ the new rules, by hand


def rule_values(rule, options, feedback, params) -> np.ndarray:
    """The values before each trial and after the last, the rule's update called trial
    by trial (float64)."""
    with jax.enable_x64(True):
        as_float = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
        state = rule.init(2, jnp.float64, **as_float)
        seen = [rule.values_of(state, **as_float)]
        for option, r in zip(options, feedback):
            option_ = jnp.asarray(option, dtype=jnp.int32)
            state = rule.update(state, option_, feedback=jnp.asarray(r, dtype=jnp.float64), **as_float)
            seen.append(rule.values_of(state, **as_float))
        return np.asarray(seen)


def test_fictitious_rw_by_hand():
    got = rule_values(FictitiousRW(initial_value=0.0), [0, 1], [1.0, -1.0], {"alpha": 0.5})
    # t1: Q0 = 0 + .5 (1 - 0), Q1 = 0 + .5 (-1 - 0); t2 (chose 1, r = -1):
    # Q1 = -.5 + .5 (-1 + .5) = -.75, Q0 = .5 + .5 (1 - .5) = .75
    np.testing.assert_allclose(got, [[0, 0], [0.5, -0.5], [0.75, -0.75]], atol=1e-12)


def test_dual_rate_fictitious_rw_by_hand():
    rates = {"alpha": 0.5, "alpha_neg": 0.2}
    got = rule_values(DualRateFictitiousRW(initial_value=0.0), [0, 0], [1.0, -1.0], rates)
    # t1: delta = 1 >= 0, rate .5: (.5, -.5); t2: delta = -1.5 < 0, rate .2:
    # Q0 = .5 + .2 (-1.5) = .2, Q1 = -.5 + .2 (1 + .5) = -.2
    np.testing.assert_allclose(got, [[0, 0], [0.5, -0.5], [0.2, -0.2]], atol=1e-12)
    # A zero prediction error takes alpha for the unchosen update: Q = (1, 1), r = 1:
    # Q1 = 1 + .5 (-1 - 1) = 0 (alpha_neg would give .6).
    got = rule_values(DualRateFictitiousRW(initial_value=1.0), [0], [1.0], rates)
    np.testing.assert_allclose(got[-1], [1.0, 0.0], atol=1e-12)


def test_reward_punishment_rw_by_hand():
    rates = {"alpha_rew": 0.5, "alpha_pun": 0.2}
    got = rule_values(RewardPunishmentRW(initial_value=0.0), [0, 0, 1, 1], [1.0, 0.25, 0.0, -1.0], rates)
    # t1 r = 1 > 0: Q0 = .5; t2 r = .25 > 0 (a negative prediction error, still the
    # reward rate): Q0 = .5 + .5 (.25 - .5) = .375; t3 r = 0: Q1 = 0 + .2 (0 - 0) = 0;
    # t4 r = -1: Q1 = 0 + .2 (-1 - 0) = -.2
    expected = [[0, 0], [0.5, 0], [0.375, 0], [0.375, 0], [0.375, -0.2]]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_ewa_by_hand():
    got = rule_values(EWA(initial_value=0.0), [0, 0, 1, 0], [1.0, -1.0, 1.0, 1.0], {"phi": 0.5, "rho": 0.8})
    # t1: N0 = .8 * 0 + 1 = 1, A0 = (.5 * 0 * 0 + 1) / 1 = 1
    # t2: N0 = .8 * 1 + 1 = 1.8, A0 = (.5 * 1 * 1 - 1) / 1.8 = -5/18
    # t3: N1 = 1, A1 = 1
    # t4: N0 = .8 * 1.8 + 1 = 2.44, A0 = (.5 * 1.8 * (-5/18) + 1) / 2.44 = .75 / 2.44
    expected = [[0, 0], [1, 0], [-5 / 18, 0], [-5 / 18, 1], [0.75 / 2.44, 1]]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # A start of 0.5 with experience 0 counts only until the option is first chosen.
    started = rule_values(EWA(), [0], [1.0], {"phi": 0.5, "rho": 0.8})
    np.testing.assert_allclose(started, [[0.5, 0.5], [1.0, 0.5]], atol=1e-12)
    with pytest.raises(ValueError, match="initial_experience must be a finite number >= 0"):
        EWA(initial_experience=-1.0)


def test_sign_of_feedback_is_the_rule_on_the_sign():
    feedback = [25.0, -25.0, 0.0, 3.0, -0.5]
    options = [0, 1, 1, 0, 1]
    signed = rule_values(SignOfFeedback(rlssm.RescorlaWagner()), options, feedback, {"alpha": 0.3})
    plain = rule_values(rlssm.RescorlaWagner(), options, list(np.sign(feedback)), {"alpha": 0.3})
    np.testing.assert_allclose(signed, plain, rtol=0, atol=1e-15)
    assert not np.allclose(rule_values(rlssm.RescorlaWagner(), options, feedback, {"alpha": 0.3}), plain)
    assert SignOfFeedback(rlssm.RescorlaWagner()).params == {"alpha": (0.0, 1.0)}
    with pytest.raises(TypeError, match="learning rule instance|Type-check error"):
        SignOfFeedback(rlssm.RescorlaWagner)  # type: ignore[arg-type]


def test_indecision_point_takes_two_options():
    with pytest.raises(TypeError, match="IndecisionPoint is defined for two options, got 3"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Softmax(3), IndecisionPoint(rlssm.Values()), choices=(0, 1, 2))


# ------------------------------------------------------------------ Fixed on rules and mappings


def _two_arm_data() -> pd.DataFrame:
    """Two participants' choices, response times and complete feedback (random: the
    likelihoods are compared, not fitted)."""
    rng = np.random.default_rng(1)
    n = 80
    return pd.DataFrame({
        "participant_id": np.repeat([0, 1], n // 2), "trial_id": np.tile(np.arange(n // 2), 2),
        "response": rng.integers(0, 2, n), "rt": rng.uniform(0.4, 1.5, n),
        "feedback": rng.normal(0.5, 0.3, n), "feedback_unchosen": rng.normal(0.5, 0.3, n),
    })


def test_fixed_rule_holds_a_rule_parameter():
    data = _two_arm_data()
    held = rlssm.Fixed(rlssm.CounterfactualRW(), alpha_cf=0.3)
    assert isinstance(held, rlssm.AbstractLearningRule) and isinstance(held, rlssm.Fixed)
    assert held.held == {"alpha_cf": 0.3}
    fixed = rlssm.RLSSM(held, rlssm.Softmax(2), rlssm.Values())
    free = rlssm.RLSSM(rlssm.CounterfactualRW(), rlssm.Softmax(2), rlssm.Values())
    assert fixed.param_names == ("rl_alpha", "beta")
    assert fixed.extra_fields == free.extra_fields  # feedback_unchosen still read
    params = {"rl_alpha": np.array([0.2, 0.6]), "beta": 3.0}
    ours = fixed.loglik(data, params)
    np.testing.assert_allclose(ours, free.loglik(data, params | {"rl_alpha_cf": 0.3}), rtol=0, atol=1e-12)
    assert not np.allclose(ours, free.loglik(data, params | {"rl_alpha_cf": 0.0}))
    # A held parameter that the rule's init reads (Pearce-Hall's initial associability):
    # the held rule's values are the free rule's at that value.
    ph = rlssm.Fixed(rlssm.PearceHall(), alpha0=0.4)
    assert tuple(ph.params) == ("kappa", "eta")
    rates = {"kappa": 0.5, "eta": 0.3}
    options, feedback = [0, 1, 1, 0], [1.0, 0.0, 1.0, 0.5]
    np.testing.assert_allclose(
        rule_values(ph, options, feedback, rates),
        rule_values(rlssm.PearceHall(), options, feedback, rates | {"alpha0": 0.4}), rtol=0, atol=1e-15,
    )


def test_fixed_mapping_holds_a_mapping_parameter():
    data = _two_arm_data()
    held = rlssm.Fixed(rlssm.RaceScaling(), scaler=2.0)
    assert isinstance(held, rlssm.AbstractMapping) and isinstance(held, rlssm.Fixed)
    fixed = rlssm.RLSSM(rlssm.CounterfactualRW(), rlssm.Softmax(2), held)
    free = rlssm.RLSSM(rlssm.CounterfactualRW(), rlssm.Softmax(2), rlssm.RaceScaling())
    assert fixed.param_names == ("rl_alpha", "rl_alpha_cf", "beta")
    params = {"rl_alpha": 0.3, "rl_alpha_cf": 0.1, "beta": 1.5}
    ours = fixed.loglik(data, params)
    np.testing.assert_allclose(ours, free.loglik(data, params | {"scaler": 2.0}), rtol=0, atol=1e-12)
    assert not np.allclose(ours, free.loglik(data, params | {"scaler": 1.0}))
    assert rlssm.Fixed(rlssm.DriftScaling(), scaler=1.0).params == {}


def test_fixed_refuses_bad_rule_and_mapping_values():
    with pytest.raises(ValueError, match="without the rl_ prefix: alpha_cf="):
        rlssm.Fixed(rlssm.CounterfactualRW(), rl_alpha_cf=0.0)
    with pytest.raises(ValueError, match="alpha_cf = 1.5 lies outside its domain"):
        rlssm.Fixed(rlssm.CounterfactualRW(), alpha_cf=1.5)
    with pytest.raises(ValueError, match="'gain' is not a parameter of DriftScaling"):
        rlssm.Fixed(rlssm.DriftScaling(), gain=1.0)
    with pytest.raises(ValueError, match="finite"):
        rlssm.Fixed(rlssm.DriftScaling(), scaler=float("inf"))
    with pytest.raises(ValueError, match="at least one parameter"):
        rlssm.Fixed(rlssm.DriftScaling())
    with pytest.raises(TypeError, match="learning rule, mapping or decision model instance, got the class"):
        rlssm.Fixed(rlssm.RescorlaWagner, alpha=0.5)  # type: ignore[call-overload]
