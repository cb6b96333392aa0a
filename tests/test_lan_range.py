"""LAN range safety: build-time (priors x data) and posterior checks of decision parameters."""

from __future__ import annotations

import contextlib
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import hssm
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import rlssm
from rlssm.hssm_bridge.range_check import (
    check_decision_ranges,
    check_posterior_ranges,
    decision_draws,
    has_range_check,
)

N_TRIALS = 21
"""Trials per participant."""


def _data() -> pd.DataFrame:
    """Two participants who choose option 1 on every trial but the last (option 0).

    Participant 0 always gets feedback 1.0, participant 1 always 0.6. With learning rate
    ~1 the value difference Q[1] - Q[0] is 0 on the first trial, then ~0.5 for
    participant 0 and ~0.1 for participant 1 (the last trial's choice comes after its
    value is read, so it changes nothing; it is there because HSSM wants both choices).
    """
    rows = []
    for p, fb in ((0, 1.0), (1, 0.6)):
        for k in range(N_TRIALS):
            response = 1 if k < N_TRIALS - 1 else 0
            rows.append(dict(participant_id=p, trial_id=k, response=response, rt=1.0 + 0.01 * k, feedback=fb))
    return pd.DataFrame(rows)


@contextlib.contextmanager
def _quiet_dependencies() -> Iterator[None]:
    """Hide bambi/HSSM deprecation chatter (pytest.warns would re-emit it as an error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@contextlib.contextmanager
def no_lan_warning() -> Iterator[None]:
    """A LANRangeWarning inside is an error (others follow the test configuration)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", rlssm.LANRangeWarning)
        yield


def _pct(share: float) -> str:
    return re.escape(f"{100.0 * share:.3g}%")


def _flat_include(**constants: float) -> list[hssm.Param]:
    """Simple priors well inside the LAN box; ``constants`` fix parameters."""
    priors = {
        "rl_alpha": hssm.Prior("Uniform", lower=0.9, upper=0.999),
        "rl_alpha_neg": hssm.Prior("Uniform", lower=0.9, upper=0.999),
        "scaler": hssm.Prior("TruncatedNormal", mu=2.0, sigma=1.0, lower=0.1, upper=5.0),
        "a": hssm.Prior("Uniform", lower=0.8, upper=2.0),
        "z": hssm.Prior("Uniform", lower=0.3, upper=0.7),
        "t": hssm.Prior("Uniform", lower=0.1, upper=0.5),
        "theta": hssm.Prior("Uniform", lower=0.0, upper=0.8),
    }
    return [hssm.Param(n, prior=constants.get(n, p)) for n, p in priors.items()]


@pytest.fixture(scope="module")
def lan_model(angle_onnx):
    return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.AngleLAN(angle_onnx))


# ---------------------------------------------------------------------- build time
def test_vectorised_draws_match_values(lan_model):
    """The vmapped computation agrees with model.values draw by draw (scalar and per-row)."""
    data = _data()
    layout = lan_model.prepare(data)
    rng = np.random.default_rng(0)
    params = {n: rng.uniform(*lan_model.bounds[n], size=3) for n in lan_model.param_names}
    params["a"] = rng.uniform(0.5, 2.0, size=(3, len(data)))  # per-row values
    got = decision_draws(lan_model, layout, params)
    for d in range(3):
        vals = lan_model.values(data, {n: p[d] for n, p in params.items()})
        for name in lan_model.decision_model.param_names:
            np.testing.assert_allclose(got[name][d], vals[name].to_numpy(), rtol=1e-12, err_msg=name)


def test_build_check_warns_with_exact_fraction(lan_model):
    data = _data()
    # scaler = 8: v ~ 4 on participant 0's trials after the first, ~0.8 on participant 1's.
    include = _flat_include(rl_alpha=0.999, scaler=8.0)
    share = (N_TRIALS - 1) / (2 * N_TRIALS)
    with pytest.warns(rlssm.LANRangeWarning, match=_pct(share)) as record:
        report = check_decision_ranges(lan_model, data, include=include, n_draws=50)
    assert len(record) == 1  # one aggregated warning, not one per draw
    message = str(record[0].message)
    assert "v outside its training range [-3, 3]" in message and "50 draws" in message
    assert report is not None
    assert report.fraction["v"] == pytest.approx(share)
    assert report.any_outside == pytest.approx(share)
    assert report.n_draws == 50 and report.n_trials == 2 * N_TRIALS


def test_build_check_default_bounds_fraction(lan_model):
    """No include: every parameter uniform on its bounds. On participant 0's trial k
    (k >= 1), Q[1] - Q[0] = d = 0.5 (1 - (1 - rl_alpha)^k), so v = scaler d > 3 with
    probability max(0, 1 - 0.3 / d) over scaler ~ U(0, 10); participant 1's v stays
    below 1."""
    data = _data()
    with pytest.warns(rlssm.LANRangeWarning, match="uniform priors within the bounds") as record:
        report = check_decision_ranges(lan_model, data, n_draws=4000, seed=1)
    assert len(record) == 1
    alpha = (np.arange(100_000) + 0.5) / 100_000  # midpoint rule over rl_alpha ~ U(0, 1)
    k = np.arange(1, N_TRIALS)[:, None]
    d = 0.5 * (1.0 - (1.0 - alpha) ** k)
    expected = np.clip(1.0 - 0.3 / d, 0.0, None).mean(axis=1).sum() / (2 * N_TRIALS)
    assert report is not None
    assert report.fraction["v"] == pytest.approx(expected, abs=0.01)
    assert report.fraction["a"] == 0.0  # free decision parameters stay in the LAN's box


def test_build_check_silent_inside(lan_model):
    data = _data()
    with no_lan_warning():
        report = check_decision_ranges(lan_model, data, include=_flat_include(scaler=2.0))
    assert report is not None and report.ok and report.any_outside == 0.0


def test_build_check_free_parameter_bounds_override(angle_onnx):
    """Bounds widened beyond the LAN's box: the free parameter is reported too."""
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.AngleLAN(angle_onnx), bounds={"a": (0.3, 5.0)})
    include = _flat_include(scaler=2.0, a=4.0)
    with pytest.warns(rlssm.LANRangeWarning, match=r"a outside its training range \[0.3, 3\]"):
        report = check_decision_ranges(model, _data(), include=include, n_draws=10)
    assert report is not None and report.fraction["a"] == 1.0 and report.fraction["v"] == 0.0


def test_exact_angle_pays_nothing():
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
    assert not has_range_check(model)
    start = time.perf_counter()
    with no_lan_warning():
        assert check_decision_ranges(model, _data(), include=_flat_include(scaler=8.0)) is None
        assert check_posterior_ranges(model, None, None) is None
    assert time.perf_counter() - start < 0.05


def test_to_hssm_warns_at_build(lan_model):
    data = _data()
    share = (N_TRIALS - 1) / (2 * N_TRIALS)
    with pytest.warns(rlssm.LANRangeWarning, match=_pct(share)) as record, _quiet_dependencies():
        hm = lan_model.to_hssm(data, include=_flat_include(rl_alpha=0.999, scaler=8.0))
    assert isinstance(hm, hssm.HSSM)  # a warning, not an error
    assert len([w for w in record if issubclass(w.category, rlssm.LANRangeWarning)]) == 1


# ---------------------------------------------------------------------- posterior
def _posterior(draws: Mapping[str, Any]) -> xr.DataTree:
    """A one-chain posterior group holding the given draws."""
    ds = xr.Dataset({k: (("chain", "draw"), np.asarray(v, float)[None, :]) for k, v in draws.items()})
    ds = ds.assign_coords(chain=[0], draw=np.arange(ds.sizes["draw"]))
    return xr.DataTree.from_dict({"posterior": ds})


def test_posterior_check(lan_model):
    data = _data()
    data["x"] = np.tile(np.arange(N_TRIALS) % 4 == 0, 2).astype(float)  # 1 on every 4th trial
    include = _flat_include()
    include[3] = hssm.Param(
        "a", formula="a ~ 1 + x", prior={"Intercept": hssm.Prior("Uniform", lower=0.8, upper=2.0)}
    )
    with no_lan_warning():  # the priors keep everything in the box
        hm = lan_model.to_hssm(data, include=include)

    base = dict(rl_alpha=[0.999, 0.999], rl_alpha_neg=[0.5, 0.5], z=[0.5, 0.5], t=[0.3, 0.3], theta=[0.2, 0.2])
    inside = _posterior(base | dict(scaler=[2.0, 2.5], a_Intercept=[1.0, 1.2], a_x=[0.5, 0.1]))
    with no_lan_warning():
        report = check_posterior_ranges(lan_model, hm, inside)
    assert report is not None and report.ok and report.n_draws == 2

    # Draw 0: scaler 8 (v ~ 4 on participant 0's trials after the first) and a = 1 + 2.5 x
    # (3.5 on the x == 1 trials); draw 1 inside.
    outside = _posterior(base | dict(scaler=[8.0, 2.0], a_Intercept=[1.0, 1.0], a_x=[2.5, 0.1]))
    n = 2 * N_TRIALS
    v_share = (N_TRIALS - 1) / (2 * n)
    x = data["x"].to_numpy()
    a_share = x.sum() / (2 * n)
    # Out on either in draw 0: all of participant 0's trials (v after the first; a on the
    # first, where x == 1) and participant 1's x == 1 trials (a).
    any_share = (N_TRIALS + x[data["participant_id"].to_numpy() == 1].sum()) / (2 * n)
    with pytest.warns(rlssm.LANRangeWarning, match="Posterior check") as record:
        report = check_posterior_ranges(lan_model, hm, outside)
    assert len(record) == 1
    message = str(record[0].message)
    assert re.search(_pct(any_share), message) and re.search(_pct(v_share), message)
    assert "a outside its training range" in message
    assert report is not None
    assert report.fraction["v"] == pytest.approx(v_share)
    assert report.fraction["a"] == pytest.approx(a_share)
    assert report.any_outside == pytest.approx(any_share)
