"""Guards at the parameter boundary (part of the reliability issue): hierarchical priors.

Each case asserts the error type and that the message names the offending thing.
"""

from __future__ import annotations

import pytest

import rlssm
from rlssm.fitting import Hierarchical


@pytest.fixture(scope="module")
def small():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds={"a": (0.3, 3.0), "t": (0.05, 1.0)})
    params = {"rl_alpha": 0.3, "scaler": 3.0, "a": 1.0, "z": 0.5, "t": 0.2}
    data = model.simulate(params, rlssm.BernoulliBandit(p=(0.3, 0.7)), n_participants=3, n_trials=20, seed=0)
    return model, data.drop(columns="correct")


@pytest.mark.parametrize(
    "priors, match",
    [
        ({"a": {"name": "TruncatedNormal", "mu": 1.0, "sigma": -0.5}}, r"priors\['a'\]: sigma must be positive"),
        ({"a": {"name": "Normal", "mu": 1.0, "sigma": 0.0}}, r"priors\['a'\]: sigma must be positive"),
        ({"rl_alpha": {"name": "Beta", "alpha": -1.0, "beta": 2.0}}, r"priors\['rl_alpha'\]: alpha must be positive"),
        ({"a": {"name": "TruncatedNormal", "mu": 1.0, "sigma": 0.5, "initval": 5.0}},
         r"priors\['a'\]: initval 5.0 lies outside the prior's support \(0.3, 3.0\)"),
    ],
)
def test_bad_priors_are_refused_at_construction(small, priors, match):
    model, data = small
    with pytest.raises(ValueError, match=match):
        Hierarchical(model, data, priors=priors)


def test_centred_as_a_string_is_refused(small):
    model, data = small
    with pytest.raises(TypeError, match=r"centred must be a sequence of parameter names, e\.g\. \('a',\)"):
        Hierarchical(model, data, centred="a")  # type: ignore[arg-type]
    fit = Hierarchical(model, data, centred=("a",))
    assert "a_eta" in fit.pymc_model.named_vars


# ---------------------------------------------------------------------- command line
def _one_line_exit_2(capsys, argv) -> str:
    from rlssm.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, (argv, code, err)
    assert err and "Traceback" not in "\n".join(err), err
    return err[-1]


def test_cli_bad_files_give_one_line(capsys, tmp_path):
    missing = tmp_path / "nope.csv"
    assert "nope.csv" in _one_line_exit_2(capsys, ["check", str(missing)])
    assert str(tmp_path) in _one_line_exit_2(capsys, ["check", str(tmp_path)])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty.csv" in _one_line_exit_2(capsys, ["check", str(empty)])
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text("participant_id,trial_id,response,rt,feedback\n0,0,1,0.5,1\n", encoding="utf-16")
    line = _one_line_exit_2(capsys, ["fit", str(utf16)])
    assert "utf16.csv" in line and "UTF-8" in line


@pytest.mark.parametrize(
    "argv, match",
    [
        (["simulate", "--participants", "-3"], "--participants: expected an integer >= 1, got -3"),
        (["simulate", "--trials", "0"], "--trials: expected an integer >= 1, got 0"),
        (["simulate", "--sd", "-1"], "--sd: expected a positive number, got -1"),
        (["demo", "--chains", "0"], "--chains: expected an integer >= 1, got 0"),
        (["simulate", "--choices", "0,0", "--trials", "2", "--participants", "1"], "choices must be distinct"),
    ],
)
def test_cli_bad_settings_give_one_line(capsys, argv, match, tmp_path):
    assert match in _one_line_exit_2(capsys, argv + (["--out", str(tmp_path / "x.csv")] if argv[0] == "simulate" else []))


# ---------------------------------------------------------------------- LAN loading
def test_corrupt_onnx_names_the_file(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07not a protobuf at all \xff\xff")
    with pytest.raises(ValueError, match=r"broken\.onnx: not a readable ONNX model"):
        rlssm.AngleLAN(bad)


def test_trickling_download_hits_the_deadline(tmp_path, monkeypatch):
    """A server that sends a byte per read (each read within the per-read timeout)
    is stopped by the overall deadline."""
    import urllib.request

    from rlssm.decision import lan as lan_module

    class Trickle:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b"x"

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Trickle())
    monkeypatch.setattr(lan_module, "_DOWNLOAD_DEADLINE_S", 0.2)
    with pytest.raises(OSError, match=r"Could not download angle\.onnx .*longer than 0 s"):
        lan_module._download("http://127.0.0.1:9/angle.onnx", tmp_path / "angle.onnx", "0" * 64)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- data types
@pytest.fixture(scope="module")
def rw():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
    params = {"rl_alpha": 0.3, "scaler": 3.0, "a": 1.0, "z": 0.5, "t": 0.2}
    data = model.simulate(params, rlssm.BernoulliBandit(p=(0.3, 0.7)), 2, 6, seed=0).drop(columns="correct")
    data.loc[3, ["rt", "response", "feedback"]] = float("nan")
    return model, params, data


def test_nullable_dtypes_read_as_plain_numbers(rw):
    import numpy as np

    model, params, data = rw
    nullable = data.convert_dtypes()
    assert str(nullable["response"].dtype) == "Int64" and nullable["rt"].isna().sum() == 1
    np.testing.assert_array_equal(model.loglik(nullable, params), model.loglik(data, params))


def test_rt_as_timedelta_or_in_milliseconds(rw):
    import pandas as pd

    model, params, data = rw
    with pytest.raises(rlssm.DataError, match=r"column 'rt' holds timedelta64.*total_seconds"):
        model.loglik(data.assign(rt=pd.to_timedelta(data["rt"], unit="s")), params)
    with pytest.warns(UserWarning, match=r"median response time is .* s; rlssm reads rt in seconds"):
        model.prepare(data.assign(rt=data["rt"] * 1000))


def test_mixed_participant_id_types(rw):
    model, params, data = rw
    mixed = data.assign(participant_id=data["participant_id"].map({0: 0, 1: "1"}))
    with pytest.raises(rlssm.DataError, match=r"participant_id' mixes value types \['number', 'str'\]"):
        model.loglik(mixed, params)


# ---------------------------------------------------------------------- construction
def test_construction_guards():
    import math

    with pytest.raises(ValueError, match=r"RescorlaWagner: initial_value must be a finite number, got nan"):
        rlssm.RLSSM(rlssm.RescorlaWagner(initial_value=math.nan), rlssm.DDM())
    with pytest.raises(TypeError, match=r"choices must be a sequence of response values, e\.g\. \(0, 1\), got the string '01'"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), choices="01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"choices must be response values, not NaN"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), choices=(0, math.nan))
    # A pair that is not increasing (NaN included); wrong shapes are refused too (under
    # the test suite's beartype hook the annotation check answers first, naming bounds).
    with pytest.raises(ValueError, match=r"bounds: 'a' needs lower < upper"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds={"a": (math.nan, 1.0)})
    for bound in (0.5, (0.0, 1.0, 2.0)):
        with pytest.raises((TypeError, ValueError), match=r"(?s)bounds.*'a'"):
            rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds={"a": bound})  # type: ignore[dict-item]
