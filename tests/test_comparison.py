"""Participant-level model comparison."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from rlssm.fitting import compare_participants, participant_log_likelihood, participant_loo


def _fake_idata(ll: np.ndarray) -> xr.DataTree:
    rng = np.random.default_rng(1)
    post = xr.Dataset({"a": (("chain", "draw"), rng.normal(size=ll.shape[:2]))})
    lik = xr.Dataset({"rt,response": (("chain", "draw", "__obs__"), ll)})
    return xr.DataTree.from_dict({"posterior": post, "log_likelihood": lik})


def test_sums_rows_per_participant_in_row_order():
    data = pd.DataFrame({"participant_id": ["b", "a", "b", "c", "a", "c"]})
    ll = np.arange(2 * 3 * 6, dtype=float).reshape(2, 3, 6)
    out = participant_log_likelihood(_fake_idata(ll), data)["log_likelihood"]["participant"]
    assert list(out["participant_id"].values) == ["a", "b", "c"]
    np.testing.assert_allclose(out.values[..., 0], ll[..., 1] + ll[..., 4])
    np.testing.assert_allclose(out.values[..., 1], ll[..., 0] + ll[..., 2])


def test_loo_and_compare_prefer_the_better_model():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"participant_id": np.repeat(np.arange(10), 5)})
    good = rng.normal(-1.0, 0.05, size=(2, 200, 50))
    worse = good - 0.2
    loo = participant_loo(_fake_idata(good), data)
    assert loo.elpd == pytest.approx(good.sum(axis=2).mean(), abs=1.0)
    table = compare_participants({"good": _fake_idata(good), "worse": _fake_idata(worse)}, data)
    assert table.index[0] == "good"


def test_row_count_mismatch_is_an_error():
    data = pd.DataFrame({"participant_id": [0, 1]})
    with pytest.raises(ValueError, match="rows"):
        participant_log_likelihood(_fake_idata(np.zeros((1, 4, 3))), data)
