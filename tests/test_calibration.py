"""Simulation-based calibration: prior draws, ranks, the uniformity tests, a tiny SBC run
whose deliberately wrong prior must show, and the ``rlssm calibrate`` command."""

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import rlssm
from rlssm.calibration import CalibrationResult, draw_prior, ecdf_band, rank_statistic, sbc, uniformity_test
from rlssm.cli import main
from rlssm.fitting import Flat
from rlssm.fitting.links import Link

MODEL = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
ENV = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
PRIOR = {
    "rl_alpha": {"name": "TruncatedNormal", "mu": 0.5, "sigma": 0.2},
    "scaler": {"name": "TruncatedNormal", "mu": 3.0, "sigma": 1.0},
    "a": {"name": "TruncatedNormal", "mu": 1.2, "sigma": 0.1},
    "z": {"name": "TruncatedNormal", "mu": 0.5, "sigma": 0.1},
    "t": {"name": "TruncatedNormal", "mu": 0.3, "sigma": 0.05},
}


def test_flat_prior_draws_stay_in_bounds_and_do_not_depend_on_n():
    wide = draw_prior(MODEL, {"a": {"name": "Normal", "mu": 0.5, "sigma": 3.0}}, 400, seed=3)
    for name in MODEL.param_names:
        lo, hi = MODEL.bounds[name]
        assert wide[name].shape == (400,)
        assert np.all((wide[name] > lo) & (wide[name] < hi)), name
    # Normal(0.5, 3) restricted to a's bounds (0.3, 3.0): its truncated CDF, not a clipped one.
    lo, hi = MODEL.bounds["a"]
    cdf = stats.truncnorm((lo - 0.5) / 3.0, (hi - 0.5) / 3.0, loc=0.5, scale=3.0).cdf
    assert stats.kstest(wide["a"], cdf).pvalue > 1e-3
    few = draw_prior(MODEL, {"a": {"name": "Normal", "mu": 0.5, "sigma": 3.0}}, 5, seed=3)
    for name in MODEL.param_names:
        np.testing.assert_array_equal(few[name], wide[name][:5])


def test_hierarchical_prior_draws_follow_the_fit_definition():
    draws = draw_prior(MODEL, PRIOR, 300, seed=1, n_participants=8, group_sd=0.4)
    offsets = []
    for name in MODEL.param_names:
        lo, hi = MODEL.bounds[name]
        subj, sigma, loc = draws[f"{name}_subj"], draws[f"{name}_sigma"], draws[name]
        assert subj.shape == (300, 8) and sigma.shape == (300,)
        assert np.all((subj > lo) & (subj < hi)), name
        link = Link(lo, hi)
        offsets.append((link.forward(subj) - link.forward(loc)[:, None]) / sigma[:, None])
        # |s| with s ~ Normal(0, 0.4): HalfNormal(0.4).
        assert stats.kstest(sigma, stats.halfnorm(scale=0.4).cdf).pvalue > 1e-3, name
    # Participants are link^-1(link(location) + sigma z) with z standard normal.
    assert stats.kstest(np.concatenate(offsets).ravel(), "norm").pvalue > 1e-3


def test_rank_statistic_counts_thinned_draws_below_truth():
    draws = np.arange(20, dtype=float).reshape(2, 10)  # chain 0: 0..9, chain 1: 10..19
    assert rank_statistic(draws, 4.5, thin=1) == 5
    assert rank_statistic(draws, 4.5, thin=3) == 2  # kept 0, 3, 6, 9, 10, 13, 16, 19
    assert rank_statistic(draws, 100.0, thin=3) == 8
    with pytest.raises(ValueError, match="thin"):
        rank_statistic(draws, 1.0, thin=0)


def test_uniformity_test_accepts_uniform_and_rejects_skewed_ranks():
    rng = np.random.default_rng(7)
    n_ranks = 99
    uniform = rng.integers(0, n_ranks + 1, size=200)
    ok = uniformity_test(uniform, n_ranks)
    assert ok["chi2_p"] > 0.05 and ok["ecdf_p"] > 0.05
    too_narrow = np.minimum(rng.geometric(0.05, size=200), n_ranks)  # piled at 0: biased
    too_wide = rng.binomial(n_ranks, 0.5, size=200)  # piled in the middle: overdispersed posterior
    for ranks in (too_narrow, too_wide, n_ranks - too_narrow):
        out = uniformity_test(ranks, n_ranks)
        assert out["chi2_p"] < 1e-3 and out["ecdf_p"] < 1e-2
    with pytest.raises(ValueError, match="0 .. 99"):
        uniformity_test(np.array([0, 100]), n_ranks)


def test_ecdf_band_is_simultaneous():
    """About 95% of uniform rank samples stay inside the whole 95% band (a pointwise
    band would hold far fewer)."""
    n, n_ranks = 50, 39
    z, lower, upper = ecdf_band(n, n_ranks, prob=0.95, n_simulations=2000, seed=1)
    rng = np.random.default_rng(11)
    ranks = rng.integers(0, n_ranks + 1, size=(1000, n))
    ecdf = np.sum(ranks[..., None] < np.arange(1, n_ranks + 1), axis=1) / n
    inside = np.all((ecdf >= lower) & (ecdf <= upper), axis=1).mean()
    assert 0.93 <= inside <= 0.975, inside
    assert np.all(lower <= z) and np.all(z <= upper)


def test_result_uniformity_and_plot_flag_skewed_ranks():
    rng = np.random.default_rng(3)
    ranks = pd.DataFrame({"good": rng.integers(0, 31, 60), "biased": np.minimum(rng.geometric(0.2, 60), 30),
                          "a_subj[0]": rng.integers(0, 31, 60)})
    result = CalibrationResult(ranks=ranks, n_ranks=30, truth=ranks * 0.0, diagnostics=pd.DataFrame())
    table = result.uniformity()
    assert list(table.index) == ["good", "biased", "a_subj[0]"]
    assert table.loc["good", "ecdf_p"] > 0.05 and table.loc["biased", "ecdf_p"] < 0.01
    assert abs(table.loc["good", "mean_rank"] - ranks["good"].mean()) < 1e-12
    fig = result.plot()  # group variables only: not a_subj[0]
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["good", "biased (outside)"]


def test_sbc_refuses_bad_settings_before_fitting():
    with pytest.raises(ValueError, match="n_participants=3"):
        sbc(MODEL, ENV, n_participants=3)
    with pytest.raises(ValueError, match="fit must be"):
        sbc(MODEL, ENV, fit="pooled")
    with pytest.raises(ValueError, match=r"\['theta'\] are not parameters"):
        sbc(MODEL, ENV, prior=PRIOR, fit_prior={"theta": {"name": "Normal", "mu": 0.0, "sigma": 1.0}})
    with pytest.raises(ValueError, match="thin must be"):
        sbc(MODEL, ENV, thin=0)


def test_calibrate_command_shows_a_wrong_prior(tmp_path: Path, capsys):
    """The negative control through ``rlssm calibrate``, tiny: data from a ~ TruncatedNormal(1.2,
    0.1), fits with a ~ TruncatedNormal(2.9, 0.01), so every posterior draw of a lies above the
    truth: all of a's ranks are 0 and the tests reject uniformity."""
    out = tmp_path / "cal"
    spec = '{{"name": "TruncatedNormal", "mu": {}, "sigma": {}}}'
    with jax.numpy_dtype_promotion("standard"):  # numpyro's NUTS mixes int and float
        code = main(["calibrate", "--rule", "rw", "--decision", "ddm", "--replicates", "10", "--trials", "30",
                     "--tune", "40", "--draws", "40", "--thin", "2", "--max-tree-depth", "4", "--out", str(out),
                     "--prior", "a=" + spec.format(1.2, 0.1), "--fit-prior", "a=" + spec.format(2.9, 0.01)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Rank uniformity (10 replicates, ranks 0..20" in printed and "ecdf_p" in printed
    ranks = pd.read_csv(out / "ranks.csv", index_col=0)
    assert list(ranks.columns) == list(MODEL.param_names) and len(ranks) == 10
    assert ranks.to_numpy().min() >= 0 and ranks.to_numpy().max() <= 20
    assert (ranks["a"] == 0).all()
    table = pd.read_csv(out / "uniformity.csv", index_col=0)
    assert table.loc["a", "chi2_p"] < 1e-3 and table.loc["a", "ecdf_p"] < 0.01
    assert (out / "ecdf.png").stat().st_size > 0


def test_calibrate_command_bad_input(tmp_path: Path, capsys):
    """Bad input: one line on stderr, exit 2, before any fitting."""
    out = str(tmp_path / "cal")
    assert main(["calibrate", "--prior", "t=oops", "--out", out]) == 2
    assert main(["calibrate", "--prior", 'nope={"name": "Normal", "mu": 0, "sigma": 1}', "--out", out]) == 2
    err = capsys.readouterr().err
    assert "rlssm calibrate: error: --prior t=oops: expected NAME=JSON" in err
    assert "rlssm calibrate: error: prior: ['nope'] are not parameters" in err


def test_flat_density_is_prior_times_likelihood_on_link_scales():
    """Flat's log density at a point of its free variables: the natural-unit priors
    (scipy's truncated normals) with the links' Jacobians, t's cap bijection
    ``eta = cap - softplus(cap - xi)`` with its Jacobian, plus the model's log-likelihood."""
    from scipy.special import expit, log_expit

    truth = draw_prior(MODEL, PRIOR, 2, seed=5)
    data = MODEL.simulate(truth, ENV, n_participants=2, n_trials=30, seed=2)
    fit = Flat(MODEL, data, priors=PRIOR)
    rng = np.random.default_rng(0)
    point, natural, expected = {}, {}, 0.0
    for name in MODEL.param_names:
        lo, hi = MODEL.bounds[name]
        bounded = np.isfinite(hi)  # logit link, else log (a and t of the DDM: (0, inf))
        forward = (lambda x: np.log((x - lo) / (hi - x))) if bounded else (lambda x: np.log(x - lo))
        free = rng.normal(0.0, 1.0, 2)
        if name == "t":
            cap = forward(data.groupby("participant_id")["rt"].min().to_numpy())
            point["t_xi"] = free
            eta = cap - np.logaddexp(0.0, cap - free)
            expected += np.sum(log_expit(cap - free))
        else:
            point[f"{name}_eta"] = free
            eta = free
        if bounded:
            natural[name] = lo + (hi - lo) * expit(eta)
            expected += np.sum(np.log(hi - lo) + log_expit(eta) + log_expit(-eta))
        else:
            natural[name] = lo + np.exp(eta)
            expected += np.sum(eta)
        mu, sigma = PRIOR[name]["mu"], PRIOR[name]["sigma"]
        prior = stats.truncnorm((lo - mu) / sigma, (hi - mu) / sigma, loc=mu, scale=sigma)
        expected += np.sum(prior.logpdf(natural[name]))
    assert np.all(natural["t"] < data.groupby("participant_id")["rt"].min().to_numpy())
    expected += np.sum(MODEL.loglik(data, natural))
    logp = fit.pymc_model.compile_logp(mode="FAST_COMPILE")
    np.testing.assert_allclose(float(logp(point)), expected, rtol=1e-8)
