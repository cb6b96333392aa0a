"""Every shipped learning rule and mapping works on every path: the closed-loop and
conditional simulators, generative draws, missed trials, blocks and states, the
hierarchical PyMC fit and ``to_hssm``.

The rules' values are checked by hand in their own test modules; here each is taken
through the machinery with small data, and each path must give finite numbers of the
right shape (or, where a path cannot serve a rule, a clear error).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.simulation import simulate_conditional, simulate_draws

DDM_BOUNDS = {"a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}
DECISION = {"scaler": 3.0, "a": 1.0, "z": 0.5, "t": 0.2}
BANDIT = rlssm.BernoulliBandit(p=(0.3, 0.7), reversals=(15,))


def combos() -> list[tuple[str, object, object, dict, object]]:
    """(id, rule, mapping, parameters, environment or None for conditional-only rules)."""
    out = [
        ("RescorlaWagner", rlssm.RescorlaWagner(), None, {"rl_alpha": 0.3} | DECISION, BANDIT),
        ("DualRateRW", rlssm.DualRateRW(), None, {"rl_alpha": 0.3, "rl_alpha_neg": 0.2} | DECISION, BANDIT),
        ("PearceHall", rlssm.PearceHall(), None,
         {"rl_kappa": 0.5, "rl_eta": 0.3, "rl_alpha0": 0.5} | DECISION, BANDIT),
        ("ForgettingRW", rlssm.ForgettingRW(), None, {"rl_alpha": 0.3, "rl_forget": 0.1} | DECISION, BANDIT),
        ("CounterfactualRW", rlssm.CounterfactualRW(), None, {"rl_alpha": 0.3, "rl_alpha_cf": 0.2} | DECISION,
         rlssm.BernoulliBandit(p=(0.3, 0.7), reversals=(15,), complete_feedback=True)),
        ("ChoiceKernel+KernelDrift", rlssm.ChoiceKernel(), rlssm.KernelDrift(),
         {"rl_alpha": 0.3, "rl_alpha_ck": 0.2, "beta_ck": 0.5} | DECISION, BANDIT),
        ("KalmanFilter+UncertaintyDrift", rlssm.KalmanFilter(), rlssm.UncertaintyDrift(),
         {"rl_decay": 0.9, "rl_decay_center": 0.5, "rl_sigma0": 0.5, "rl_sigma_d": 0.1, "phi": 0.5} | DECISION,
         rlssm.GaussianBandit(means=(0.3, 0.7), sd=0.2)),
        ("RW+SigmoidDrift", rlssm.RescorlaWagner(), rlssm.SigmoidDrift(),
         {"rl_alpha": 0.3, "v_mod": 5.0, "v_max": 2.0} | {k: v for k, v in DECISION.items() if k != "scaler"},
         BANDIT),
        ("RW+ValueModulatedThreshold", rlssm.RescorlaWagner(), rlssm.ValueModulatedThreshold(),
         {"rl_alpha": 0.3, "scaler": 3.0, "a_base": 1.0, "a_mod": 0.3, "z": 0.5, "t": 0.2}, BANDIT),
        ("RLWM", rlssm.RLWM(), None,
         {"rl_alpha": 0.2, "rl_phi": 0.2, "rl_rho": 0.8, "rl_capacity": 3.0, "rl_gamma": 0.6,
          "rl_epsilon": 0.05} | DECISION, None),
    ]
    return out


COMBOS = combos()


def model_of(rule, mapping) -> rlssm.RLSSM:
    names = rlssm.RLSSM(rule, rlssm.DDM(), mapping=mapping).param_names
    bounds = {k: v for k, v in DDM_BOUNDS.items() if k in names}  # a mapping may compute `a`
    return rlssm.RLSSM(rule, rlssm.DDM(), mapping=mapping, bounds=bounds, precision="float64")


def task_data(model: rlssm.RLSSM, params: dict, env) -> pd.DataFrame:
    """Three participants x 30 trials; then a missed trial, two blocks and two states."""
    if env is not None:
        data = model.simulate(params, env, n_participants=3, n_trials=30, seed=1)
    else:  # a learning task with stimuli: conditional simulation along a fixed history
        rng = np.random.default_rng(1)
        n = 90
        data = pd.DataFrame({
            "participant_id": np.repeat([0, 1, 2], 30), "trial_id": np.tile(np.arange(30), 3),
            "response": rng.integers(0, 2, n).astype(float), "rt": rng.uniform(0.4, 1.2, n),
            "feedback": rng.integers(0, 2, n).astype(float),
        })
    data = data.drop(columns=[c for c in ("correct",) if c in data.columns])
    data["block"] = (data["trial_id"] >= 15).astype(int)
    data["state"] = np.where(data["trial_id"] % 3 == 0, "x", "y")
    data["set_size"] = 2.0
    data.loc[data.index[4], ["rt", "response"]] = np.nan
    if "feedback_unchosen" in data.columns:
        data["feedback_unchosen"] = data["feedback_unchosen"].fillna(0.0)
    else:
        data["feedback_unchosen"] = 1.0 - data["feedback"].fillna(0.0)
    return data


@pytest.mark.parametrize("name, rule, mapping, params, env", COMBOS, ids=[c[0] for c in COMBOS])
def test_every_path(name, rule, mapping, params, env):
    model = model_of(rule, mapping)
    assert set(params) == set(model.param_names), name
    data = task_data(model, params, env)
    missed = data["rt"].isna().to_numpy()

    # Likelihood with a missed trial, blocks and states.
    ll = model.loglik(data, params)
    assert np.isfinite(ll).all() and (ll[missed] == 0.0).all() and (ll[~missed] < 0).any()
    values = model.values(data, params)
    assert len(values) == len(data) and np.isfinite(values.to_numpy(dtype=float)).all()

    # Conditional (one step ahead) simulation and generative draws.
    cond = simulate_conditional(model, data, params, seed=2)
    assert cond["rt"].isna().to_numpy()[missed].all() and cond["rt"][~missed].notna().mean() > 0.9
    if env is None:
        with pytest.raises(ValueError, match="closed-loop"):
            model.simulate(params, BANDIT, 2, 5)
    else:
        draws = {k: np.full(2, v) for k, v in params.items()}
        sim = simulate_draws(model, draws, env, n_participants=2, n_trials=10, seed=3)
        assert set(sim["draw"]) == {0, 1} and sim["rt"].notna().mean() > 0.9

    # The hierarchical PyMC model and HSSM's: finite log-density at their starts.
    fit = rlssm.fitting.Hierarchical(model, data)
    assert np.isfinite(fit.pymc_model.compile_logp(mode="JAX")(fit.pymc_model.initial_point())), name
    hm = model.to_hssm(data.drop(columns=[c for c in data.columns if c not in (
        "participant_id", "trial_id", "response", "rt", "block", "state", *model.composition.data_fields)]))
    assert hm.list_params == list(model.param_names)
    assert np.isfinite(hm.pymc_model.compile_logp(mode="JAX")(hm.pymc_model.initial_point()))
