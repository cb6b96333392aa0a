"""The command line: help, check (exit codes), simulate, and a tiny demo run."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rlssm.cli import main

RLSSM = [sys.executable, "-m", "rlssm.cli"]


def test_help_lists_commands():
    out = subprocess.run([*RLSSM, "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("demo", "fit", "simulate", "check"):
        assert cmd in out


def test_simulate_then_check(tmp_path: Path, capsys):
    path = tmp_path / "sim.csv"
    assert main(["simulate", "--decision", "ddm", "--participants", "3", "--trials", "20",
                 "--param", "scaler=4", "--out", str(path)]) == 0
    data = pd.read_csv(path)
    assert len(data) == 60 and set(data["response"].dropna().unique()) <= {0.0, 1.0}
    assert list(data.columns[:6]) == ["participant_id", "trial_id", "response", "rt", "feedback", "correct"]
    capsys.readouterr()
    assert main(["check", str(path)]) == 0
    report = capsys.readouterr().out
    assert "OK" in report and "participants: 3" in report and "missed trials" in report


def test_check_reports_invalid_data(tmp_path: Path, capsys):
    data = pd.DataFrame(dict(participant_id=[1, 1, 2], trial_id=[0, 1, 0], response=[0, 1, 2],
                             rt=[0.5, 0.6, 0.7], feedback=[1.0, 0.0, 1.0]))
    path = tmp_path / "bad.csv"
    data.to_csv(path, index=False)
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "column 'response', participant 2, row 2: value 2" in out


def test_check_unknown_param_in_simulate(tmp_path: Path, capsys):
    # A usage error: one line with the command's prefix, exit status 2 (issue 24).
    assert main(["simulate", "--param", "alpha=0.3", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlssm simulate: error: ") and "'alpha' is not a parameter" in err


def test_demo_runs_end_to_end(tmp_path: Path):
    """The main job at a tiny size: simulate, fit, table, plots, InferenceData."""
    out = tmp_path / "demo"
    proc = subprocess.run(
        [*RLSSM, "demo", "--participants", "3", "--trials", "40", "--chains", "1", "--tune", "30",
         "--draws", "30", "--ppc-draws", "5", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Group-level means" in proc.stdout and "rl_alpha_neg" in proc.stdout
    for name in ("data.csv", "group_parameters.csv", "idata.nc", "posterior_vs_truth.png",
                 "learning_curves.png", "participant_0_values.png", "recovery_participants.png"):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "group_parameters.csv", index_col=0)
    assert list(table.index) == ["rl_alpha", "rl_alpha_neg", "scaler", "a", "z", "t", "theta"]
    assert np.isfinite(table["mean"]).all()
