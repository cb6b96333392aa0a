"""More than two options and choice-only models through every path: data validation,
likelihood, values, both simulators, predictive draws, plots, the hierarchical PyMC
model, ``to_hssm``, `rlssm.Fixed` and the command line.

The decision models' likelihoods are checked against independent references in their
own modules (``test_softmax.py``, ``test_race.py``, ``test_advantage.py``); here each
is taken through the machinery with small data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import cli
from rlssm.plots import plot_choice_proportions, plot_learning_curves, plot_rt_quantiles_by_option
from rlssm.simulation import simulate_conditional, simulate_draws

CHOICES = (0, 1, 2)
BANDIT3 = rlssm.GaussianBandit(means=(0.2, 0.5, 0.8), sd=0.1)


def softmax_model() -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Softmax(n_options=3), rlssm.Values(), choices=CHOICES)


def rdm_model() -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.RDM(n_options=3), rlssm.RaceScaling(), choices=CHOICES)


SOFTMAX_PARAMS = {"rl_alpha": 0.3, "beta": 6.0}
RDM_PARAMS = {"rl_alpha": 0.3, "scaler": 3.0, "A": 0.4, "B": 0.8, "t": 0.25}


def hand_softmax_loglik(data: pd.DataFrame, alpha: float, beta: float) -> np.ndarray:
    """Rescorla-Wagner from 0.5 and a softmax, one participant after another, by loop."""
    out = np.zeros(len(data))
    for _, one in data.groupby("participant_id"):
        q = np.full(3, 0.5)
        for i in one.sort_values("trial_id").index:
            r = data.loc[i, "response"]
            if np.isnan(r):
                continue
            p = np.exp(beta * q) / np.exp(beta * q).sum()
            out[data.index.get_loc(i)] = np.log(p[int(r)])
            q[int(r)] += alpha * (data.loc[i, "feedback"] - q[int(r)])
    return out


# ---------------------------------------------------------------------- data
def test_choice_only_data_need_no_rt_and_nan_rt_is_not_missed():
    model = softmax_model()
    data = model.simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=3, n_trials=40, seed=0)
    assert data["rt"].isna().all() and set(data["response"].unique()) <= set(CHOICES)
    no_rt = data.drop(columns=["rt", "correct"])
    ll = model.loglik(no_rt, SOFTMAX_PARAMS)
    np.testing.assert_allclose(ll, hand_softmax_loglik(no_rt, 0.3, 6.0), rtol=1e-10, atol=1e-12)
    # NaN rt (as simulated) is the same data: no trial is missed.
    np.testing.assert_array_equal(model.loglik(data, SOFTMAX_PARAMS), ll)
    # A missed trial is a NaN response: 0.0, and it teaches nothing.
    missed = no_rt.copy()
    missed.loc[5, ["response", "feedback"]] = np.nan
    ll_missed = model.loglik(missed, SOFTMAX_PARAMS)
    assert ll_missed[5] == 0.0
    np.testing.assert_allclose(ll_missed, hand_softmax_loglik(missed, 0.3, 6.0), rtol=1e-10, atol=1e-12)


def test_choice_only_data_rt_given_must_be_positive():
    model = softmax_model()
    data = model.simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=2, n_trials=10, seed=0)
    data["rt"] = 0.5
    data.loc[3, "rt"] = -1.0
    with pytest.raises(rlssm.DataError, match="rt.*positive"):
        model.loglik(data, SOFTMAX_PARAMS)


def test_rt_model_still_needs_rt():
    data = softmax_model().simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=2, n_trials=10, seed=0)
    with pytest.raises(rlssm.DataError, match="rt"):
        rdm_model().loglik(data.drop(columns=["rt"]), RDM_PARAMS)


def test_response_outside_choices_names_the_value():
    data = softmax_model().simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=2, n_trials=10, seed=0)
    data.loc[2, "response"] = 3.0
    with pytest.raises(rlssm.DataError, match="response"):
        softmax_model().loglik(data, SOFTMAX_PARAMS)


# ---------------------------------------------------------------------- every path
@pytest.mark.parametrize("which", ["softmax", "rdm"])
def test_three_options_every_path(which: str):
    model, params = (softmax_model(), SOFTMAX_PARAMS) if which == "softmax" else (rdm_model(), RDM_PARAMS)
    data = model.simulate(params, BANDIT3, n_participants=3, n_trials=30, seed=1)
    assert set(data["response"].dropna().unique()) == set(CHOICES)
    # The better arm is learned: chosen more often in the second half.
    late = data[data["trial_id"] >= 15]
    assert (late["response"] == 2).mean() > 0.4
    data = data.drop(columns=["correct"])
    data.loc[4, ["response", "rt", "feedback"]] = np.nan
    ll = model.loglik(data, params)
    assert np.isfinite(ll).all() and ll[4] == 0.0 and (ll != 0).sum() == len(data) - 1
    values = model.values(data, params)
    assert {"value_0", "value_1", "value_2", "v0", "v1", "v2"} <= set(values.columns)
    if which == "softmax":
        np.testing.assert_array_equal(values["v2"], values["value_2"])
    else:
        np.testing.assert_allclose(values["v2"], 3.0 * values["value_2"])

    cond = simulate_conditional(model, data, params, seed=2)
    assert np.isnan(cond.loc[4, "response"]) and cond["response"].drop(index=4).notna().all()
    draws = {k: np.full(2, v) for k, v in params.items()}
    sim = simulate_draws(model, draws, BANDIT3, n_participants=2, n_trials=10, seed=3)
    assert set(sim["draw"]) == {0, 1} and sim["response"].notna().all()
    assert sim["rt"].isna().all() if which == "softmax" else (sim["rt"] > 0.25).all()

    fit = rlssm.fitting.Hierarchical(model, data)
    assert np.isfinite(fit.pymc_model.compile_logp(mode="JAX")(fit.pymc_model.initial_point()))
    hm = model.to_hssm(data)
    assert hm.list_params == list(model.param_names)
    assert np.isfinite(hm.pymc_model.compile_logp(mode="JAX")(hm.pymc_model.initial_point()))


def test_to_hssm_choice_only_data_without_rt():
    model = softmax_model()
    data = model.simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=2, n_trials=20, seed=4).drop(columns=["rt"])
    hm = model.to_hssm(data)
    assert (hm.data["rt"] == rlssm.hssm_bridge.CHOICE_ONLY_RT).all()
    assert np.isfinite(hm.pymc_model.compile_logp(mode="JAX")(hm.pymc_model.initial_point()))


# ---------------------------------------------------------------------- plots
def test_plots_for_three_options_and_choice_only_data():
    model = softmax_model()
    data = model.simulate(SOFTMAX_PARAMS, BANDIT3, n_participants=3, n_trials=40, seed=5)
    draws = {k: np.full(3, v) for k, v in SOFTMAX_PARAMS.items()}
    ppc = simulate_draws(model, draws, BANDIT3, n_participants=3, n_trials=40, seed=6)
    fig = plot_choice_proportions(data, ppc, choices=CHOICES, n_bins=4)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("response")]
    assert [ln.get_label() for ln in lines] == ["response 0", "response 1", "response 2"]
    # The observed proportions of each bin add up to one.
    np.testing.assert_allclose(sum(np.asarray(ln.get_ydata()) for ln in lines), 1.0)
    assert len(plot_learning_curves(data, ppc, choices=CHOICES).axes) == 1  # no rt panel
    with pytest.raises(ValueError, match="no response times"):
        plot_rt_quantiles_by_option(data, ppc, choices=CHOICES)
    rdm = rdm_model()
    data = rdm.simulate(RDM_PARAMS, BANDIT3, n_participants=3, n_trials=40, seed=5)
    fig = plot_rt_quantiles_by_option(data, None, choices=CHOICES, n_bins=2)
    assert [ax.get_title() for ax in fig.axes] == ["response 0", "response 1", "response 2"]


# ---------------------------------------------------------------------- Fixed
def test_fixed_holds_parameters_as_settings():
    lba = rlssm.LBA(n_options=3)
    held = rlssm.Fixed(lba, s=1.0)
    assert held.param_names == tuple(n for n in lba.param_names if n != "s")
    assert held.choices == lba.choices and held.n_options == 3
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), held, rlssm.RaceScaling(), choices=CHOICES)
    free = rlssm.RLSSM(rlssm.RescorlaWagner(), lba, rlssm.RaceScaling(), choices=CHOICES)
    params = {"rl_alpha": 0.3, "scaler": 2.0, "A": 0.5, "B": 0.5, "t": 0.2}
    data = free.simulate(params | {"s": 1.0}, BANDIT3, n_participants=2, n_trials=20, seed=7)
    data = data[np.isfinite(data["rt"]) | data["rt"].isna()]
    np.testing.assert_array_equal(model.loglik(data, params), free.loglik(data, params | {"s": 1.0}))
    assert "s" not in model.param_names
    unbiased = rlssm.Fixed(rlssm.DDM(), z=0.5)
    assert unbiased.param_names == ("v", "a", "t")


def test_fixed_refuses_unknown_names_and_values_outside_the_domain():
    with pytest.raises(ValueError, match="'q' is not a parameter of DDM"):
        rlssm.Fixed(rlssm.DDM(), q=1.0)
    with pytest.raises(ValueError, match="z = 1.5.*domain"):
        rlssm.Fixed(rlssm.DDM(), z=1.5)
    with pytest.raises(ValueError, match="finite"):
        rlssm.Fixed(rlssm.DDM(), z=float("nan"))
    with pytest.raises(TypeError, match="instance|Type-check error"):
        rlssm.Fixed(rlssm.DDM, z=0.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- command line
def test_cli_simulate_and_check_three_options(tmp_path: Path, capsys):
    out = tmp_path / "softmax.csv"
    assert cli.main(["simulate", "--rule", "rw", "--decision", "softmax", "--choices", "0,1,2",
                     "--participants", "2", "--trials", "15", "--out", str(out)]) == 0
    data = pd.read_csv(out)
    assert data["rt"].isna().all() and set(data["response"]) <= {0, 1, 2}
    assert cli.main(["check", str(out), "--rule", "rw", "--decision", "softmax", "--choices", "0,1,2"]) == 0
    assert "not used (choice-only model)" in capsys.readouterr().out
    out = tmp_path / "rdm.csv"
    assert cli.main(["simulate", "--rule", "rw", "--decision", "rdm", "--choices", "0,1,2",
                     "--participants", "2", "--trials", "15", "--out", str(out)]) == 0
    assert (pd.read_csv(out)["rt"] > 0).all()
    assert cli.main(["simulate", "--decision", "angle", "--choices", "0,1,2", "--out", str(out)]) == 2
    assert "two options" in capsys.readouterr().err
