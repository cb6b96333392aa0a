"""Regressions in `rlssm.fitting.Hierarchical`: formulas, fixed parameters, correlated effects.

The references are independent of the code under test: design columns written by hand
from the data, the model's own ``RLSSM.loglik`` fed per-row values computed by hand
from a point of the PyMC model, and PyMC's own densities of the priors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import special, stats

import rlssm
from rlssm import DataError
from rlssm.fitting import Hierarchical, group_summary
from rlssm.fitting.formulas import parse_formulas

pytestmark = [
    pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning"),
    # PyTensor's C backend (the LKJ factor's compile) without a BLAS: slower, not wrong.
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]

TRUTH = dict(rl_alpha=0.5, rl_alpha_neg=0.3, scaler=3.0, a=1.2, z=0.5, t=0.3)
BOUNDS = {"a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}
FORMULAS = {
    "a": "1 + condition + (1 + condition | participant_id)",
    "t": "1 + x + (1 | participant_id)",
    "rl_alpha": "rl_alpha ~ 1 + C(condition, Sum)",
}


@pytest.fixture(scope="module")
def model():
    return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), bounds=BOUNDS, precision="float64")


@pytest.fixture(scope="module")
def data(model):
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    d = model.simulate(TRUTH, env, n_participants=4, n_trials=30, seed=1)
    d["condition"] = np.where(d["trial_id"] % 2 == 0, "drug", "placebo")
    d["x"] = np.linspace(-1.0, 1.0, len(d))
    d.loc[d.index[7], ["rt", "response"]] = np.nan  # a missed trial keeps its covariates
    return d.sample(frac=1.0, random_state=0)  # rows in any order


@pytest.fixture(scope="module")
def fit(model, data):
    return Hierarchical(model, data, formulas=FORMULAS, fixed={"z": 0.5})


def _random_point(fit, seed, scale=1.5):
    rng = np.random.default_rng(seed)
    ip = fit.pymc_model.initial_point()
    return {k: v + rng.normal(0, scale, np.shape(v)) for k, v in ip.items()}


def _compiled(fit, outputs):
    """``point -> outputs`` with every random variable at its value in ``point``."""
    model = fit.pymc_model
    return model.compile_fn(model.replace_rvs_by_values(outputs), inputs=model.value_vars, on_unused_input="ignore")


def _posterior_of(fit, point):
    """One draw of a posterior holding every variable of the PyMC model at ``point``."""
    import xarray as xr

    model = fit.pymc_model
    names = [v.name for v in model.free_RVs + model.deterministics]
    values = _compiled(fit, [model[n] for n in names])(point)
    return xr.DataTree.from_dict(
        {"posterior": xr.Dataset({n: (("chain", "draw") + tuple(f"{n}_{i}" for i in range(np.ndim(v))), np.asarray(v)[None, None])
                                  for n, v in zip(names, values)})}
    )


def test_design_columns_by_hand(data):
    regs = parse_formulas(FORMULAS, data, ("rl_alpha", "a", "t", "z"))
    assert set(regs) == {"rl_alpha", "a", "t"}
    a = regs["a"]
    assert a.intercept and not a.is_default
    (cond,) = a.common
    assert cond.name == "condition" and cond.levels == ("placebo",)  # treatment: first level is the reference
    np.testing.assert_array_equal(cond.columns[:, 0], (data["condition"] == "placebo").to_numpy(float))
    assert [g.name for g in a.group] == ["1|participant_id", "condition|participant_id"]
    slope = a.group[1]
    pid = data["participant_id"].astype(str).to_numpy()
    for g, label in enumerate(slope.groups):
        np.testing.assert_array_equal(slope.design[:, g], (pid == label) * cond.columns[:, 0])
    (s,) = regs["rl_alpha"].common
    np.testing.assert_array_equal(s.columns[:, 0], np.where(data["condition"] == "drug", 1.0, -1.0))  # sum coding
    (x,) = regs["t"].common
    assert x.levels is None
    np.testing.assert_array_equal(x.columns[:, 0], data["x"].to_numpy())
    assert parse_formulas({"a": "1 + (1 | participant_id)"}, data, ("a",))["a"].is_default


def test_names_follow_bambi(fit):
    assert fit.free_names == ("rl_alpha", "rl_alpha_neg", "scaler", "a", "t")
    assert fit.group_vars == (
        "rl_alpha_Intercept", "rl_alpha_C(condition, Sum)",
        "rl_alpha_neg", "rl_alpha_neg_sigma", "scaler", "scaler_sigma",
        "a_Intercept", "a_condition", "a_1|participant_id_sigma", "a_condition|participant_id_sigma",
        "t_Intercept", "t_x", "t_1|participant_id_sigma",
    )
    assert fit.pymc_model.named_vars_to_dims["a_condition"] == ("a_condition_dim",)
    assert list(fit.pymc_model.coords["a_condition_dim"]) == ["placebo"]
    assert fit.pymc_model.named_vars_to_dims["a_1|participant_id"] == ("participant_id__factor_dim",)
    assert "z" not in fit.pymc_model.named_vars  # fixed


def test_likelihood_gets_the_rows_computed_by_hand(model, data, fit):
    """The model's log-likelihood at a random point equals `RLSSM.loglik` with every
    row's parameters computed by hand from the point's coefficients and effects."""
    pmodel = fit.pymc_model
    lik = _compiled(fit, [pmodel["loglik"]])
    pid = data["participant_id"].astype(str).to_numpy()
    placebo = (data["condition"] == "placebo").to_numpy(float)
    sum_coded = np.where(data["condition"] == "drug", 1.0, -1.0)
    rt = data["rt"].to_numpy()
    ranks = {p: i for i, p in enumerate(sorted(set(pid), key=int))}
    rows = np.array([ranks[p] for p in pid])
    for seed in range(3):
        point = _random_point(fit, seed)
        post = _posterior_of(fit, point)["posterior"]
        v = {n: np.asarray(post[n].values)[0, 0] for n in post.data_vars}
        logit = lambda lo, hi, eta: lo + (hi - lo) * special.expit(eta)  # noqa: E731
        a_eta = v["a_Intercept"] + v["a_condition"][0] * placebo + v["a_1|participant_id"][rows] \
            + v["a_condition|participant_id"][rows, 0] * placebo
        t_lo, t_hi = model.bounds["t"]
        t_eta = v["t_Intercept"] + v["t_x"] * data["x"].to_numpy() + v["t_1|participant_id"][rows]
        capped = np.isfinite(rt) & (rt < t_hi)  # a response slower than t's upper bound caps nothing
        cap = np.where(capped, special.logit((np.where(capped, rt, 0.5) - t_lo) / (t_hi - t_lo)), 1e3)
        t_eta = cap - np.logaddexp(0.0, 10.0 * (cap - t_eta)) / 10.0  # ROW_CAP_SHARPNESS
        al_lo, al_hi = model.bounds["rl_alpha"]
        params = {
            "rl_alpha": logit(al_lo, al_hi, v["rl_alpha_Intercept"] + v["rl_alpha_C(condition, Sum)"][0] * sum_coded),
            "a": logit(*model.bounds["a"], a_eta),
            "t": logit(t_lo, t_hi, t_eta),
            "z": 0.5,
        }
        for name in ("rl_alpha_neg", "scaler"):
            params[name] = v[f"{name}_subj"][rows]
        observed = np.isfinite(rt)
        # Below each row's response (equal in floating point once far past the cap,
        # where the likelihood is at its floor).
        assert np.all(params["t"][observed] <= rt[observed] + 1e-12)
        for name, (lo, hi) in model.bounds.items():
            x = np.broadcast_to(params[name], (len(data),))
            assert np.all((x > lo) & (x < hi)), name
        expected = model.loglik(data, params)
        (got,) = lik(point)
        np.testing.assert_allclose(np.sum(got), np.sum(expected), rtol=1e-8)
        # ... and row_draws rebuilds the same rows from a posterior.
        rebuilt = fit.row_draws(_posterior_of(fit, point))
        for name in model.param_names:
            np.testing.assert_allclose(rebuilt[name][0, 0], np.broadcast_to(params[name], (len(data),)), rtol=1e-10)


def test_coefficient_priors(fit, model, data):
    pmodel = fit.pymc_model
    # Defaults: Normal(0, 1) for a coefficient, Normal(link(middle), 1) for an intercept.
    for x in (-1.3, 0.4):
        lp = pm.logp(pmodel["a_condition"], np.array([x])).eval()
        np.testing.assert_allclose(lp, stats.norm(0, 1).logpdf([x]))
        lp = pm.logp(pmodel["a_Intercept"], x).eval()
        np.testing.assert_allclose(lp, stats.norm(0.0, 1).logpdf(x))  # logit of the middle is 0
    custom = Hierarchical(model, data, formulas={"a": "1 + condition"},
                          priors={"a_condition": {"name": "Normal", "mu": 0.2, "sigma": 0.3}})
    np.testing.assert_allclose(pm.logp(custom.pymc_model["a_condition"], np.array([0.5])).eval(),
                               stats.norm(0.2, 0.3).logpdf([0.5]))
    with pytest.raises(ValueError, match=r"\['a'\] have covariates.*a_Intercept"):
        Hierarchical(model, data, formulas={"a": "1 + condition"}, priors={"a": {"name": "Normal", "mu": 1.0, "sigma": 1.0}})


def test_bad_formulas_and_covariates(model, data):
    with pytest.raises(DataError, match=r"\['dose'\].*not columns"):
        Hierarchical(model, data, formulas={"a": "1 + dose"})
    broken = data.copy()
    broken.loc[broken.index[3], "x"] = np.nan
    with pytest.raises(DataError, match=r"column 'x' \(in the formula of 't'\).*row 3"):
        Hierarchical(model, broken, formulas={"t": "1 + x"})
    broken = data.copy()
    broken["x"] = broken["x"].astype(object)
    broken.loc[broken.index[2], "x"] = np.inf
    with pytest.raises(DataError, match="column 'x'"):
        Hierarchical(model, broken.astype({"x": float}), formulas={"t": "1 + x"})
    with pytest.raises(ValueError, match="left side must name the parameter"):
        Hierarchical(model, data, formulas={"a": "t ~ 1 + x"})
    with pytest.raises(ValueError, match="not parameters"):
        Hierarchical(model, data, formulas={"v": "1 + x"})
    with pytest.raises(ValueError, match="centring applies to the default formula"):
        Hierarchical(model, data, formulas={"a": "1 + x"}, centred=("a",))


def test_fixed(model, data):
    fit = Hierarchical(model, data, fixed={"z": 0.5, "rl_alpha_neg": 0.3})
    assert fit.free_names == ("rl_alpha", "scaler", "a", "t")
    assert "z" not in fit.pymc_model.named_vars and "z_sigma" not in fit.group_vars
    params = {n: 0.5 * (lo + hi) for n, (lo, hi) in model.bounds.items()}
    params["t"] = 0.1
    free = {n: np.full(4, params[n]) for n in fit.free_names}
    expected = model.loglik(data, {**params, "z": 0.5, "rl_alpha_neg": 0.3})
    np.testing.assert_allclose(np.asarray(fit.logp_fn()(free)), expected, rtol=1e-10)
    for bad, match in (({"z": 1.5}, "outside"), ({"q": 1.0}, "not a parameter"),
                       ({"a": "big"}, "must be a number|Type-check error")):
        with pytest.raises((ValueError, TypeError), match=match):
            Hierarchical(model, data, fixed=bad)
    with pytest.raises(ValueError, match="both name"):
        Hierarchical(model, data, fixed={"a": 1.0}, formulas={"a": "1 + x"})


def test_correlated_effects_use_an_lkj_factor(model, data):
    fit = Hierarchical(model, data, formulas={"a": FORMULAS["a"]}, correlated=("a",))
    free = {v.name for v in fit.pymc_model.free_RVs}
    assert {"a_participant_id", "a_participant_id_z"} <= free
    assert "a_participant_id_corr" in fit.group_vars
    point = _random_point(fit, 0, scale=0.3)
    assert np.isfinite(fit.pymc_model.compile_logp()(point))
    (corr,) = _compiled(fit, [fit.pymc_model["a_participant_id_corr"]])(point)
    np.testing.assert_allclose(np.diag(corr), 1.0)


def test_sample_and_summaries(model, fit, data):
    import jax

    with jax.numpy_dtype_promotion("standard"):  # numpyro's NUTS mixes int and float
        idata = fit.sample(chains=1, tune=60, draws=40, seed=0, progressbar=False, max_tree_depth=5)
    table = group_summary(fit, idata)
    assert "a_condition[placebo]" in table.index and "t_x" in table.index
    assert np.all(np.isfinite(table[["mean", "q05", "q95"]].to_numpy()))
    assert idata["log_likelihood"]["loglik"].shape == (1, 40, len(data))
    rows = fit.row_draws(idata)
    assert rows["a"].shape == (1, 40, len(data)) and np.all(rows["z"] == 0.5)
    with pytest.raises(ValueError, match="row_draws"):
        fit.participant_draws(idata)
    per_row = fit.add_likelihood_parameters_to_datatree(idata)["posterior"]
    np.testing.assert_allclose(np.asarray(per_row["t"].values), rows["t"])
    assert not any(str(v).endswith("_signed") for v in idata["posterior"].data_vars)
    # Predictive checks replay each row with its own parameters (here, its condition's a).
    ppc = model.posterior_predictive(fit, idata, mode="conditional", n_draws=4, seed=0)
    assert len(ppc) == 4 * len(data)
    ll = idata["log_likelihood"]["loglik"].values[0, 11]
    expected = model.loglik(data, {n: v[0, 11] for n, v in rows.items()})
    np.testing.assert_allclose(ll, expected, rtol=1e-8, atol=1e-10)


def test_to_hssm_fixed(model, data):
    hm = model.to_hssm(data.drop(columns=["condition", "x"]), fixed={"z": 0.5})
    free = {v.name for v in hm.pymc_model.free_RVs}
    assert not any(n == "z" or n.startswith("z_") for n in free)
    assert "a" in free or any(n.startswith("a_") for n in free)
    with pytest.raises(ValueError, match="both name 'z'"):
        model.to_hssm(data, include=[{"name": "z", "prior": 0.4}], fixed={"z": 0.5})
    with pytest.raises(ValueError, match="outside"):
        model.to_hssm(data, fixed={"a": -1.0})


def test_command_line_formula_and_fixed(model, data, tmp_path, capsys):
    import jax

    from rlssm.cli import main

    path = tmp_path / "data.csv"
    data.drop(columns=["x"]).to_csv(path, index=False)
    with jax.numpy_dtype_promotion("standard"):  # numpyro's NUTS mixes int and float
        code = main(["fit", str(path), "--rule", "dual", "--decision", "ddm", "--chains", "1", "--tune", "20",
                     "--draws", "10", "--formula", "a=1 + condition + (1 | participant_id)", "--fixed", "z=0.5",
                     "--out", str(tmp_path / "fit")])
    out = capsys.readouterr().out
    assert code == 0, out
    table = pd.read_csv(tmp_path / "fit" / "group_parameters.csv", index_col=0)
    assert "a_condition[placebo]" in table.index and "z" not in table.index
    assert main(["fit", str(path), "--fixed", "z"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert main(["fit", str(path), "--flat", "--formula", "a=1 + condition"]) == 2


def test_jax_gradient_is_finite_without_a_cap_and_at_small_spreads(model, data, fit):
    """NUTS runs the model through PyTensor's JAX backend, whose softplus has NaN
    gradients beyond |x| ~ 709: rows slower than t's upper bound (no cap) and a tiny
    t spread (a far cap in offset units) must still give finite gradients."""
    import jax
    import jax.numpy as jnp
    from pymc.sampling.jax import get_jaxified_logp

    assert np.any(data["rt"] > model.bounds["t"][1])  # rows without a cap exist
    plain = Hierarchical(model, data)
    for f, overrides in ((fit, {}), (plain, {"t_sigma_log__": np.log(1e-4)})):
        pmodel = f.pymc_model
        point = {**pmodel.initial_point(), **overrides}
        logp = get_jaxified_logp(pmodel)
        with jax.enable_x64(True), jax.numpy_dtype_promotion("standard"):  # as NUTS runs it
            values = [jnp.asarray(point[v.name]) for v in pmodel.value_vars]
            grads = jax.grad(lambda xs: logp(xs))(values)
        for v, g in zip(pmodel.value_vars, grads):
            assert np.all(np.isfinite(np.asarray(g))), v.name


def test_sample_with_pathfinder_keeps_the_layout(fit, data):
    """``sample(method=...)`` reaches the approximations, formulas included."""
    import jax

    with jax.numpy_dtype_promotion("standard"):
        idata = fit.sample(method="pathfinder", draws=30, seed=1, iterations=60)
    post = idata["posterior"]
    assert post["a_condition"].shape == (1, 30, 1)
    assert not any(str(v).endswith("_signed") for v in post.data_vars)
    assert idata["log_likelihood"]["loglik"].shape == (1, 30, len(data))
    assert np.all(fit.row_draws(idata)["t"] > 0)
    with pytest.raises(ValueError, match="method"):
        fit.sample(method="laplace", draws=5)
