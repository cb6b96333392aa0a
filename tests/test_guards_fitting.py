"""Guards of the fitting surface (issue 24, items 2-5): prior arguments, formulas whose
design is not finite, sampler settings and calibration arguments.

Each case asserts the error type, that the message names the offending key or value and
what was expected, and (where it matters) that no work ran before the error; beside each
refusal, the valid neighbour still works.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm._errors import DataError
from rlssm.calibration import CalibrationResult, draw_prior, sbc
from rlssm.fitting import Flat, Hierarchical, approximate

MODEL = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
ENV = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
TINY = {"chains": 1, "tune": 5, "draws": 5, "progressbar": False}
"""Small enough that a setting which is not refused still returns quickly."""


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """The seed data cut to 3 participants x 30 trials, with a standard-normal covariate
    ``x`` and a constant column ``const``."""
    seed = np.load(os.environ.get("RLSSM_TEST_DATA", "../shared/data") + "/rldm_data.npy", allow_pickle=True).item()
    frame = seed["data"].rename(columns={"trial": "trial_id"})
    keep = sorted(frame["participant_id"].unique())[:3]
    frame = frame[frame["participant_id"].isin(keep)]
    first = frame.groupby("participant_id")["trial_id"].transform("min")
    frame = frame[frame["trial_id"] < first + 30].reset_index(drop=True)
    assert len(frame) == 90
    rng = np.random.default_rng(0)
    return frame.assign(x=rng.normal(size=len(frame)), const=1.0)


@pytest.fixture(scope="module")
def flat(data) -> Flat:
    return Flat(MODEL, data)


@pytest.fixture(scope="module")
def hier(data) -> Hierarchical:
    return Hierarchical(MODEL, data)


# ---------------------------------------------------------------------- item 2: prior arguments
SD = {"a": {"name": "Normal", "mu": 1.0, "sd": 0.01}}
BOGUS = {"a": {"name": "Normal", "mu": 1.0, "sigma": 0.5, "bogus": 3}}
ACCEPTED = r"it takes \['initval', 'lower', 'mu', 'sigma', 'tau', 'upper'\]"


def _build(kind: str, data: pd.DataFrame, priors):
    if kind == "hierarchical":
        return Hierarchical(MODEL, data, priors=priors)
    if kind == "flat":
        return Flat(MODEL, data, priors=priors)
    return draw_prior(MODEL, priors, 5)


@pytest.mark.parametrize("kind", ["hierarchical", "flat", "draw_prior"])
def test_misspelled_prior_argument_is_refused(data, kind):
    with pytest.raises(ValueError, match=r"priors\['a'\]: Normal takes no argument 'sd' \(did you mean 'sigma'\?\); "
                       + ACCEPTED):
        _build(kind, data, SD)


@pytest.mark.parametrize("kind", ["hierarchical", "flat", "draw_prior"])
def test_unknown_prior_argument_is_refused(data, kind):
    with pytest.raises(ValueError, match=r"priors\['a'\]: Normal takes no argument 'bogus'; " + ACCEPTED):
        _build(kind, data, BOGUS)


def test_hssm_prior_with_a_misspelled_argument_is_refused(data):
    import hssm

    with pytest.raises(ValueError, match=r"priors\['rl_alpha'\]: Beta takes no argument 'alhpa' \(did you mean 'alpha'\?\)"):
        Flat(MODEL, data, priors={"rl_alpha": hssm.Prior("Beta", alhpa=2.0, beta=2.0)})


def test_the_correctly_spelled_prior_is_the_one_used(data):
    """The prior the misspelling would have replaced: sigma = 0.01 gives draws of sd 0.01
    (the silently ignored ``sd`` gave the default scale, sd 0.80)."""
    draws = draw_prior(MODEL, {"a": {"name": "Normal", "mu": 1.0, "sigma": 0.01}}, 2000, seed=1)["a"]
    assert abs(draws.std() - 0.01) < 0.001 and abs(draws.mean() - 1.0) < 0.002
    fit = Hierarchical(MODEL, data, priors={"a": {"name": "Normal", "mu": 1.0, "sigma": 0.01}})
    assert "a" in fit.group_vars


def test_sbc_refuses_a_bad_prior_argument_before_any_draw():
    for key in ("prior", "fit_prior"):
        with pytest.raises(ValueError, match=r"priors\['a'\]: Normal takes no argument 'bogus'"):
            sbc(MODEL, ENV, n_replicates=2, n_trials=5, **{key: BOGUS})  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"name": "Normal", "mu": float("nan"), "sigma": 0.5}, r"priors\['a'\]: mu must be a finite number, got nan"),
        ({"name": "Normal", "mu": "1", "sigma": 0.5}, r"priors\['a'\]: mu must be a real number, got '1'"),
        ({"name": "Nromal", "mu": 1.0, "sigma": 0.5}, r"priors\['a'\]: 'Nromal' is not a PyMC distribution"),
        ({"name": "TruncatedNormal", "mu": 1.0, "sigma": 0.5, "upper": float("nan")},
         r"priors\['a'\]: upper must be a number \(\+-inf allowed\), got nan"),
    ],
)
def test_prior_argument_values_are_checked(data, spec, match):
    with pytest.raises(ValueError, match=match):
        Flat(MODEL, data, priors={"a": spec})


def test_coefficient_priors_refuse_arguments_they_would_drop(data):
    formulas = {"a": "1 + x"}
    with pytest.raises(ValueError, match=r"priors\['a_x'\]: a coefficient's prior \(link scale\) takes no \['lower'\]; "
                       r"Normal takes \['mu', 'sigma', 'tau'\]"):
        Hierarchical(MODEL, data, formulas=formulas, priors={"a_x": {"name": "Normal", "mu": 0.0, "sigma": 1.0, "lower": 0.0}})
    with pytest.raises(ValueError, match=r"priors\['a_x'\]: a coefficient's prior \(link scale\) takes no \['initval'\]"):
        Hierarchical(MODEL, data, formulas=formulas, priors={"a_x": {"name": "Normal", "mu": 0.0, "sigma": 1.0, "initval": 0.1}})
    with pytest.raises(ValueError, match=r"priors\['a_x'\]: Normal takes no argument 'sd'"):
        Hierarchical(MODEL, data, formulas=formulas, priors={"a_x": {"name": "Normal", "mu": 0.0, "sd": 1.0}})
    # A distribution that takes a support itself may bound a coefficient.
    fit = Hierarchical(MODEL, data, formulas=formulas,
                       priors={"a_x": {"name": "TruncatedNormal", "mu": 0.0, "sigma": 1.0, "lower": 0.0}})
    assert "a_x" in fit.group_vars


# ---------------------------------------------------------------------- item 3: formulas
def test_formula_with_a_non_finite_transform_is_refused(data):
    rows = np.flatnonzero(data["x"].to_numpy() <= 0)
    shown = ", ".join(str(r) for r in rows[:10])
    with pytest.raises(DataError, match=rf"formulas\['a'\] = '1 \+ np.log\(x\)': term 'np.log\(x\)' is not finite on "
                       rf"{rows.size} of 90 rows \(rows {shown}, \.\.\.; participant .*, row {rows[0]}: nan\)"):
        Hierarchical(MODEL, data, formulas={"a": "1 + np.log(x)"})


def test_formula_scaling_a_constant_is_refused(data):
    with pytest.raises(DataError, match=r"term 'scale\(const\)' is not finite on 90 of 90 rows \(rows 0, 1, 2"):
        Hierarchical(MODEL, data, formulas={"a": "1 + scale(const)"})


def test_non_finite_group_term_is_refused(data):
    with pytest.raises(DataError, match=r"term 'np.log\(x\)\|participant_id' is not finite"):
        Hierarchical(MODEL, data, formulas={"a": "1 + (0 + np.log(x) | participant_id)"})
    # The finite transform of the same column builds.
    fit = Hierarchical(MODEL, data, formulas={"a": "1 + (0 + np.exp(x) | participant_id)"})
    assert "a_np.exp(x)|participant_id_sigma" in fit.group_vars


def test_formula_with_a_division_builds_and_gives_its_rows(data):
    """``I(x / 2)``: PyMC refuses ``/`` in a variable name; the coefficient is ``a_I(x ÷ 2)``,
    takes a prior by that name, its design column is x / 2, and the fit's per-row values
    of ``a`` (what its likelihood reads) are ``link^-1(intercept + coefficient * x / 2 +
    participant effect)``, computed here by hand from draws of the PyMC model."""
    import pymc as pm
    import xarray as xr

    from rlssm.fitting.links import Link

    # t fixed: the model then has no improper (Flat) variable, and PyMC can draw from it.
    fit = Hierarchical(MODEL, data, formulas={"a": "1 + I(x / 2) + (1 | participant_id)"}, fixed={"t": 0.1},
                       priors={"a_I(x ÷ 2)": {"name": "Normal", "mu": 0.0, "sigma": 0.5}})
    assert {"a_Intercept", "a_I(x ÷ 2)", "a_1|participant_id_sigma"} <= set(fit.group_vars)
    (term,) = fit.regressions["a"].common
    np.testing.assert_allclose(term.columns[:, 0], data["x"].to_numpy() / 2)
    model = fit.pymc_model
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    with pytest.warns(UserWarning, match="Potentials"):  # the likelihood is one; only the priors are drawn
        drawn = pm.sample_prior_predictive(draws=4, model=model, var_names=names, random_seed=0,
                                             compile_kwargs={"mode": "FAST_COMPILE"})
    post = drawn["prior"].to_dataset()
    idata = xr.DataTree.from_dict({"posterior": post})
    effects = post["a_1|participant_id"].values[0]  # (draws, groups)
    group = {g: k for k, g in enumerate(post["a_1|participant_id"].coords["participant_id__factor_dim"].values)}
    column = [group[str(p)] for p in data["participant_id"]]
    eta = (post["a_Intercept"].values[0][:, None] + post["a_I(x ÷ 2)"].values[0][:, None] * data["x"].to_numpy() / 2
           + effects[:, column])
    rows = fit.row_draws(idata)["a"][0]
    np.testing.assert_allclose(rows, Link(*MODEL.bounds["a"]).inverse(eta), rtol=1e-10)
    assert np.isfinite(fit.pointwise_log_likelihood(idata)["loglik"].values).all()


# ---------------------------------------------------------------------- item 4: sampler settings
BAD_SETTINGS = [
    ({"target_accept": 1.5}, r"target_accept must be a number strictly between 0 and 1 .*got 1.5"),
    ({"target_accept": 0.0}, r"target_accept must be a number strictly between 0 and 1 .*got 0.0"),
    ({"target_accept": float("nan")}, r"target_accept must be a number strictly between 0 and 1 .*got nan"),
    ({"chains": 0}, r"chains must be a positive integer, got 0"),
    ({"draws": 0}, r"draws must be a positive integer, got 0"),
    ({"tune": -1}, r"tune must be an integer >= 0, got -1"),
    ({"seed": -3}, r"seed must be an integer >= 0, got -3"),
    ({"chain_method": "paralel"}, r"chain_method must be one of \('auto', 'parallel', 'vectorized', 'sequential'\), got 'paralel'"),
    ({"max_tree_depth": 0}, r"max_tree_depth must be a positive integer or a \(warm-up, sampling\) pair of them, got 0"),
]


@pytest.mark.parametrize("settings, match", BAD_SETTINGS)
def test_flat_refuses_bad_sampler_settings(flat, settings, match):
    with pytest.raises(ValueError, match=match):
        flat.sample(**{**TINY, **settings})


@pytest.mark.parametrize("settings, match", BAD_SETTINGS)
def test_hierarchical_refuses_bad_sampler_settings_before_any_work(hier, settings, match):
    with pytest.raises(ValueError, match=match):
        hier.sample(**{**TINY, **settings})
    assert hier._pooled == {}  # the pooled start (an optimisation) never ran


@pytest.mark.parametrize("fit_name", ["flat", "hierarchical"])
def test_unknown_nuts_keyword_is_refused(flat, hier, fit_name):
    fit = flat if fit_name == "flat" else hier
    with pytest.raises(TypeError, match=r"unknown NUTS keyword arguments \['step_sise'\]; numpyro's NUTS takes \[.*'step_size'"):
        fit.sample(**TINY, step_sise=0.1)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"maxcor": 0}, r"maxcor must be a positive integer, got 0"),
        ({"elbo_draws": 0}, r"elbo_draws must be a positive integer, got 0"),
        ({"ftol": -1.0}, r"ftol must be a positive, finite number \(an L-BFGS-B tolerance\), got -1.0"),
    ],
)
def test_pathfinder_refuses_bad_settings_before_any_work(hier, options, match):
    with pytest.raises(ValueError, match=match):
        approximate(hier, method="pathfinder", draws=5, **options)
    assert hier._pooled == {}


@pytest.mark.parametrize("settings, match", [s for s in BAD_SETTINGS if "chain_method" not in s[0]])
def test_sbc_refuses_bad_sampler_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        sbc(MODEL, ENV, **{"n_replicates": 2, "n_trials": 5, "chains": 1, "tune": 5, "draws": 5, **settings})


# ---------------------------------------------------------------------- item 5: calibration
def test_draw_prior_refuses_a_negative_group_sd():
    with pytest.raises(ValueError, match=r"group_sd must be a positive, finite number .*got -1.0"):
        draw_prior(MODEL, None, 5, n_participants=3, group_sd=-1.0)
    with pytest.raises(ValueError, match=r"group_sd\['a'\] must be a positive, finite number .*got 0.0"):
        draw_prior(MODEL, None, 5, n_participants=3, group_sd={"a": 0.0})
    with pytest.raises(ValueError, match=r"group_sd: \['theta'\] are not parameters of this model"):
        draw_prior(MODEL, None, 5, n_participants=3, group_sd={"theta": 0.3})


def test_draw_prior_refuses_group_sd_without_participants_and_bad_participants():
    with pytest.raises(ValueError, match=r"group_sd=0.3 scales the spreads of a hierarchical prior: give n_participants"):
        draw_prior(MODEL, None, 5, group_sd=0.3)
    with pytest.raises(ValueError, match=r"n_participants must be a positive integer or None \(flat draws\), got 0"):
        draw_prior(MODEL, None, 5, n_participants=0)


def test_sbc_refuses_group_sd_it_would_ignore_or_could_not_use():
    with pytest.raises(ValueError, match=r"group_sd=-1.0 scales the group spreads of fit='hierarchical'; a flat fit has none"):
        sbc(MODEL, ENV, fit="flat", group_sd=-1.0, n_replicates=2, n_trials=5)
    with pytest.raises(ValueError, match=r"group_sd=0.3 scales the group spreads"):
        sbc(MODEL, ENV, fit="flat", group_sd=0.3, n_replicates=2, n_trials=5)
    with pytest.raises(ValueError, match=r"group_sd must be a positive, finite number .*got -1.0"):
        sbc(MODEL, ENV, fit="hierarchical", n_participants=2, group_sd=-1.0, n_replicates=2, n_trials=5)


def test_hierarchical_group_sd_is_checked_by_the_same_rule(data):
    with pytest.raises(ValueError, match=r"group_sd must be a positive, finite number .*got -0.5"):
        Hierarchical(MODEL, data, group_sd=-0.5)
    with pytest.raises(ValueError, match=r"group_sd\['a'\] must be a positive, finite number .*got inf"):
        Hierarchical(MODEL, data, group_sd={"a": float("inf")})


@pytest.fixture()
def result() -> CalibrationResult:
    rng = np.random.default_rng(0)
    ranks = pd.DataFrame({"a": rng.integers(0, 21, 40), "a_subj[0]": rng.integers(0, 21, 40)})
    return CalibrationResult(ranks=ranks, n_ranks=20, truth=ranks * 0.0, diagnostics=pd.DataFrame())


def test_uniformity_of_an_unranked_variable_is_a_named_error(result):
    with pytest.raises(ValueError, match=r"variables: \['zzz'\] were not ranked; the ranked variables are \['a', 'a_subj\[0\]'\]"):
        result.uniformity(variables=["zzz"])
    with pytest.raises(TypeError, match=r"variables must be a sequence of variable names, e.g. \['a'\]"):
        result.uniformity(variables="a")
    with pytest.raises(ValueError, match=r"variables is empty"):
        result.uniformity(variables=[])
    with pytest.raises(ValueError, match=r"variables: \['zzz'\] were not ranked"):
        result.plot(variables=["zzz"])
    assert list(result.uniformity(variables=["a_subj[0]"]).index) == ["a_subj[0]"]


def test_plot_band_settings_are_checked(result):
    with pytest.raises(ValueError, match=r"prob must be a number strictly between 0 and 1, got 1.5"):
        result.plot(prob=1.5)
    with pytest.raises(ValueError, match=r"ncols must be a positive integer, got 0"):
        result.plot(ncols=0)
