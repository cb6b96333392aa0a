"""The engine's extension points: stateful learning rules, mappings that read data fields
and rule state and set several parameters, one parameter resolver, ``rlssm.internal``.

Values are checked against sequences written out by hand; likelihoods against the
decision model's own ``logp`` fed those hand-computed parameters.
"""

from __future__ import annotations

import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from helpers import AssociabilityDrift, DifficultyMapping

import rlssm
from rlssm import DataError, PearceHall, internal

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


# Pearce-Hall (kappa 0.5, eta 0.3, alpha0 0.4, Q0 0.5), by hand:
# t0: opt 1, r 1: delta 0.5,   Q1 = 0.5 + .5*.4*.5 = 0.6,       A1 = .3*.5 + .7*.4 = 0.43
# t1: opt 1, r 0: delta -0.6,  Q1 = 0.6 - .5*.43*.6 = 0.471,    A1 = .3*.6 + .7*.43 = 0.481
# t2: opt 0, r 1: delta 0.5,   Q0 = 0.5 + .5*.4*.5 = 0.6,       A0 = 0.43
# t3: opt 1, r 1: delta 0.529, Q1 = 0.471 + .5*.481*.529 = 0.5982245, A1 = .3*.529 + .7*.481 = 0.4954
PH = {"rl_kappa": 0.5, "rl_eta": 0.3, "rl_alpha0": 0.4}
PH_VALUES = np.array([[0.5, 0.5], [0.5, 0.6], [0.5, 0.471], [0.6, 0.471], [0.6, 0.5982245]])
PH_ASSOC = np.array([[0.4, 0.4], [0.4, 0.43], [0.4, 0.481], [0.43, 0.481], [0.43, 0.4954]])


def test_pearce_hall_values_by_hand():
    model = rlssm.RLSSM(PearceHall(), DDM)
    out = model.values(five_trials(), PH | {"scaler": 2.0, "a": 1.0} | DECISION)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), PH_VALUES, atol=1e-12)
    # The rule's other state comes out as named columns.
    np.testing.assert_allclose(out[["associability_0", "associability_1"]].to_numpy(), PH_ASSOC, atol=1e-12)
    np.testing.assert_allclose(out["v"], 2.0 * (PH_VALUES[:, 1] - PH_VALUES[:, 0]), atol=1e-12)


def test_pearce_hall_missed_trial_and_block_reset():
    """A missed trial changes no state; a new block resets values and associabilities."""
    model = rlssm.RLSSM(PearceHall(), DDM)
    params = PH | {"scaler": 2.0, "a": 1.0} | DECISION
    data = five_trials()
    missed = pd.concat([data.iloc[:2], pd.DataFrame(
        {"participant_id": [0], "trial_id": [10], "response": [np.nan], "rt": [np.nan], "feedback": [np.nan]}
    ), data.iloc[2:].assign(trial_id=lambda d: d.trial_id + 20)], ignore_index=True)
    out = model.values(missed, params)
    keep = missed["rt"].notna().to_numpy()
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy()[keep], PH_VALUES, atol=1e-12)
    np.testing.assert_allclose(out[["associability_0", "associability_1"]].to_numpy()[keep], PH_ASSOC, atol=1e-12)
    assert model.loglik(missed, params)[~keep] == 0.0
    blocks = model.values(data.assign(block=[0, 0, 0, 1, 1]), params)
    np.testing.assert_allclose(blocks.iloc[3][["value_0", "value_1", "associability_0", "associability_1"]],
                               [0.5, 0.5, 0.4, 0.4], atol=1e-12)


def test_pearce_hall_per_state():
    """Each state keeps its own values and associabilities."""
    model = rlssm.RLSSM(PearceHall(), DDM)
    params = PH | {"scaler": 2.0, "a": 1.0} | DECISION
    a, b = five_trials(), five_trials()
    both = pd.concat([a.assign(state="A", trial_id=2 * a.trial_id), b.assign(state="B", trial_id=2 * b.trial_id + 1)])
    out = model.values(both, params)
    for s in ("A", "B"):
        rows = (both["state"] == s).to_numpy()
        np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy()[rows], PH_VALUES, atol=1e-12)
        np.testing.assert_allclose(out[["associability_0", "associability_1"]].to_numpy()[rows], PH_ASSOC, atol=1e-12)


def test_pearce_hall_without_associability_learning_is_rescorla_wagner(seed_data):
    """eta = 0 keeps every associability at alpha0: RW with rate kappa * alpha0."""
    ph = rlssm.RLSSM(PearceHall(), rlssm.Angle())
    rw = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Angle())
    rest = {"scaler": 3.0, "a": 1.2, "z": 0.4, "t": 0.1, "theta": 0.1}
    got = ph.loglik(seed_data, {"rl_kappa": 0.6, "rl_eta": 0.0, "rl_alpha0": 0.5} | rest)
    np.testing.assert_allclose(got, rw.loglik(seed_data, {"rl_alpha": 0.3} | rest), atol=1e-10)


def test_pearce_hall_gradients_and_grid_row_paths_agree(seed_data):
    """logp_fn (row path, per-row parameters) equals loglik (grid path) and is differentiable."""
    model = rlssm.RLSSM(PearceHall(), rlssm.Angle())
    rng = np.random.default_rng(1)
    n = len(seed_data)
    params = {"rl_kappa": 0.6, "rl_eta": rng.uniform(0.2, 0.4, n), "rl_alpha0": 0.5,
              "scaler": 3.0, "a": 1.2, "z": 0.4, "t": 0.1, "theta": rng.uniform(0.05, 0.15, n)}
    f = model.logp_fn(seed_data)
    with jax.enable_x64(True):  # logp_fn hands float64 back only with x64 on
        np.testing.assert_allclose(f(params), model.loglik(seed_data, params), atol=1e-10)
        grads = jax.grad(lambda p: f(p).sum())({k: jnp.asarray(v) for k, v in params.items()})
    for name, g in grads.items():
        assert np.all(np.isfinite(g)), name
    assert np.abs(np.asarray(grads["rl_eta"])).sum() > 0.0


def test_pearce_hall_is_fitted():
    """Simulated with PearceHall + DDM (closed loop), maximum likelihood recovers the truth."""
    from scipy.optimize import minimize

    model = rlssm.RLSSM(PearceHall(), DDM)
    truth = {"rl_kappa": 0.7, "rl_eta": 0.4, "rl_alpha0": 0.6, "scaler": 4.0, "a": 1.0, "z": 0.5, "t": 0.25}
    env = rlssm.BernoulliBandit(p=(0.25, 0.75), reversals=(100, 200, 300))
    data = model.simulate(truth, env, n_participants=10, n_trials=400, seed=3)
    f = model.logp_fn(data)
    names = tuple(truth)
    box = [(0.01, 0.99)] * 3 + [(0.1, 10.0), (0.3, 3.0), (0.1, 0.9), (0.01, float(data["rt"].min()) - 1e-3)]

    @jax.jit
    def objective(x):
        return -jnp.sum(f(dict(zip(names, x))))

    value_and_grad = jax.jit(jax.value_and_grad(objective))
    x0 = np.array([0.5, 0.5, 0.5, 2.0, 1.5, 0.5, 0.1])
    with jax.enable_x64(True):  # a float64 objective for L-BFGS
        fit = minimize(lambda x: tuple(np.asarray(v, dtype=float) for v in value_and_grad(jnp.asarray(x))),
                       x0, jac=True, method="L-BFGS-B", bounds=box)
        at_truth = float(objective(jnp.asarray([truth[n] for n in names])))
    est = dict(zip(names, fit.x))
    assert fit.fun <= at_truth + 1e-6
    for name in ("a", "z", "t"):
        assert est[name] == pytest.approx(truth[name], rel=0.1), (name, est)
    # The learning parameters trade off; their effect on the values is what must be right.
    point = lambda p: {**p, "scaler": 1.0}  # noqa: E731
    v_true = model.values(data, point(truth))["v"].to_numpy()
    v_est = model.values(data, point(est))["v"].to_numpy() * est["scaler"] / truth["scaler"]
    assert np.corrcoef(v_true, v_est)[0, 1] > 0.9


def test_pearce_hall_in_docs_is_short_and_the_same():
    """The custom-rule page's Pearce-Hall rule fits in 25 lines and computes the same values."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "custom-learning-rule.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    (code,) = [b for b in blocks if b.lstrip().startswith("class PearceHall")]
    assert len(code.strip().splitlines()) <= 25
    namespace: dict = {"rlssm": rlssm, "eqx": eqx, "jnp": jnp}
    exec(compile("from jaxtyping import Array, Float\n" + code, "docs", "exec"), namespace)
    model = rlssm.RLSSM(namespace["PearceHall"](), DDM)
    out = model.values(five_trials(), PH | {"scaler": 2.0, "a": 1.0} | DECISION)
    np.testing.assert_allclose(out[["value_0", "value_1"]].to_numpy(), PH_VALUES, atol=1e-12)


# ---------------------------------------------------------------------- mappings
def test_mapping_reads_a_field_and_sets_two_parameters():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=DifficultyMapping())
    assert model.param_names == ("rl_alpha", "scaler", "a_base", "a_slope", "z", "t")
    assert model.extra_fields == ("participant_id", "trial_id", "feedback", "difficulty")
    difficulty = np.array([0.0, 1.0, -1.0, 0.5, 2.0])
    data = five_trials(difficulty=difficulty)
    params = {"rl_alpha": 0.5, "scaler": 3.0, "a_base": 1.0, "a_slope": 0.2} | DECISION
    # RW (alpha 0.5) by hand, values before each trial:
    q = np.array([[0.5, 0.5], [0.5, 0.75], [0.5, 0.375], [0.75, 0.375], [0.75, 0.6875]])
    v, a = 3.0 * (q[:, 1] - q[:, 0]), 1.0 + 0.2 * difficulty
    choice = np.where(data["response"] == 1, 1, -1)
    with jax.enable_x64(True):
        expected = np.asarray(DDM.logp(data["rt"].to_numpy(), choice, v=v, a=a, z=0.5, t=0.2))
    np.testing.assert_allclose(model.loglik(data, params), expected, rtol=1e-10)
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.logp_fn(data)(params), expected, rtol=1e-10)
    out = model.values(data, params)
    np.testing.assert_allclose(out["a"], a, atol=1e-12)
    with pytest.raises(DataError, match="difficulty"):
        model.loglik(five_trials(), params)
    # The conditional simulator replays the field; the closed loop cannot produce it.
    sim = rlssm.simulation.simulate_conditional(model, data, params, seed=0)
    assert sim["rt"].notna().all()
    with pytest.raises(ValueError, match="difficulty"):
        model.simulate(params, rlssm.BernoulliBandit(p=(0.3, 0.7)), 2, 10)


def test_mapping_reads_rule_state():
    model = rlssm.RLSSM(PearceHall(), DDM, mapping=AssociabilityDrift())
    params = PH | {"scaler": 2.0, "gain": 0.5, "a": 1.0} | DECISION
    v = 2.0 * (PH_VALUES[:, 1] - PH_VALUES[:, 0]) * (1.0 + 0.5 * PH_ASSOC.sum(axis=1))
    np.testing.assert_allclose(model.values(five_trials(), params)["v"], v, atol=1e-12)
    data = five_trials()
    choice = np.where(data["response"] == 1, 1, -1)
    with jax.enable_x64(True):
        expected = np.asarray(DDM.logp(data["rt"].to_numpy(), choice, v=v, a=1.0, z=0.5, t=0.2))
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.logp_fn(data)(params), expected, rtol=1e-10)


def test_mapping_needing_state_the_rule_lacks_names_both():
    with pytest.raises(ValueError, match=r"AssociabilityDrift.*associability.*RescorlaWagner"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=AssociabilityDrift())


# ---------------------------------------------------------------------- extension checks
class ScalarRule(rlssm.AbstractLearningRule):
    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0)}
    fields = ("feedback",)

    def update(self, values, option, feedback, alpha):
        return alpha * feedback  # a scalar, not one value per option


class WrongKey(rlssm.AbstractMapping):
    params = {"scaler": (0.0, 10.0)}
    outputs = ("v",)

    def __call__(self, values, scaler):
        return {"drift": scaler * (values[1] - values[0])}


def test_components_are_checked_at_construction():
    with pytest.raises(TypeError, match=r"ScalarRule.update must return a state of the structure and shapes"):
        rlssm.RLSSM(ScalarRule(), DDM)
    with pytest.raises(TypeError, match=r"WrongKey must return a dict with exactly its outputs \('v',\); got \['drift'\]"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), DDM, mapping=WrongKey())
    # (Under the test suite's jaxtyping hook the annotation check answers first; either
    # message names the argument and the class.)
    with pytest.raises(TypeError, match=r"(?s)learning_rule.*RescorlaWagner"):
        rlssm.RLSSM(rlssm.RescorlaWagner, DDM)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"(?s)decision_model.*DDM"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"(?s)mapping.*DriftScaling"):
        internal.Composition(rlssm.RescorlaWagner(), rlssm.DriftScaling, DDM, 2)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- one resolver
def test_logp_fn_honours_series_labels():
    """A Series is matched by participant label on every path (it was positional in logp_fn)."""
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), DDM)
    data = pd.concat([five_trials().assign(participant_id=p) for p in (0, 1, 2)], ignore_index=True)
    params = {"rl_alpha": 0.4, "scaler": 2.0, "a": pd.Series([0.9, 0.5, 1.5], index=[2, 0, 1])} | DECISION
    in_order = params | {"a": np.array([0.5, 1.5, 0.9])}
    with jax.enable_x64(True):
        np.testing.assert_allclose(model.logp_fn(data)(params), model.loglik(data, params), rtol=1e-12)
        np.testing.assert_allclose(model.logp_fn(data)(params), model.loglik(data, in_order), rtol=1e-12)


def test_resolver_rules():
    labels = ("a", "b", "c")
    r = internal.resolve({"x": 1.0, "y": np.ones(3), "z": np.arange(5.0)}, ("x", "y", "z"), labels, 5)
    assert (r["x"].unit, r["y"].unit, r["z"].unit) == ("scalar", "participant", "row")
    with pytest.raises(DataError, match=r"params\['y'\] has length 3, which is both"):
        internal.resolve({"y": np.ones(3)}, ("y",), labels, 3)
    with pytest.raises(DataError, match=r"params\['y'\] has one value per row of data"):
        internal.resolve({"y": np.ones(5)}, ("y",), labels, 5, per_row=False)
    d = internal.resolve({"x": np.ones(4), "y": np.ones((4, 3)), "w": 2.0}, ("x", "y", "w"), labels, 5, draws=True)
    assert {k: (v.unit, v.value.shape) for k, v in d.items()} == {
        "x": ("scalar", (4, 1)), "y": ("participant", (4, 3)), "w": ("scalar", (1, 1))}
    with pytest.raises(DataError, match="draws but other parameters have"):
        internal.resolve({"x": np.ones(4), "y": np.ones((2, 3))}, ("x", "y"), labels, 5, draws=True)


def test_internal_scan_matches_values():
    """The engine through rlssm.internal: the scan gives the values RLSSM.values reports."""
    model = rlssm.RLSSM(PearceHall(), DDM)
    data = five_trials()
    layout = model.prepare(data)
    comp = model.composition
    with jax.enable_x64(True):
        trials = internal.Trials.from_layout(layout, comp.data_fields, np.dtype("float64"))
        rl = {k[len(internal.RL_PREFIX):]: jnp.full(trials.shape, v) for k, v in PH.items()}
        states = internal.scan_states(comp, trials.grid, rl, layout.n_states)
        np.testing.assert_allclose(layout.to_rows(np.asarray(states.values)), PH_VALUES, atol=1e-12)
