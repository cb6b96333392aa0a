"""The HSSM bridge: the PyTensor Ops, the ModelConfig, and HSSM models built by to_hssm."""

from __future__ import annotations

import time
import warnings

import hssm
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
import xarray as xr
from pytensor.compile.mode import Mode

import rlssm
from rlssm.hssm_bridge import (
    hierarchical_include,
    hssm_data,
    make_logp_op,
    make_model_config,
    missed_rt_placeholder,
    to_hssm,
)
from rlssm.model import RLSSM

SEED_POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.6, scaler=3.2, a=1.2, z=0.1, t=0.1, theta=0.1)
INTERIOR = dict(rl_alpha=0.6, rl_alpha_neg=0.4, scaler=3.2, a=1.2, z=0.3, t=0.3, theta=0.2)

SEED_PRIORS = {
    "rl_alpha": dict(mu=0.3, sigma=0.5, lower=0.01, upper=1.0),
    "rl_alpha_neg": dict(mu=0.3, sigma=0.5, lower=0.01, upper=1.0),
    "scaler": dict(mu=1.5, sigma=1.5, lower=0.1, upper=5.0),
    "a": dict(mu=1.0, sigma=0.5, lower=0.3, upper=2.5),
    "z": dict(mu=0.2, sigma=0.2, lower=0.1, upper=0.9),
    "t": dict(mu=0.2, sigma=0.3, lower=0.01, upper=1.0, initval=0.1),
    "theta": dict(mu=0.3, sigma=0.3, lower=0.0, upper=1.2),
}
"""The seed tutorial's intercept priors: truncated normals with these ``mu`` / ``lower`` /
``upper`` (the seed's ``rl.alpha`` is ``rl_alpha``; ``rl_alpha_neg`` takes ``rl_alpha``'s
prior), ``t`` starting at 0.1. The ``sigma`` values are ours (moderately wide)."""

# The seed priors let v pass the LAN's training box on ~1% of prior draws: to_hssm rightly
# warns (tested in test_lan_range.py); here the warning is beside the point.
pytestmark = pytest.mark.filterwarnings("ignore::rlssm.LANRangeWarning")

PY_MODE = Mode(linker="py", optimizer="fast_run")
"""Compile with Python ``perform`` calls (no numba object-mode fallback, no JAX linker)."""


def _prior(name: str) -> hssm.Prior:
    return hssm.Prior("TruncatedNormal", **SEED_PRIORS[name])


def _flat_include() -> list[hssm.Param]:
    return [hssm.Param(name, prior=_prior(name)) for name in SEED_PRIORS]


def _seed_hierarchical_include() -> list[hssm.Param]:
    return [
        hssm.Param(
            name,
            formula=f"{name} ~ 1 + (1|participant_id)",
            prior={"Intercept": _prior(name)},
        )
        for name in SEED_PRIORS
    ]


@pytest.fixture(scope="module")
def lan(angle_onnx):
    return rlssm.AngleLAN(angle_onnx)


@pytest.fixture(scope="module")
def model(lan):
    return RLSSM(rlssm.DualRateRW(), lan, precision="float64")


def _per_row(data: pd.DataFrame, point: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-row parameter vectors around ``point`` (different on every row)."""
    rng = np.random.default_rng(seed)
    return {k: v * (1.0 + 0.05 * rng.uniform(-1, 1, len(data))) for k, v in point.items()}


def _op_inputs(model: RLSSM, data: pd.DataFrame):
    matrix = data[["rt", "response"]].to_numpy(dtype=float)
    extras = [data[f].to_numpy() for f in model.extra_fields_for(data)]
    params = [pt.dvector(name) for name in model.param_names]
    return matrix, extras, params


# ---------------------------------------------------------------------- the Ops
def test_op_forward_equals_loglik(model, seed_data):
    op = model.logp_op(seed_data)
    matrix, extras, params = _op_inputs(model, seed_data)
    out = op(matrix, *params, *extras)
    assert out.dtype == pytensor.config.floatX
    f = pytensor.function(params, out, mode=PY_MODE)
    rows = _per_row(seed_data, INTERIOR)
    got = f(*(rows[n] for n in model.param_names))
    np.testing.assert_allclose(got, model.loglik(seed_data, rows), rtol=1e-10, atol=1e-10)
    # Scalars (size-1 inputs) as HSSM passes for parameters without a regression.
    scalars = [pt.dvector(n, shape=(1,)) for n in model.param_names]
    g = pytensor.function(scalars, op(matrix, *scalars, *extras), mode=PY_MODE)
    total = g(*(np.array([SEED_POINT[n]]) for n in model.param_names)).sum()
    assert total == pytest.approx(-6618.5671, abs=1e-3)


def test_op_vjp_equals_jax_grad(model, seed_data):
    op = model.logp_op(seed_data)
    matrix, extras, params = _op_inputs(model, seed_data)
    weights = np.random.default_rng(1).uniform(0.5, 1.5, len(seed_data))
    objective = (op(matrix, *params, *extras) * weights).sum()
    grads = pytensor.grad(objective, params)
    f = pytensor.function(params, grads, mode=PY_MODE)
    rows = _per_row(seed_data, INTERIOR)
    got = f(*(rows[n] for n in model.param_names))

    logp = model.logp_fn(seed_data)
    with jax.enable_x64(True):
        ref = jax.grad(lambda p: (logp(p) * jnp.asarray(weights)).sum())(
            {k: jnp.asarray(v) for k, v in rows.items()}
        )
    for name, g in zip(model.param_names, got, strict=True):
        assert g.shape == (len(seed_data),)
        np.testing.assert_allclose(g, np.asarray(ref[name]), rtol=1e-8, atol=1e-8, err_msg=name)


def test_unbound_op_derives_layout_from_inputs(model, seed_data):
    shuffled = seed_data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    op = model.logp_op()
    assert not op.is_bound
    matrix, extras, params = _op_inputs(model, shuffled)
    f = pytensor.function(params, op(matrix, *params, *extras), mode=PY_MODE)
    rows = _per_row(shuffled, INTERIOR)
    np.testing.assert_allclose(
        f(*(rows[n] for n in model.param_names)), model.loglik(shuffled, rows), rtol=1e-10
    )
    # String participant labels become integer codes inside the Op.
    labelled = shuffled.assign(participant_id="p" + shuffled["participant_id"].astype(str))
    _, extras_l, _ = _op_inputs(model, labelled)
    g = pytensor.function(params, op(matrix, *params, *extras_l), mode=PY_MODE)
    np.testing.assert_allclose(
        g(*(rows[n] for n in model.param_names)), model.loglik(shuffled, rows), rtol=1e-10
    )


def test_jax_linker_equals_perform(model, seed_data):
    matrix, extras, params = _op_inputs(model, seed_data)
    rows = _per_row(seed_data, INTERIOR, seed=2)
    values = [rows[n] for n in model.param_names]
    for op in (model.logp_op(seed_data), model.logp_op()):
        out = op(matrix, *params, *extras)
        outputs = [out, *pytensor.grad(out.sum(), params)]
        via_perform = pytensor.function(params, outputs, mode=PY_MODE)(*values)
        via_jax = pytensor.function(params, outputs, mode="JAX")(*values)
        for a, b in zip(via_perform, via_jax, strict=True):
            np.testing.assert_allclose(np.asarray(b), a, rtol=1e-10, atol=1e-10)


def test_bound_op_refuses_other_data(model, seed_data):
    op = model.logp_op(seed_data)
    shuffled = seed_data.sample(frac=1.0, random_state=0)
    matrix, extras, params = _op_inputs(model, shuffled)
    f = pytensor.function(params, op(matrix, *params, *extras), mode=PY_MODE)
    with pytest.raises(ValueError, match="bound to its data"):
        f(*(np.full(len(seed_data), SEED_POINT[n]) for n in model.param_names))
    with pytest.raises(ValueError, match="takes 7 parameters"):
        op(matrix, *params[:-1], *extras)


def test_op_validates_data_eagerly(model, seed_data):
    bad = seed_data.assign(response=seed_data["response"].replace({1.0: 2.0}))
    with pytest.raises(rlssm.DataError, match="response"):
        make_logp_op(model, bad)


# ---------------------------------------------------------------------- ModelConfig
def test_model_config_fields(model, seed_data):
    cfg = make_model_config(model, seed_data.assign(block=0))
    assert isinstance(cfg, hssm.ModelConfig)
    assert tuple(cfg.response) == ("rt", "response")
    assert cfg.list_params == list(model.param_names)
    assert tuple(cfg.choices) == model.choices
    assert cfg.bounds == model.bounds
    assert cfg.extra_fields == ["participant_id", "trial_id", "feedback", "block"]
    assert cfg.backend == "jax"
    assert cfg.rv is not None and cfg.rv.signature == ",".join(["()"] * 7) + "->(2)"
    assert model.model_config().extra_fields == ["participant_id", "trial_id", "feedback"]


def test_hierarchical_include(model):
    include = hierarchical_include(model, priors={"t": {"name": "Uniform", "lower": 0.01, "upper": 1.0}})
    assert [p.name for p in include] == list(model.param_names)
    for p in include:
        assert p.formula == f"{p.name} ~ 1 + (1|participant_id)"
    by_name = {p.name: p for p in include}
    assert by_name["t"].prior["Intercept"].name == "Uniform"
    a_prior = by_name["a"].prior["Intercept"]
    assert a_prior.name == "TruncatedNormal"
    assert (a_prior.args["lower"], a_prior.args["upper"]) == model.bounds["a"]
    with pytest.raises(ValueError, match="not parameters"):
        hierarchical_include(model, priors={"alpha": hssm.Prior("Uniform", lower=0, upper=1)})


# ---------------------------------------------------------------------- to_hssm
def test_to_hssm_hierarchical_seed_model(model, seed_data):
    hm = model.to_hssm(seed_data, include=_seed_hierarchical_include())
    assert isinstance(hm, hssm.HSSM)
    assert hm.list_params == list(model.param_names)  # no p_outlier by default
    assert float(hm._initvals["t_Intercept"]) == pytest.approx(0.1)
    logp = hm.pymc_model.compile_logp(mode="JAX")
    assert np.isfinite(logp(hm.pymc_model.initial_point()))


def _posterior(draws: dict[str, np.ndarray]) -> xr.DataTree:
    """A one-chain posterior group holding the given draws."""
    ds = xr.Dataset({k: (("chain", "draw"), np.asarray(v)[None, :]) for k, v in draws.items()})
    ds = ds.assign_coords(chain=[0], draw=np.arange(ds.sizes["draw"]))
    return xr.DataTree.from_dict({"posterior": ds})


def test_log_likelihood_aligns_with_rows_as_given(model, seed_data):
    data = seed_data.sample(frac=1.0, random_state=7)  # shuffled rows, shuffled index labels
    data["x"] = np.random.default_rng(0).normal(size=len(data))
    include = _flat_include()
    include[3] = hssm.Param("a", formula="a ~ 1 + x", prior={"Intercept": _prior("a")})
    hm = to_hssm(model, data, include=include)
    draws = {k: np.array([v, v * 0.95]) for k, v in INTERIOR.items() if k != "a"}
    draws |= {"a_Intercept": np.array([1.2, 1.1]), "a_x": np.array([0.05, -0.03])}
    dt = hm.log_likelihood(_posterior(draws), inplace=False)
    ll = dt["log_likelihood"]["rt,response"].values[0]
    assert ll.shape == (2, len(data))
    for d in range(2):
        point = {k: v[d] for k, v in draws.items() if k in model.param_names}
        point["a"] = draws["a_Intercept"][d] + draws["a_x"][d] * data["x"].to_numpy()
        np.testing.assert_allclose(ll[d], model.loglik(data, point), rtol=1e-9, atol=1e-9)


def _with_missed(data: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    data = data.sample(frac=1.0, random_state=11).reset_index(drop=True)
    missed = np.zeros(len(data), bool)
    missed[np.random.default_rng(5).choice(len(data), 40, replace=False)] = True
    data.loc[missed, ["rt", "response"]] = np.nan
    data.loc[np.flatnonzero(missed)[:10], "feedback"] = np.nan
    return data, missed


def test_missed_trials(model, seed_data):
    data, missed = _with_missed(seed_data)
    passed = hssm_data(model, data)
    assert not passed[["rt", "response", "feedback"]].isna().any().any()
    assert (passed.loc[missed, "rt"] == missed_rt_placeholder(model)).all()
    assert missed_rt_placeholder(model) > model.bounds["t"][1]
    hm = to_hssm(model, data, include=_flat_include())
    # t = 0.55 lies above some observed rts (HSSM floors those at -66.1 and so does the
    # LAN) but far below the placeholder: missed rows stay exactly 0.
    point = dict(INTERIOR, t=0.55)
    dt = hm.log_likelihood(_posterior({k: np.array([v]) for k, v in point.items()}), inplace=False)
    ll = dt["log_likelihood"]["rt,response"].values[0, 0]
    assert np.all(ll[missed] == 0.0)
    np.testing.assert_allclose(ll, model.loglik(data, point), rtol=1e-9, atol=1e-9)
    assert np.isclose(ll[~missed], -66.1).any()
    with pytest.raises(ValueError, match="p_outlier with missed trials"):
        to_hssm(model, data, include=_flat_include(), p_outlier=0.05)


def test_data_errors_surface_before_hssm(model, seed_data):
    bad = seed_data.copy()
    bad.loc[5, "response"] = 2.0
    with pytest.raises(rlssm.DataError, match=r"column 'response', participant 0, row 5"):
        to_hssm(model, bad)
    with pytest.raises(rlssm.DataError, match="trial_id"):
        to_hssm(model, seed_data.rename(columns={"trial_id": "trial"}))


def test_include_must_name_model_parameters(model, seed_data):
    with pytest.raises(ValueError, match=r"'alpha'.*rl_alpha"):
        to_hssm(model, seed_data, include=[hssm.Param("alpha", prior=_prior("rl_alpha"))])
    with pytest.raises(TypeError, match="sets"):
        to_hssm(model, seed_data, loglik_kind="analytical")


# PyMC compiles forward sampling with PyTensor's numba backend, which runs RVs without a
# numba implementation (TruncatedNormal's, rlssm's simulator) in object mode, and says so.
@pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning")
def test_predictive_draws_align_with_rows(model, seed_data):
    data, missed = _with_missed(seed_data)
    hm = to_hssm(model, data, include=_flat_include())
    prior = hm.sample_prior_predictive(draws=2, random_seed=np.random.default_rng(0))
    sims = prior["prior_predictive"]["rt,response"].values
    assert sims.shape == (1, 2, len(data), 2)
    assert np.isnan(sims[..., missed, :]).all()
    answered = sims[..., ~missed, :]
    assert set(np.unique(answered[..., 1])) <= {0.0, 1.0}
    assert (answered[..., 0] > 0).all()

    post = _posterior({k: np.array([v, v]) for k, v in INTERIOR.items()})
    hm.sample_posterior_predictive(post, inplace=True)
    pp = post["posterior_predictive"]["rt,response"].values
    assert pp.shape == (1, 2, len(data), 2)
    assert np.isnan(pp[..., missed, :]).all()
    assert not np.isnan(pp[..., ~missed, :]).any()
    # With a lapse mixture the simulator takes p_outlier too.
    complete = seed_data.iloc[:400]
    hl = to_hssm(model, complete, include=_flat_include(), p_outlier=0.5)
    assert hl.list_params[-1] == "p_outlier"
    post = _posterior({k: np.array([v]) for k, v in (INTERIOR | {"p_outlier": 0.5}).items()})
    hl.sample_posterior_predictive(post, inplace=True)
    rts = post["posterior_predictive"]["rt,response"].values[..., 0]
    assert rts.shape == (1, 1, 400) and rts.max() > 4.0  # lapses: Uniform(0, 20) rts


# ---------------------------------------------------------------------- a short fit
def test_flat_fit_recovers_group_means(lan, seed_file, seed_data):
    """Flat model (one value per parameter) on the seed data: NUTS (numpyro) finds the
    generating group means. Float32 precision for speed."""
    model32 = RLSSM(rlssm.DualRateRW(), lan, precision="float32")
    hm = model32.to_hssm(seed_data, include=_flat_include())
    start = time.perf_counter()
    # numpyro's NUTS mixes int and float internally: standard promotion for the sampler.
    with jax.numpy_dtype_promotion("standard"):
        idata = hm.sample(
            sampler="numpyro", chains=1, tune=150, draws=150, random_seed=1, progressbar=False,
            idata_kwargs={"log_likelihood": True},
        )
    elapsed = time.perf_counter() - start
    truth = seed_file["params_true_group"]
    report = {}
    for name in model32.param_names:
        x = idata["posterior"][name].values.ravel()
        true = truth[("rl_alpha" if name == "rl_alpha_neg" else name) + "_mean"]
        lo, hi = np.quantile(x, [0.03, 0.97])
        report[name] = (true, x.mean(), x.std(), lo, hi)
        assert lo <= true <= hi or abs(x.mean() - true) <= 3 * x.std(), (name, report[name], elapsed)
    ll = idata["log_likelihood"]["rt,response"].values
    assert ll.shape == (1, 150, len(seed_data))


# ---------------------------------------------------------------------- extension
class DecayRW(rlssm.AbstractLearningRule):
    """Rescorla-Wagner whose values all decay toward their start (a user's notebook rule)."""

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "decay": (0.0, 1.0)}
    fields = ("feedback",)

    def update(self, values, choice, feedback, alpha, decay):
        decayed = values + decay * (self.initial_value - values)
        learned = values[choice] + alpha * (feedback - values[choice])
        return decayed.at[choice].set(learned)


def test_user_rule_gets_op_model_config_and_hssm(lan, seed_data):
    """A rule defined in a test (no change to rlssm) gets Op, ModelConfig and HSSM model."""
    model = RLSSM(DecayRW(), lan, precision="float64")
    data = seed_data[seed_data.participant_id < 4].reset_index(drop=True)
    point = {k: v for k, v in INTERIOR.items() if k != "rl_alpha_neg"} | {"rl_decay": 0.2}
    cfg = model.model_config(data)
    assert list(cfg.list_params) == ["rl_alpha", "rl_decay", "scaler", "a", "z", "t", "theta"]
    assert cfg.bounds["rl_decay"] == (0.0, 1.0)
    op = model.logp_op(data)
    rows = _per_row(data, point)
    matrix = data[["rt", "response"]].to_numpy()
    extra = [data[f].to_numpy() for f in model.extra_fields]
    out = op(matrix, *[rows[n] for n in model.param_names], *extra)
    values = pytensor.function([], out, mode=PY_MODE)()
    np.testing.assert_allclose(values, model.loglik(data, rows), rtol=1e-10)
    include = [hssm.Param(n, formula=f"{n} ~ 1 + (1|participant_id)",
                          prior={"Intercept": hssm.Prior("Uniform", lower=lo, upper=hi)})
               for n, (lo, hi) in model.bounds.items() if n != "t"]
    include.append(hssm.Param("t", formula="t ~ 1 + (1|participant_id)",
                              prior={"Intercept": hssm.Prior("Uniform", lower=0.01, upper=0.5, initval=0.2)}))
    # Uniform scaler priors up to 10 push v past the LAN's training box: the build warns.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hm = model.to_hssm(data, include=include)
    lan_warnings = [w for w in caught if issubclass(w.category, rlssm.LANRangeWarning)]
    assert len(lan_warnings) == 1 and "v outside its training range" in str(lan_warnings[0].message)
    assert hm.list_params == list(model.param_names)
    logp = hm.pymc_model.compile_logp(mode="JAX")
    assert np.isfinite(logp(hm.pymc_model.initial_point()))
