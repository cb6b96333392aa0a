"""Real data before a fit: `rlssm.screening.screen`, `rlssm check` and the loaders of
published formats (`rlssm.load_hbayesdm`, `rlssm.from_hssm`).

The reversal-learning file is hBayesDM's ``prl_multipleB_exampleData.txt`` (3 participants
x 3 blocks x 200 trials, ``choice.RT`` in milliseconds, ``trial`` restarting in each block),
read from the shared data folder; every other frame is built here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.cli import check_report, main
from rlssm.screening import Finding, screen

PRL = "prl_multipleB_exampleData.txt"


@pytest.fixture(scope="module")
def prl_path(data_dir: Path) -> Path:
    return data_dir / PRL


@pytest.fixture(scope="module")
def prl_raw(prl_path: Path) -> pd.DataFrame:
    """The file as published, read independently of rlssm."""
    return pd.read_csv(prl_path, sep="\t")


def _clean(n_participants: int = 2, n_trials: int = 60, seed: int = 0) -> pd.DataFrame:
    """Plausible data: rt 0.4-0.9 s, responses at random, feedback 0/1."""
    rng = np.random.default_rng(seed)
    n = n_participants * n_trials
    return pd.DataFrame({
        "participant_id": np.repeat(np.arange(n_participants), n_trials),
        "trial_id": np.tile(np.arange(n_trials), n_participants),
        "response": rng.integers(0, 2, n).astype(float),
        "rt": rng.uniform(0.4, 0.9, n),
        "feedback": rng.integers(0, 2, n).astype(float),
    })


def _kinds(findings: list[Finding]) -> list[tuple[str, object]]:
    return [(f.kind, f.participant) for f in findings]


# --------------------------------------------------------------------- rlssm check


def test_check_prl_file_names_milliseconds_and_fast_guesses(prl_path: Path, prl_raw: pd.DataFrame, capsys):
    """The published file, before any conversion: read as hBayesDM's, units and fast guesses named."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # plain lines, no Python warning
        assert main(["check", str(prl_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "OK: the data is valid for rlssm"
    assert "choice.RT in milliseconds -> rt in seconds" in out and "trial numbered across blocks" in out
    assert "choices: (1, 2)" in out
    # Fast guesses, counted independently from the raw file, per participant.
    fast = (prl_raw["choice.RT"] < 100).groupby(prl_raw["subjID"]).sum()
    assert dict(fast) == {5035: 4, 5036: 28, 5038: 7}
    for pid, count in fast.items():
        fastest = prl_raw.loc[prl_raw["subjID"] == pid, "choice.RT"].min() / 1000
        line = next(x for x in lines if f"participant {pid}: {count} of 600 responses faster than 0.1 s" in x)
        assert line.startswith("  warning: ") and f"fastest {fastest:.3g}" in line
        assert "rlssm.Lapse(decision_model)" in line and "p_outlier" in line and "missed" in line
    assert "UserWarning" not in out and "equinox" not in out


def test_check_prl_as_csv_in_milliseconds_with_trials_per_block(prl_raw: pd.DataFrame, tmp_path: Path, capsys):
    """The issue's case: rlssm's column names, rt in ms, trial restarting in each block."""
    renamed = prl_raw.rename(columns={"subjID": "participant_id", "choice": "response", "outcome": "feedback",
                                      "choice.RT": "rt", "trial": "trial_id"})
    path = tmp_path / "prl.csv"
    renamed.to_csv(path, index=False)
    assert main(["check", str(path), "--choices", "1,2"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID: column 'trial_id'")
    error = next(x for x in out.splitlines() if x.startswith("  error: "))
    assert "restarts in each block" in error and "block + trial_id are unique" in error
    assert "groupby('participant_id').cumcount()" in error and "load_hbayesdm" in error
    assert "look like milliseconds" in out and "divide by 1000" in out
    assert "participant 5036: 28 of 600 responses faster than 0.1 s (fastest 0.009" in out
    assert "rt read as milliseconds" in out


def test_check_prl_read_as_rlssm_points_to_the_loader(prl_path: Path, capsys):
    assert main(["check", str(prl_path), "--format", "rlssm"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("INVALID: data lacks the column(s)")
    assert "error: columns ['subjID', 'choice'] are hBayesDM's" in out and "--format hbayesdm" in out


def test_check_wrong_rt_unit_is_invalid(prl_path: Path, capsys):
    assert main(["check", str(prl_path), "--rt-unit", "s"]) == 1
    out = capsys.readouterr().out
    assert "INVALID: column 'choice.RT': the median response time is 390" in out and "--rt-unit ms" in out


def test_check_hssm_file(tmp_path: Path, capsys):
    data = _clean().assign(response=lambda d: 2 * d["response"] - 1)
    data.loc[3, "rt"] = rlssm.io.HSSM_MISSING_RT
    path = tmp_path / "hssm.csv"
    data.drop(columns="trial_id").to_csv(path, index=False)
    assert main(["check", str(path), "--format", "hssm", "--decision", "ddm"]) == 0
    out = capsys.readouterr().out
    assert "choices: (-1, 1)" in out and "missed trials (rt and response NaN): 1" in out
    assert "row order -> trial_id" in out and "findings" not in out


def test_check_report_lists_findings_and_keeps_its_contract():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
    data = _clean()
    assert not any(line.startswith(("findings", "warning", "note")) for line in check_report(data, model))
    data.loc[data["participant_id"] == 1, "rt"] *= 1000
    lines = check_report(data, model)
    assert "findings: 1 warning" in lines
    assert sum("look like milliseconds" in line for line in lines) == 1  # prepare's warning is not repeated
    bad = data.assign(response=data["response"].replace(1.0, 2.0))
    with pytest.raises(rlssm.DataError, match=r"column 'response'"):
        check_report(bad, model)


# ------------------------------------------------------------------------ findings


def test_clean_data_has_no_findings():
    assert screen(_clean()) == []


def test_milliseconds():
    data = _clean().assign(rt=lambda d: d["rt"] * 1000)
    (finding,) = screen(data)
    assert finding.severity == "warning" and finding.kind == "rt-milliseconds" and finding.participant is None
    median = np.median(data["rt"])
    assert f"median response time is {median:.4g}" in finding.message and "divide by 1000" in finding.message
    # In seconds the same responses give nothing; a choice-only model reads no rt.
    assert screen(data, with_rt=False) == []


def test_fast_responses_by_participant():
    data = _clean()
    data.loc[[5, 9, 70], "rt"] = [0.03, 0.08, 0.05]
    found = screen(data)
    assert _kinds(found) == [("fast-responses", 0), ("fast-responses", 1)]
    assert found[0].message.startswith("participant 0: 2 of 60 responses faster than 0.1 s (fastest 0.03, 0.08 s)")
    assert "t must stay below 0.03 s" in found[0].message and "rlssm.Lapse(decision_model)" in found[0].message
    assert found[1].message.startswith("participant 1: 1 of 60 responses faster than 0.1 s (fastest 0.05 s)")
    assert screen(data, fast=0.04) == [f for f in screen(data, fast=0.04) if f.participant == 0]
    assert len(screen(data, fast=0.01)) == 0


def test_slow_outliers():
    data = _clean()
    data.loc[[4, 61], "rt"] = [5.0, 30.0]
    found = {f.participant: f for f in screen(data)}
    assert found[0].kind == "slow-responses" and found[0].severity == "note"
    rt0 = data.loc[data["participant_id"] == 0, "rt"].to_numpy()
    cut = np.median(rt0) + 10 * 1.4826 * np.median(np.abs(rt0 - np.median(rt0)))
    assert f"slower than {cut:.3g} s (slowest 5 s)" in found[0].message
    # Beyond the default lapse density: a warning, whatever the spread.
    assert found[1].severity == "warning" and "1 responses slower than 20 s (slowest 30 s)" in found[1].message
    assert screen(data, slow_mads=1000.0) == [found[1]]


def test_one_response_and_long_runs():
    data = _clean(n_participants=3, n_trials=60)
    data.loc[data["participant_id"] == 0, "response"] = 1.0
    rows = data.index[data["participant_id"] == 1]
    data.loc[rows, "response"] = np.r_[np.ones(35), np.tile([0.0, 1.0], 13)[:25]]
    # Rows out of order: runs are read in trial_id order.
    data = data.sample(frac=1.0, random_state=1)
    found = screen(data)
    assert _kinds(found) == [("one-response", 0), ("long-run", 1)]
    assert "response 1.0 on all 60 answered trials" in found[0].message
    assert "response 1.0 on 35 consecutive answered trials (trial_id 0 to 34), 58%" in found[1].message
    assert _kinds(screen(data, long_run=0.7)) == [("one-response", 0)]


def test_few_trials_counts_answered_trials():
    data = _clean(n_trials=60)
    data.loc[data.index[(data["participant_id"] == 1)][12:], ["response", "rt"]] = np.nan
    (finding,) = screen(data)
    assert finding.kind == "few-trials" and finding.participant == 1
    assert finding.message.startswith("participant 1: 12 answered trials, fewer than 50")
    assert screen(data, min_trials=10) == []


def test_trial_id_restarting_per_block():
    data = _clean(n_trials=60).assign(block=lambda d: d["trial_id"] // 30, trial_id=lambda d: d["trial_id"] % 30)
    (finding,) = screen(data)
    assert finding.severity == "error" and finding.kind == "trial-id-blocks"
    assert "120 rows of participant(s) 0, 1 repeat a value, e.g. trial_id 0 in blocks 0, 1" in finding.message
    with pytest.raises(rlssm.DataError, match="trial_id is duplicated"):
        rlssm.data.validate(data)
    # The remedy the message gives makes the data valid and keeps the blocks.
    fixed = data.sort_values(["participant_id", "block", "trial_id"])
    fixed["trial_id"] = fixed.groupby("participant_id").cumcount()
    rlssm.data.validate(fixed)
    assert screen(fixed) == []
    # Duplicated within a block too: validation's message alone.
    assert screen(pd.concat([data, data.iloc[:1]])) == []


def test_hbayesdm_columns_and_bad_input():
    raw = pd.DataFrame({"subjID": [1, 1], "choice": [1, 2], "outcome": [1, -1]})
    (finding,) = screen(raw)
    assert finding.kind == "hbayesdm-columns" and "rlssm.load_hbayesdm" in finding.message
    assert str(finding).startswith("error: columns ['subjID', 'choice'] are hBayesDM's")
    with pytest.raises(rlssm.DataError, match="data must be a pandas.DataFrame, got dict"):
        screen({"rt": [1.0]})  # type: ignore[arg-type]


def test_millisecond_warning_points_at_the_caller():
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM())
    with pytest.warns(UserWarning, match="rlssm reads rt in seconds") as record:
        model.prepare(_clean().assign(rt=lambda d: d["rt"] * 1000))
    assert [Path(w.filename).resolve() for w in record] == [Path(__file__).resolve()]


# ------------------------------------------------------------------------- loaders


def test_load_hbayesdm_prl(prl_path: Path, prl_raw: pd.DataFrame):
    data = rlssm.load_hbayesdm(prl_path)
    assert list(data.columns[:6]) == ["participant_id", "trial_id", "response", "rt", "feedback", "block"]
    np.testing.assert_array_equal(data["participant_id"], prl_raw["subjID"])
    np.testing.assert_array_equal(data["response"], prl_raw["choice"])
    np.testing.assert_array_equal(data["feedback"], prl_raw["outcome"])
    np.testing.assert_allclose(data["rt"], prl_raw["choice.RT"] / 1000)
    np.testing.assert_array_equal(data["trial"], prl_raw["trial"])  # the within-block number, kept
    # Trials numbered across blocks: block b's trial k is (b - 1) * 200 + k - 1 in this file.
    np.testing.assert_array_equal(data["trial_id"], (prl_raw["block"] - 1) * 200 + prl_raw["trial"] - 1)
    assert "choice.RT in milliseconds -> rt in seconds" in data.attrs["rlssm_source"]
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), choices=(1, 2))
    params = dict(rl_alpha=0.3, rl_alpha_neg=0.2, scaler=0.02, a=1.0, z=0.5, t=0.005)
    ll = model.loglik(data, params)
    assert ll.shape == (1800,) and np.isfinite(ll).all()
    # Same file as a frame: same result.
    pd.testing.assert_frame_equal(rlssm.load_hbayesdm(prl_raw), data)


def _as_hbayesdm(data: pd.DataFrame) -> pd.DataFrame:
    """rlssm data (blocks of 5 trials) written in hBayesDM's columns, by hand."""
    return pd.DataFrame({
        "subjID": data["participant_id"],
        "block": data["block"],
        "trial": data["trial_id"] % 5 + 1,
        "choice": data["response"],
        "outcome": data["feedback"],
        "choice.RT": data["rt"] * 1000,
    })


def test_load_hbayesdm_round_trip():
    data = _clean(n_participants=3, n_trials=20).assign(response=lambda d: d["response"] + 1)
    data["block"] = data["trial_id"] // 5 + 1
    # Rows in any order: trials are numbered from block and trial, not from row order.
    shuffled = data.sample(frac=1.0, random_state=0).reset_index(drop=True)
    back = rlssm.load_hbayesdm(_as_hbayesdm(shuffled))
    columns = ["participant_id", "trial_id", "response", "rt", "feedback", "block"]
    pd.testing.assert_frame_equal(back[columns], shuffled[columns], check_dtype=False)
    np.testing.assert_array_equal(back["trial"], shuffled["trial_id"] % 5 + 1)


def test_load_hbayesdm_gain_loss_and_row_order():
    frame = pd.DataFrame({"subjID": [7, 7, 7, 8, 8], "choice": [1, 4, 2, 3, 3], "gain": [50, 100, 0, 50, 0],
                          "loss": [0, -250, -50, 0, 50]})
    data = rlssm.load_hbayesdm(frame)
    np.testing.assert_array_equal(data["feedback"], [50, -150, -50, 50, -50])  # gain - |loss|, as hBayesDM
    np.testing.assert_array_equal(data["trial_id"], [0, 1, 2, 0, 1])
    assert "rt" not in data.columns and list(data.columns) == ["participant_id", "trial_id", "response",
                                                               "feedback", "gain", "loss"]
    rlssm.data.validate(data, choices=(1, 2, 3, 4), with_rt=False)


def test_load_hbayesdm_errors():
    good = pd.DataFrame({"subjID": [1, 1], "trial": [1, 2], "choice": [1, 2], "outcome": [1, -1],
                         "RT": [512.0, 640.0]})
    with pytest.raises(rlssm.DataError, match=r"lacks the column 'subjID'"):
        rlssm.load_hbayesdm(good.drop(columns="subjID"))
    with pytest.raises(rlssm.DataError, match=r"lacks the column 'choice' \(the chosen option\).*response="):
        rlssm.load_hbayesdm(good.drop(columns="choice"))
    with pytest.raises(rlssm.DataError, match=r"lacks the column 'outcome' \(or 'gain' and 'loss', or 'reward'\)"):
        rlssm.load_hbayesdm(good.drop(columns="outcome"))
    with pytest.raises(rlssm.DataError, match=r"lacks the column 'pay' named by feedback="):
        rlssm.load_hbayesdm(good, feedback="pay")
    with pytest.raises(rlssm.DataError, match=r"column 'RT': the median response time is 0.576.*rt_unit='s'"):
        rlssm.load_hbayesdm(good.assign(RT=good["RT"] / 1000))
    np.testing.assert_allclose(rlssm.load_hbayesdm(good.assign(RT=good["RT"] / 1000), rt_unit="s")["rt"],
                               [0.512, 0.64])
    with pytest.raises(rlssm.DataError, match=r"column 'trial', participant 1, row 0: trial 1 appears more than once"):
        rlssm.load_hbayesdm(good.assign(trial=1))
    with pytest.raises(rlssm.DataError, match=r"column 'trial', row 1: value 2.5; expected an integer"):
        rlssm.load_hbayesdm(good.assign(trial=[1, 2.5]))
    with pytest.raises(rlssm.DataError, match=r"column 'RT', row 0: value 'fast'; expected a number"):
        rlssm.load_hbayesdm(good.assign(RT=["fast", "640"]))


def test_from_hssm_round_trip():
    data = _clean(n_participants=2, n_trials=8).assign(response=lambda d: 2 * d["response"] - 1)
    data.loc[3, ["rt", "response"]] = np.nan
    hssm_frame = data.drop(columns="trial_id").assign(rt=data["rt"].fillna(-999.0),
                                                      response=data["response"].fillna(1.0), stim="x")
    back = rlssm.from_hssm(hssm_frame)
    pd.testing.assert_frame_equal(back.drop(columns="stim"), data, check_dtype=False)
    assert (back["stim"] == "x").all() and "missed trial (1 rows)" in back.attrs["rlssm_source"]
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), choices=(-1, 1))
    params = dict(rl_alpha=0.3, scaler=2.0, a=1.0, z=0.5, t=0.2)
    np.testing.assert_array_equal(model.loglik(back, params), model.loglik(data, params))
    # trial_id kept where given; the reward column named.
    given = rlssm.from_hssm(data.rename(columns={"feedback": "reward"}), feedback="reward")
    pd.testing.assert_frame_equal(given, data, check_dtype=False)


def test_from_hssm_errors():
    frame = _clean(n_trials=3)
    with pytest.raises(rlssm.DataError, match=r"lacks the column\(s\) \['rt'\]"):
        rlssm.from_hssm(frame.drop(columns="rt"))
    with pytest.raises(rlssm.DataError, match=r"lacks the column\(s\) \['participant_id'\].*participant='subj_idx'"):
        rlssm.from_hssm(frame.rename(columns={"participant_id": "subj_idx"}))
    assert rlssm.from_hssm(frame.rename(columns={"participant_id": "subj_idx"}), participant="subj_idx").equals(
        rlssm.from_hssm(frame))
    with pytest.raises(rlssm.DataError, match=r"lacks the column\(s\) \['feedback'\].*feedback=None"):
        rlssm.from_hssm(frame.drop(columns="feedback"))
    assert "feedback" not in rlssm.from_hssm(frame.drop(columns="feedback"), feedback=None).columns
    with pytest.raises(rlssm.DataError, match=r"column 'response', row 1: value 'up'; expected a number"):
        rlssm.from_hssm(frame.astype({"response": object}).assign(response=[0, "up", 1, 0, 1, 0]))
