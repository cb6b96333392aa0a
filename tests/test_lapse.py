"""The lapse mixture (rlssm.Lapse): likelihood by hand, sampler, HSSM, fits' t cap, warning."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.decision import UniformRT
from rlssm.fitting.nondecision import FAST_RT

pytestmark = [
    pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning"),
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning"),
]

POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.4, scaler=3.2, a=1.2, z=0.45, t=0.3)


@pytest.fixture()
def small(seed_data: pd.DataFrame) -> pd.DataFrame:
    keep = seed_data["participant_id"].isin([0, 1, 2]) & (seed_data["trial_id"] < 60)
    return seed_data[keep].reset_index(drop=True)


def test_param_names_and_bounds():
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()))
    assert model.param_names[-1] == "p_outlier"
    assert model.has_lapse and not rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM()).has_lapse
    assert model.bounds["p_outlier"] == (0.0, 0.2)
    held = rlssm.Fixed(rlssm.Lapse(rlssm.DDM()), p_outlier=0.05)
    assert held.param_names == ("v", "a", "z", "t") and held.has_lapse
    with pytest.raises(ValueError, match="wrap it once"):
        rlssm.Lapse(rlssm.Lapse(rlssm.DDM()))
    with pytest.raises(TypeError, match="decision model instance|AbstractDecisionModel"):
        rlssm.Lapse(rlssm.DDM)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 <= lower < upper"):
        UniformRT(2.0, 1.0)


def test_mixture_by_hand(seed_data):
    """(1 - p) f(rt, k) + p / (20 N), from the plain model's density."""
    plain = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM())
    mixed = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()))
    f = np.exp(plain.loglik(seed_data, POINT))
    for p in (0.0, 0.05, 0.3, 1.0):
        hand = np.log((1 - p) * f + p / 20.0 / 2.0)
        np.testing.assert_allclose(mixed.loglik(seed_data, POINT | {"p_outlier": p}), hand, rtol=1e-12, atol=1e-12)
    # A narrower lapse range: outside it only the model's density is left.
    narrow = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM(), rt=UniformRT(0.0, 1.0)))
    rt = seed_data["rt"].to_numpy()
    hand = np.log(0.9 * f + np.where(rt <= 1.0, 0.1 / 1.0 / 2.0, 0.0))
    np.testing.assert_allclose(narrow.loglik(seed_data, POINT | {"p_outlier": 0.1}), hand, rtol=1e-12)


def test_choice_only_mixture(seed_data):
    soft = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Softmax(n_options=2), rlssm.Values())
    mixed = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.Softmax(n_options=2)), rlssm.Values())
    point = {"rl_alpha": 0.3, "beta": 4.0}
    prob = np.exp(soft.loglik(seed_data, point))
    np.testing.assert_allclose(
        mixed.loglik(seed_data, point | {"p_outlier": 0.1}), np.log(0.9 * prob + 0.1 / 2), rtol=1e-12
    )


def test_proper_density_over_rt_and_option():
    """Both options' mixture densities integrate to 1 over rt (model + lapse)."""
    lapse = rlssm.Lapse(rlssm.DDM())
    total = 0.0
    with jax.enable_x64(True):
        rt = jnp.linspace(1e-4, 20.0, 400_001, dtype=jnp.float64)
        for choice in (-1, 1):
            dens = jnp.exp(lapse.logp(rt, choice, v=0.7, a=1.0, z=0.5, t=0.25, p_outlier=0.2))
            total += float(jnp.trapezoid(dens, rt))
    assert abs(total - 1.0) < 1e-4


def test_gradient_finite_at_edges():
    lapse = rlssm.Lapse(rlssm.DDM())
    with jax.enable_x64(True):
        for p in (0.0, 1e-12, 0.5, 1.0):
            g = jax.grad(lambda q, t: lapse.logp(0.2, 1, v=0.5, a=1.0, z=0.5, t=t, p_outlier=q), argnums=(0, 1))(
                jnp.float64(p), jnp.float64(0.3)
            )
            assert all(np.isfinite(np.asarray(x)) for x in g), (p, g)
        # Below t the model's density is 0: the gradient in t vanishes, the value is the lapse's.
        value = lapse.logp(0.2, 1, v=0.5, a=1.0, z=0.5, t=0.3, p_outlier=0.05)
        assert abs(float(value) - math.log(0.05 / 40 + 0.95 * math.exp(-66.1))) < 1e-9


def test_sampler_matches_mixture():
    """Draws: lapse share, uniform lapse times, options at random."""
    lapse = rlssm.Lapse(rlssm.DDM(), rt=UniformRT(5.0, 10.0))
    with jax.enable_x64(True):
        rt, choice = lapse.sample(jax.random.key(0), v=jnp.full(200_000, 2.0), a=1.0, z=0.5, t=0.2, p_outlier=0.1)
    rt, choice = np.asarray(rt), np.asarray(choice)
    # DDM times with v = 2, a = 1 are far below 5 s: the lapses are the draws in [5, 10].
    lapsed = rt >= 5.0
    assert abs(lapsed.mean() - 0.1) < 4 * math.sqrt(0.1 * 0.9 / rt.size)
    assert np.all(rt[lapsed] <= 10.0)
    assert abs(np.mean(choice[lapsed] == 1) - 0.5) < 0.02
    assert abs(np.median(rt[lapsed]) - 7.5) < 0.1
    # The model's draws keep their own choice proportion (mostly upper with v = 2).
    assert np.mean(choice[~lapsed] == 1) > 0.9


def test_learning_ignores_lapses(seed_data):
    """The values are the same with and without the mixture (learning is unchanged)."""
    plain = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM())
    mixed = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()))
    a = plain.values(seed_data, POINT)
    b = mixed.values(seed_data, POINT | {"p_outlier": 0.1})
    pd.testing.assert_frame_equal(a, b[a.columns])


def test_simulation_mixes_lapses():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM(), rt=UniformRT(4.0, 6.0)))
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    params = dict(rl_alpha=0.3, scaler=3.0, a=0.8, z=0.5, t=0.2, p_outlier=0.2)
    sim = model.simulate(params, env, n_participants=4, n_trials=500, seed=3)
    share = (sim["rt"] >= 4.0).mean()
    assert abs(share - 0.2) < 0.04
    assert sim["rt"].max() <= 6.0


def test_to_hssm_gives_rlssm_mixture(seed_data):
    import hssm  # noqa: F401
    import xarray as xr

    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()))
    hm = model.to_hssm(seed_data)
    names = [n for n in model.param_names]
    point = POINT | {"p_outlier": 0.07}
    ds = xr.Dataset({k: (("chain", "draw"), np.array([[point[k]]])) for k in names})
    ds = ds.assign_coords(chain=[0], draw=[0])
    dt = hm.log_likelihood(xr.DataTree.from_dict({"posterior": ds}), inplace=False)
    ll = dt["log_likelihood"]["rt,response"].values[0, 0]
    np.testing.assert_allclose(ll, model.loglik(seed_data, point), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="mixes in lapses itself"):
        model.to_hssm(seed_data, p_outlier=0.05)


def test_fits_free_t_with_lapse(small):
    """With fast guesses, the plain fit warns and caps t; the mixture fit does neither."""
    data = small.copy()
    data.loc[[3, 70], "rt"] = [0.012, 0.03]  # participant 0 and 1 each guess once
    plain = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
    with pytest.warns(rlssm.FastResponseWarning, match=r"participant 0: 1 response\(s\) faster than 0.1 s \(0.012 s\).*rlssm.Lapse"):
        fit = rlssm.fitting.Hierarchical(plain, data)
    assert "t_zeta" in fit.pymc_model.named_vars  # capped below the fastest response
    mixed = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = rlssm.fitting.Hierarchical(mixed, data)
        flat = rlssm.fitting.Flat(mixed, data)
    assert "t_zeta" not in fit.pymc_model.named_vars
    assert "p_outlier" in fit.group_vars
    assert "t_eta" in flat.pymc_model.named_vars and "t_xi" not in flat.pymc_model.named_vars
    assert FAST_RT == 0.1


def test_p_outlier_takes_formulas_and_fixed(small):
    data = small.copy()
    data["x"] = np.random.default_rng(0).normal(size=len(data))
    mixed = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM()))
    fit = rlssm.fitting.Hierarchical(mixed, data, formulas={"p_outlier": "1 + x + (1 | participant_id)"})
    assert "p_outlier_x" in fit.pymc_model.named_vars
    point = fit.pymc_model.initial_point()
    assert np.isfinite(fit.pymc_model.compile_logp()(point))
    held = rlssm.fitting.Hierarchical(mixed, data, fixed={"p_outlier": 0.05})
    assert "p_outlier" not in held.free_names


def test_command_line_lapse(tmp_path, capsys):
    from rlssm.cli import main

    out = tmp_path / "sim.csv"
    rc = main(["simulate", "--decision", "ddm", "--lapse", "guesses", "--participants", "2", "--trials", "300",
               "--param", "p_outlier=0.3", "--out", str(out)])
    assert rc == 0 and "p_outlier" in capsys.readouterr().out
    sim = pd.read_csv(out)
    # t = 0.44 in the demo's truth: responses below it are guesses, about 0.3 of all.
    assert 0.2 < (sim["rt"] < 0.3).mean() < 0.4


def test_bad_arguments_are_named(small):
    from rlssm.decision import MixtureRT

    with pytest.raises(TypeError, match="rt must be an instance|AbstractLapseRT"):
        rlssm.Lapse(rlssm.DDM(), rt=1.0)  # type: ignore[arg-type]
    with pytest.raises((TypeError, ValueError), match="lower must be a number|Type-check"):
        UniformRT("a", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least two components"):
        MixtureRT((UniformRT(),))
    with pytest.raises(ValueError, match="positive, finite weight"):
        MixtureRT((UniformRT(), UniformRT(0.0, 1.0)), weights=(1.0, -1.0))
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM()))
    point = dict(rl_alpha=0.3, scaler=3.0, a=1.0, z=0.5, t=0.2)
    with pytest.raises(rlssm.DataError, match=r"p_outlier.*outside \[0, 1\]"):
        model.loglik(small, point | {"p_outlier": 1.5})
    with pytest.raises(ValueError, match="reaches outside"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM()), bounds={"p_outlier": (0.0, 2.0)})
    narrow = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Lapse(rlssm.DDM(), rt=UniformRT(0.0, 1.0)))
    with pytest.raises(ValueError, match=r"row \d+: rt .* outside the lapse range \[0.0, 1.0\]"):
        narrow.to_hssm(small)


def test_range_checks_see_through_the_lapse(angle_onnx):
    from rlssm.hssm_bridge import has_range_check

    assert not has_range_check(rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.Angle())))
    assert has_range_check(rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.AngleLAN(angle_onnx))))
