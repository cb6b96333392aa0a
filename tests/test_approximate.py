"""Approximate fits (Pathfinder, ADVI) of the hierarchical model: layout, bounds, accuracy."""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import rlssm
from rlssm.fitting import NDT_NAME, Hierarchical, approximate
from rlssm.fitting.variational import draw_normal, normal_approximations

# PyMC's default (numba) backend runs truncated-normal draws (initial points) in object mode.
pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning")

TRUTH = dict(rl_alpha=0.4, scaler=3.0, a=1.2, z=0.5, t=0.3)
BOUNDS = {"a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}
DRAWS = 400


@pytest.fixture(scope="module")
def model():
    return rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds=BOUNDS, precision="float64")


@pytest.fixture(scope="module")
def data(model):
    """Three participants with many trials and nearly equal parameters: a tight posterior."""
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    rng = np.random.default_rng(4)
    params = {k: v * (1 + 0.02 * rng.uniform(-1, 1, 3)) for k, v in TRUTH.items()}
    data = model.simulate(params, env, n_participants=3, n_trials=300, seed=2)
    data.loc[data.index[7], ["rt", "response"]] = np.nan  # a missed trial adds 0 to the likelihood
    return data.sample(frac=1.0, random_state=1)  # rows in any order


@pytest.fixture(scope="module")
def fit(model, data):
    return Hierarchical(model, data)


@pytest.fixture(scope="module")
def pathfinder(fit):
    with jax.numpy_dtype_promotion("standard"):
        # Starts at the initial values: the pooled start's own optimisation is tested in
        # test_hierarchical, and Pathfinder has to find its way here.
        return approximate(fit, method="pathfinder", draws=DRAWS, seed=0, init="initvals")


@pytest.fixture(scope="module")
def advi(fit):
    with jax.numpy_dtype_promotion("standard"):
        return approximate(
            fit, method="advi", draws=DRAWS, seed=1, iterations=1500, log_likelihood=False, init="initvals"
        )


@pytest.mark.parametrize("result", ["pathfinder", "advi"])
def test_layout_matches_nuts(result, request, fit, model, data):
    """The posterior of Hierarchical.sample: free variables and deterministics, the signed
    coordinates dropped, one chain; every participant's values inside the bounds (t below
    the fastest rt); the implied spreads and offsets consistent; log-likelihood per row."""
    idata = request.getfixturevalue(result)
    post = idata["posterior"]
    pmodel = fit.pymc_model
    expected = {v.name for v in pmodel.free_RVs} | {v.name for v in pmodel.deterministics}
    expected -= set(fit.sampler_only)
    assert set(post.data_vars) == expected
    assert fit.sampler_only and not any(n.endswith("_signed") for n in post.data_vars)
    assert post.attrs["inference_method"] == result
    assert post["a"].dims == ("chain", "draw") and post["a"].shape == (1, DRAWS)
    assert post["a_subj"].dims == ("chain", "draw", "participant_id")
    assert list(post["participant_id"].values) == [str(p) for p in sorted(data["participant_id"].unique())]
    for name in model.param_names:
        lo, hi = BOUNDS.get(name, model.bounds[name])
        values = post[f"{name}_subj"].values
        assert np.all(np.isfinite(values)) and np.all((values > lo) & (values < hi)), name
        assert np.all(post[f"{name}_sigma"].values > 0), name
    assert np.all(post["t_subj"].values < fit.fastest_rt)
    # Deterministics computed from the draws: link(a_i) = link(a) + a_sigma * a_z.
    link = fit._links["a"].forward
    np.testing.assert_allclose(
        link(post["a_subj"].values),
        link(post["a"].values)[..., None] + post["a_sigma"].values[..., None] * post["a_z"].values,
        rtol=1e-6, atol=1e-9,
    )
    assert np.unique(post["a"].values).size > DRAWS // 2  # not one point repeated
    if result == "advi":  # log_likelihood=False
        assert "log_likelihood" not in idata.children
        return
    ll = idata["log_likelihood"]["loglik"].values
    assert ll.shape == (1, DRAWS, len(data))
    missed = data["rt"].isna().to_numpy()
    assert np.all(ll[:, :, missed] == 0.0) and np.all(ll[:, :, ~missed] != 0.0)
    index = sorted(data["participant_id"].unique())
    subj = {n: pd.Series(post[f"{n}_subj"].values[0, 11], index=index) for n in model.param_names}
    np.testing.assert_allclose(ll[0, 11], model.loglik(data, subj), rtol=1e-8, atol=1e-10)


def test_pathfinder_finds_the_truth(pathfinder, fit):
    """With 300 trials per participant the group values are pinned down: Pathfinder's
    means land near the values that generated the data, inside its 1%-99% range."""
    post = pathfinder["posterior"]
    for name in ("scaler", "a", "z", "t"):
        x = post[name].values.ravel()
        assert x.mean() == pytest.approx(TRUTH[name], rel=0.1), name
        lo, hi = np.quantile(x, [0.01, 0.99])
        assert lo < TRUTH[name] < hi, (name, lo, hi)
    assert post.attrs["paths"] == 1 and post.attrs["lbfgs_iterations"][0] > 5
    assert np.isfinite(post.attrs["pareto_k"])
    # The model's and the approximation's log densities at each draw (importance weights).
    stats = pathfinder["sample_stats"]
    assert stats["lp"].shape == stats["logq"].shape == (1, DRAWS)
    assert np.all(np.isfinite(stats["lp"].values)) and np.all(np.isfinite(stats["logq"].values))


def test_advi_moves_towards_the_data(advi, fit):
    """A short ADVI run: its group means of the best-identified parameters are already
    closer to the truth than the default prior centres."""
    post = advi["posterior"]
    for name in ("a", "t"):
        lo, hi = BOUNDS[name]
        assert abs(post[name].values.mean() - TRUTH[name]) < 0.5 * abs(0.5 * (lo + hi) - TRUTH[name]), name
    assert post.attrs["iterations"] == 1500


def test_normal_approximation_of_a_gaussian_is_exact():
    """On a Gaussian target, the approximation at L-BFGS's last iterate (inverse-Hessian
    covariance, quasi-Newton mean) is the target itself."""
    rng = np.random.default_rng(0)
    dim = 6
    root = rng.normal(size=(dim, dim))
    cov = root @ root.T / dim + 0.5 * np.eye(dim)
    mean = rng.normal(size=dim)
    prec = np.linalg.inv(cov)

    def grad_logp(x):
        return -prec @ (x - mean)

    xs = [np.zeros(dim)]
    minimize(lambda x: (0.5 * (x - mean) @ prec @ (x - mean), -grad_logp(x)), xs[0], jac=True,
             method="L-BFGS-B", callback=lambda intermediate_result: xs.append(np.array(intermediate_result.x)),
             options={"maxcor": 10, "gtol": 1e-12, "ftol": 1e-15})
    path = np.asarray(xs)
    # Move the last iterate away from the optimum: the mean must still be the target's.
    path[-1] = mean + 0.3 * rng.normal(size=dim)
    grads = np.stack([grad_logp(x) for x in path])
    alpha, S, Z = normal_approximations(path, grads, maxcor=10)[-1]
    with jax.numpy_dtype_promotion("standard"):
        draws, logq = draw_normal(jax.random.key(0), 20000, path[-1], grads[-1], alpha, S, Z)
    draws = np.asarray(draws)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.05 * np.abs(cov).max())
    from scipy import stats

    # logq is the density of a normal close to the target (not exactly it: L-BFGS-B's
    # inexact line searches leave the inverse Hessian slightly off).
    np.testing.assert_allclose(np.asarray(logq)[:50], stats.multivariate_normal(mean, cov).logpdf(draws[:50]), atol=0.3)


def test_bad_arguments(fit):
    with pytest.raises(ValueError, match="method must be one of"):
        approximate(fit, method="laplace")
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        approximate(fit, draws=0)
    with pytest.raises(TypeError, match="unknown keyword arguments \\['maxiter'\\]"):
        approximate(fit, method="pathfinder", maxiter=10)
    with pytest.raises(TypeError, match="paths is a Pathfinder option"):
        approximate(fit, method="advi", paths=2)
    assert NDT_NAME == "t"
