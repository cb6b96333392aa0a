"""rlssm's hierarchical PyMC model: parameterisation, likelihood wiring, sampling."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

import rlssm
from rlssm.fitting import NDT_NAME, Hierarchical

# PyMC's default (numba) backend runs truncated-normal draws (initial points) in object mode.
pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning")

TRUTH = dict(rl_alpha=0.5, rl_alpha_neg=0.3, scaler=3.0, a=1.2, z=0.5, t=0.3)
BOUNDS = {"a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}


@pytest.fixture(scope="module")
def ddm_model():
    return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), bounds=BOUNDS, precision="float64")


@pytest.fixture(scope="module")
def small_data(ddm_model):
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    rng = np.random.default_rng(3)
    params = {k: v * (1 + 0.05 * rng.uniform(-1, 1, 4)) for k, v in TRUTH.items()}
    data = ddm_model.simulate(params, env, n_participants=4, n_trials=40, seed=1)
    # Unequal lengths, a missed trial and shuffled rows: the fit must take data as it comes.
    data = data.drop(index=data.index[(data["participant_id"] == 2) & (data["trial_id"] >= 30)])
    data.loc[data.index[5], ["rt", "response"]] = np.nan
    return data.sample(frac=1.0, random_state=0)


def _point(fit: Hierarchical, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random point of the model's unconstrained space."""
    ip = fit.pymc_model.initial_point()
    return {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in ip.items()}


def test_variables_and_dims(ddm_model, small_data):
    fit = Hierarchical(ddm_model, small_data)
    names = ddm_model.param_names
    assert fit.group_vars == tuple(x for n in names for x in (n, f"{n}_sigma"))
    free = {v.name for v in fit.pymc_model.free_RVs}
    for n in names:
        assert n in free
        if n == NDT_NAME:  # held below each participant's fastest rt: log-spread, a free zeta
            assert {"t_sigma", "t_zeta"} <= free
        else:  # signed spreads and offsets; |s| and sign(s) zs are deterministics
            assert {f"{n}_sigma_signed", f"{n}_z_signed"} <= free
            assert {f"{n}_sigma", f"{n}_z"} <= set(fit.pymc_model.named_vars) - free
    plain = Hierarchical(ddm_model, small_data, signed_spread=False)
    free = {v.name for v in plain.pymc_model.free_RVs}
    assert {f"{n}_sigma" for n in names} | {"a_z", "t_zeta"} <= free
    assert not any(v.endswith("_signed") for v in free)
    centred = Hierarchical(ddm_model, small_data, centred=("a", "t"))
    assert {"a_eta", "t_xi"} <= {v.name for v in centred.pymc_model.free_RVs}
    assert fit.pymc_model.coords["participant_id"] == tuple(
        str(p) for p in sorted(small_data["participant_id"].unique())
    )
    observed = small_data.dropna(subset=["rt"])
    np.testing.assert_allclose(fit.fastest_rt, observed.groupby("participant_id")["rt"].min().sort_index())


def test_model_density_is_priors_plus_rlssm_loglik(ddm_model, small_data):
    """The model's log-density at a random point = its priors + Jacobians + the RLSSM
    log-likelihood at the implied per-participant values: the likelihood is wired to the
    right participants in the right order."""
    fit = Hierarchical(ddm_model, small_data)
    pmodel = fit.pymc_model
    point = _point(fit, np.random.default_rng(0))
    outs = pmodel.replace_rvs_by_values([pmodel[f"{n}_subj"] for n in ddm_model.param_names])
    subj_fn = pmodel.compile_fn(outs, inputs=pmodel.value_vars, on_unused_input="ignore")
    subj = dict(zip(ddm_model.param_names, subj_fn(point)))
    for n, v in subj.items():
        lo, hi = ddm_model.bounds[n]
        assert np.all((v > lo) & (v < hi)), n
    assert np.all(subj["t"] < fit.fastest_rt)
    ll = ddm_model.loglik(small_data, {n: pd.Series(v, index=sorted(small_data["participant_id"].unique())) for n, v in subj.items()})
    terms = pmodel.compile_fn(
        [pmodel.logp(vars=[pmodel["loglik"]], sum=True)], inputs=pmodel.value_vars, on_unused_input="ignore"
    )(point)
    np.testing.assert_allclose(float(np.asarray(terms).ravel()[0]), ll.sum(), rtol=1e-9)


def test_signed_spread_is_the_same_model(ddm_model, small_data):
    """The signed coordinates (s, zs) have density p(|s|, sign(s) zs) / 2 / |s| in terms of the
    log-spread model's (log sigma, z) density: |s| is HalfNormal, the participants are
    mu + s zs = mu + |s| sign(s) zs, and d log(sigma) / ds = 1 / |s| (two signs, one value)."""
    signed = Hierarchical(ddm_model, small_data)
    plain = Hierarchical(ddm_model, small_data, signed_spread=False)
    logp_signed = signed.pymc_model.compile_logp()
    logp_plain = plain.pymc_model.compile_logp()
    names = [n for n in ddm_model.param_names if n != NDT_NAME]
    rng = np.random.default_rng(5)
    for _ in range(4):
        point = _point(signed, rng)
        for n in names:  # both signs, and spreads large enough for the likelihood to notice
            point[f"{n}_sigma_signed"] = rng.choice([-1.0, 1.0]) * rng.uniform(0.05, 0.6)
        other = {k: v for k, v in point.items() if not k.endswith("_signed")}
        jacobian = 0.0
        for n in names:
            s = float(point[f"{n}_sigma_signed"])
            other[f"{n}_sigma_log__"] = np.log(abs(s))
            other[f"{n}_z"] = np.sign(s) * point[f"{n}_z_signed"]
            jacobian += -np.log(abs(s)) - np.log(2.0)
        assert set(other) == {v.name for v in plain.pymc_model.value_vars}
        np.testing.assert_allclose(logp_signed(point), logp_plain(other) + jacobian, rtol=1e-10)


def _potential_curve(fit: Hierarchical, free: str, potential: str, out: str):
    """The Potential and a deterministic as functions of one free vector, set to each grid value."""
    pmodel = fit.pymc_model
    fn = pmodel.compile_fn(
        [pmodel.logp(vars=[pmodel[potential]], sum=True), *pmodel.replace_rvs_by_values([pmodel[out]])],
        inputs=pmodel.value_vars, on_unused_input="ignore",
    )
    point = pmodel.initial_point()
    grid = np.linspace(-6, 6, 2401)
    logs, outs = [], []
    for x in grid:
        point[free] = np.full(len(fit.participants), x)
        lp, o = fn(point)
        logs.append(float(np.asarray(lp)))
        outs.append(np.asarray(o))
    return grid, np.asarray(logs), np.asarray(outs), point


def test_t_offset_is_a_truncated_standard_normal(ddm_model, small_data):
    """Non-centred t (the default): z = c - softplus(c - zeta) with its Jacobian: the density of z is the
    standard normal on z < c, i.e. the same model as an unconstrained offset whose
    likelihood is 0 above the participant's fastest rt."""
    fit = Hierarchical(ddm_model, small_data)
    grid, logs, zs, _ = _potential_curve(fit, "t_zeta", "t_z_prior", "t_z")
    # sum over participants of log N(z) + log dz/dzeta (numerical) = the Potential.
    dz = np.gradient(zs, grid, axis=0)
    expected = (stats.norm.logpdf(zs) + np.log(dz)).sum(axis=1)
    np.testing.assert_allclose(logs[5:-5], expected[5:-5], atol=2e-3)
    assert np.all(np.diff(zs, axis=0) > 0)


def test_centred_t_is_a_truncated_normal_below_the_fastest_rt(ddm_model, small_data):
    """Centred t (``centred=("t",)``): eta = cap - softplus(cap - xi) on t's link scale,
    with the Jacobian: eta's density is Normal(mu, sigma) restricted to t < fastest rt."""
    fit = Hierarchical(ddm_model, small_data, centred=("t",))
    grid, logs, etas, point = _potential_curve(fit, "t_xi", "t_eta_prior", "t_eta")
    lower, upper = ddm_model.bounds["t"]
    pmodel = fit.pymc_model
    location = pmodel.compile_fn(
        pmodel.replace_rvs_by_values([pmodel["t"]])[0], inputs=pmodel.value_vars, on_unused_input="ignore"
    )
    mu_nat = float(np.asarray(location(point)))
    mu = np.log((mu_nat - lower) / (upper - lower)) - np.log1p(-(mu_nat - lower) / (upper - lower))
    sigma = float(np.exp(point["t_sigma_log__"]))
    cap = np.log((fit.fastest_rt - lower) / (upper - lower)) - np.log1p(-(fit.fastest_rt - lower) / (upper - lower))
    assert np.all(etas < cap)
    deta = np.gradient(etas, grid, axis=0)
    expected = (stats.norm.logpdf(etas, mu, sigma) + np.log(deta)).sum(axis=1)
    np.testing.assert_allclose(logs[5:-5], expected[5:-5], atol=2e-3)


def test_priors_are_checked(ddm_model, small_data):
    with pytest.raises(ValueError, match="not parameters"):
        Hierarchical(ddm_model, small_data, priors={"v": {"name": "Normal", "mu": 0, "sigma": 1}})
    with pytest.raises(ValueError, match="within the parameter's bounds"):
        Hierarchical(ddm_model, small_data, priors={"a": {"name": "Uniform", "lower": 0.1, "upper": 2.0}})
    with pytest.raises(ValueError, match="needs a 'name'"):
        Hierarchical(ddm_model, small_data, priors={"a": {"mu": 1.0}})
    with pytest.raises(ValueError, match="centred"):
        Hierarchical(ddm_model, small_data, centred=("v",))
    with pytest.raises(ValueError, match="group_sd"):
        Hierarchical(ddm_model, small_data, group_sd={"a": -1.0})


def test_prior_in_natural_units(ddm_model, small_data):
    fit = Hierarchical(
        ddm_model, small_data, priors={"a": {"name": "TruncatedNormal", "mu": 1.0, "sigma": 0.5, "initval": 1.1}}
    )
    a = fit.pymc_model["a"]
    logp = pm.logp(a, 1.3).eval()
    expected = stats.truncnorm.logpdf(1.3, (0.3 - 1.0) / 0.5, (3.0 - 1.0) / 0.5, loc=1.0, scale=0.5)
    np.testing.assert_allclose(logp, expected, rtol=1e-6)
    assert fit.initvals["a"] == 1.1


def test_fastest_rt_below_t_lower_bound_is_a_data_error(ddm_model, small_data):
    data = small_data.copy()
    row = data.index[data["participant_id"] == 1][0]
    data.loc[row, "rt"] = 0.01  # below t's lower bound 0.05
    with pytest.raises(rlssm.DataError, match="participant 1"), pytest.warns(rlssm.FastResponseWarning):
        Hierarchical(ddm_model, data)


def test_sample_end_to_end(ddm_model, small_data):
    """A short run: NUTS through PyMC's JAX sampler, pointwise log-likelihood per row
    in the data's order, per-row parameters for the predictive tools."""
    fit = Hierarchical(ddm_model, small_data)
    with jax.numpy_dtype_promotion("standard"):
        idata = fit.sample(chains=2, tune=60, draws=30, seed=0, progressbar=False)
    post = idata["posterior"]
    assert post["a"].shape == (2, 30)
    assert post["a_subj"].shape == (2, 30, 4)
    # The signed coordinates are dropped; the spread and offsets they imply are kept.
    assert not any(str(v).endswith("_signed") for v in post.data_vars)
    assert np.all(post["a_sigma"].values > 0) and post["a_z"].shape == (2, 30, 4)
    link = fit._links["a"].forward  # logit onto (0.3, 3.0)
    np.testing.assert_allclose(
        link(post["a_subj"].values),
        link(post["a"].values)[..., None] + post["a_sigma"].values[..., None] * post["a_z"].values,
        rtol=1e-6, atol=1e-9,
    )
    ll = idata["log_likelihood"]["loglik"].values
    assert ll.shape == (2, 30, len(small_data))
    missed = small_data["rt"].isna().to_numpy()
    assert np.all(ll[:, :, missed] == 0.0) and np.all(ll[:, :, ~missed] != 0.0)
    # One draw, checked against the model's loglik at that draw's participant values.
    subj = {n: pd.Series(post[f"{n}_subj"].values[1, 7], index=sorted(small_data["participant_id"].unique()))
            for n in ddm_model.param_names}
    np.testing.assert_allclose(ll[1, 7], ddm_model.loglik(small_data, subj), rtol=1e-8, atol=1e-10)
    ppc = ddm_model.posterior_predictive(fit, idata, mode="conditional", n_draws=5, seed=0)
    assert len(ppc) == 5 * len(small_data)
    assert set(ppc["participant_id"]) == set(small_data["participant_id"])


def test_max_tree_depth_reaches_nuts(ddm_model, small_data):
    """The second number of ``max_tree_depth`` bounds the draws' trees; bad values are refused."""
    fit = Hierarchical(ddm_model, small_data)
    with jax.numpy_dtype_promotion("standard"):
        idata = fit.sample(
            chains=1, tune=30, draws=20, seed=0, progressbar=False, log_likelihood=False, max_tree_depth=(7, 2)
        )
    depth = idata["sample_stats"]["tree_depth"].values
    assert depth.max() <= 2 and depth.shape == (1, 20)
    for bad in (0, (7, 0), (-1, 10), True):
        with pytest.raises(ValueError, match="max_tree_depth"):
            fit.sample(chains=1, tune=5, draws=5, progressbar=False, max_tree_depth=bad)
    # Wrong types: beartype (under the test suite's jaxtyping hook) or the same ValueError.
    for bad in ((7,), (7.0, 10)):
        with pytest.raises((TypeError, ValueError), match="max_tree_depth"):
            fit.sample(chains=1, tune=5, draws=5, progressbar=False, max_tree_depth=bad)


def test_pooled_estimate_is_the_shared_maximum(ddm_model, small_data):
    """The pooled start maximises the likelihood with one value per parameter: inside
    the priors' supports (t below every fastest rt), near the simulation's truth, and no
    coordinate move improves it."""
    fit = Hierarchical(
        ddm_model, small_data, priors={"a": {"name": "Uniform", "lower": 0.5, "upper": 2.0, "initval": 1.9}}
    )
    est = fit.pooled_estimate()
    assert set(est) == set(ddm_model.param_names)
    assert 0.5 < est["a"] < 2.0 and est["t"] < fit.fastest_rt.min()
    for n in ("scaler", "a", "z", "t"):
        assert est[n] == pytest.approx(TRUTH[n], rel=0.25), n
    f = ddm_model.logp_fn(small_data)
    best = float(f(est).sum())
    for n in ("a", "z", "t"):
        for step in (-0.01, 0.01):
            moved = dict(est, **{n: est[n] * (1 + step)})
            assert float(f(moved).sum()) <= best + 1e-6, (n, step)
    assert fit.pooled_estimate() == est  # cached


def test_initial_points_are_finite_and_jittered(ddm_model, small_data):
    for centred in ((), ("a", "t")):
        fit = Hierarchical(ddm_model, small_data, centred=centred)
        points = fit.initial_points(3, seed=1, jitter=0.25)
        assert len(points) == 3
        pmodel = fit.pymc_model
        logp = pmodel.compile_logp()
        free = {v.name for v in pmodel.free_RVs}
        for point in points:
            assert set(point) == free
            start = pm.initial_point.make_initial_point_fn(
                model=pmodel, overrides=point, jitter_rvs=set(), return_transformed=True
            )(0)
            assert np.isfinite(logp(start))
            assert point["t"] < fit.fastest_rt.min()
        # Chains differ, but stay near the pooled point (link-scale moves of at most 0.25).
        assert points[0]["a"] != points[1]["a"]
        est = fit.pooled_estimate()
        for point in points:
            assert abs(point["a"] - est["a"]) < 0.25 * (3.0 - 0.3) / 4 + 1e-9
    with pytest.raises(ValueError, match="init must be"):
        fit.initial_points(2, init="map")
    with pytest.raises(ValueError, match="jitter"):
        fit.initial_points(2, jitter=-1.0)
    same = fit.initial_points(2, init="initvals", jitter=0.0)
    assert same[0]["a"] == pytest.approx(1.65) and same[0]["a"] == same[1]["a"]


def test_convergence_warnings_skip_the_signed_coordinates(ddm_model, small_data, caplog):
    """A signed spread the data keep away from 0 stays on one sign per chain: its own R-hat
    is meaningless, and only the spread and offsets it implies are checked."""
    import logging

    import xarray as xr

    fit = Hierarchical(ddm_model, small_data)
    rng = np.random.default_rng(0)
    n_part = len(fit.participants)

    def draws(var: str) -> np.ndarray:
        per_participant = var.endswith(("_z", "_zeta", "_z_signed", "_zeta_signed"))
        return rng.normal(size=(4, 400, n_part) if per_participant else (4, 400))

    def warnings_for(posterior: dict[str, np.ndarray]) -> str:
        ds = xr.Dataset({k: (("chain", "draw", "participant_id")[: v.ndim], v) for k, v in posterior.items()})
        stats_ = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 400), dtype=bool))})
        caplog.clear()
        with caplog.at_level(logging.INFO):
            fit._convergence_warnings(xr.DataTree.from_dict({"posterior": ds, "sample_stats": stats_}))
        return caplog.text

    assert "a_sigma_signed" in fit.sampler_only and set(fit.sampler_only) <= {v.name for v in fit.pymc_model.free_RVs}
    posterior = {v.name: draws(v.name) for v in fit.pymc_model.free_RVs}
    posterior |= {f"{n}_{v}": draws(f"{n}_{v}") for n in fit._signed for v in ("sigma", "z")}
    # One sign per chain: R-hat far above 1.01, were it checked.
    posterior["a_sigma_signed"] = np.abs(posterior["a_sigma_signed"]) * np.array([-1, 1, -1, 1])[:, None]
    assert "rhat" not in warnings_for(posterior)
    posterior["a_sigma"] = posterior["a_sigma"] + np.arange(4)[:, None]  # chains disagree
    assert "rhat statistic is larger than 1.01" in warnings_for(posterior)
