"""The command line's own options (issue 24, items 1, 5 and 6): every ``--decision`` of
``rlssm demo`` runs end to end, every option says what it does and its default, usage
errors end with one line ``rlssm <command>: error: ...`` and exit status 2, and an
unwritable ``--out`` fails before any simulation or fit."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.cli import DEMO_DECISION_TRUTH, SEED_MAX, build_parser, demo_truth, main


COMMANDS = ("demo", "fit", "simulate", "check", "calibrate")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _demo_decisions() -> tuple[str, ...]:
    (action,) = [a for a in _subparsers(build_parser())["demo"]._actions if "--decision" in a.option_strings]
    assert action.choices is not None
    return tuple(action.choices)


def _usage_error(capsys, argv: list[str]) -> str:
    """Run ``rlssm argv``; assert exit status 2 and exactly one line on stderr, the
    command's ``error:`` line, and return it."""
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, (argv, code, captured.err[-2000:])
    assert len(lines) == 1, lines
    command = argv[0] if argv and argv[0] in COMMANDS else None
    assert lines[0].startswith(f"rlssm {command}: error: " if command else "rlssm: error: "), lines[0]
    assert "Traceback" not in captured.err
    return lines[0]


# ------------------------------------------------------------------ help texts (item 1)
def test_every_option_says_what_it_does_and_its_default():
    parser = build_parser()
    subs = _subparsers(parser)
    assert set(subs) == set(COMMANDS)
    missing = []
    for name, sub in subs.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = (action.help or "").strip()
            if not text:
                missing.append(f"{name} {action.dest}: no help")
            elif action.option_strings and "default" not in text:
                missing.append(f"{name} {action.option_strings[0]}: help does not give the default: {text!r}")
        # The formatted help expands %(default)s to the actual value.
        shown = " ".join(sub.format_help().split())
        for action in sub._actions:
            if action.option_strings and "%(default)s" in (action.help or ""):
                assert f"(default: {action.default})" in shown, (name, action.dest)
    assert not missing, "\n".join(missing)


# ------------------------------------------------------------- every demo decision (item 1)
def test_demo_truth_covers_each_listed_decision(angle_onnx):
    """Every --decision the demo lists has generating values for exactly its model's
    parameters (no theta for the DDM, beta for the softmax, no held s for the LBA)."""
    rule, three = rlssm.DualRateRW(), (0, 1, 2)
    models = {
        "angle": rlssm.RLSSM(rule, rlssm.Angle()),
        "ddm": rlssm.RLSSM(rule, rlssm.DDM()),
        "angle-lan": rlssm.RLSSM(rule, rlssm.AngleLAN(angle_onnx)),
        "softmax": rlssm.RLSSM(rule, rlssm.Softmax(n_options=3), rlssm.Values(), choices=three),
        "rdm": rlssm.RLSSM(rule, rlssm.RDM(n_options=3), rlssm.RaceScaling(), choices=three),
        "lba": rlssm.RLSSM(rule, rlssm.Fixed(rlssm.LBA(n_options=3), s=1.0), rlssm.RaceScaling(), choices=three),
    }
    listed = _demo_decisions()
    assert set(listed) == set(DEMO_DECISION_TRUTH) == set(models)
    for decision in listed:
        model = models[decision]
        truth = demo_truth(decision)
        assert tuple(truth) == model.param_names, decision
        for name, value in truth.items():
            lower, upper = model.bounds[name]
            assert lower < value < upper, (decision, name, value)
    assert "theta" not in demo_truth("ddm") and "beta" in demo_truth("softmax") and "s" not in demo_truth("lba")


# The angle demo is run by tests/test_cli.py::test_demo_runs_end_to_end.
@pytest.mark.parametrize("decision", [d for d in _demo_decisions() if d != "angle"])
def test_demo_runs_each_decision(tmp_path: Path, capsys, monkeypatch, data_dir: Path, decision: str):
    """`rlssm demo --decision X` at a tiny size: simulate from X's own truths, fit,
    table, plots, InferenceData."""
    monkeypatch.setenv("RLSSM_LAN_DIR", str(data_dir))  # angle-lan: the published weights, no download
    out = tmp_path / "demo"
    # The LAN's model-build check warns that the priors reach drifts outside its
    # training range (the demo's truths do not); the command prints it.
    lan = pytest.warns(rlssm.LANRangeWarning) if decision == "angle-lan" else contextlib.nullcontext()
    with jax.numpy_dtype_promotion("standard"), lan:  # numpyro's NUTS mixes int and float
        code = main(["demo", "--decision", decision, "--participants", "3", "--trials", "40", "--chains", "1",
                     "--tune", "30", "--draws", "30", "--max-tree-depth", "5", "--ppc-draws", "5",
                     "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-3000:]
    assert "Group-level means" in printed.out
    n_options = 3 if decision in ("softmax", "rdm", "lba") else 2
    plots = ["posterior_vs_truth.png", "learning_curves.png", "participant_0_values.png", "recovery_participants.png"]
    for name in ["data.csv", "group_parameters.csv", "idata.nc", *plots]:
        assert (out / name).stat().st_size > 0, name
    assert (out / "choice_proportions.png").exists() == (n_options > 2)
    data = pd.read_csv(out / "data.csv")
    assert len(data) == 3 * 40
    assert set(data["response"].dropna().unique()) <= set(range(n_options))
    rt = data["rt"].to_numpy(dtype=float)
    if decision == "softmax":  # choice-only data
        assert np.isnan(rt).all()
    else:
        assert (rt > 0).all()
    table = pd.read_csv(out / "group_parameters.csv", index_col=0)
    truth = demo_truth(decision)
    assert list(table.index) == list(truth)
    np.testing.assert_allclose(table["truth"].to_numpy(), list(truth.values()))
    assert np.isfinite(table[["mean", "lower", "upper"]].to_numpy()).all()


# --------------------------------------------------------- usage errors, one line (item 6)
SIM = ["simulate", "--participants", "1", "--trials", "5"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--param", "foo=1"], "'foo' is not a parameter of this model; its parameters: rl_alpha"),
        (["--param", "v0=1"], "'v0' is not a parameter"),
        (["--param", "v=1"], "v is computed from the values by the mapping DriftScaling"),
        (["--param", "beta=3", "--decision", "rdm"], "'beta' is not a parameter of this model; its parameters: "
                                                     "rl_alpha, rl_alpha_neg, scaler, A, B, t"),
        (["--param", "s=2", "--decision", "lba"], "the command line holds LBA's s at 1"),
        (["--seed", "99999999999999999999"], f"argument --seed: expected an integer from 0 to {SEED_MAX}"),
        (["--seed", "-1"], "argument --seed: expected an integer from 0"),
        (["--participants", "99999999999999999999"], "argument --participants: expected an integer <="),
        (["--reversals", "99999999999999999999"], "argument --reversals: expected an integer <="),
        (["--param", "a=nan"], "--param a=nan: expected NAME=NUMBER (finite)"),
        (["--param", "scaler=1e400"], "--param scaler=1e400: expected NAME=NUMBER (finite)"),
        (["--param", "a=1", "--param", "a=2"], "'a' is given twice"),
        (["--means", "0.1", "0.5", "0.9"], "--means: got 3 arm means for 2 options"),
        (["--means", "nan", "0.5"], "argument --means: expected a finite number, got nan"),
        (["--reversals", "500"], "--reversals 500: after the last trial (--trials 5 gives trials 0 .. 4)"),
        (["--choices", "0,,1", "--decision", "softmax"], "--choices 0,,1: item 2 is empty"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_simulate_usage_errors_are_one_line(capsys, tmp_path: Path, extra, match):
    out = tmp_path / "x.csv"
    line = _usage_error(capsys, [*SIM, *extra, "--out", str(out)])
    assert match in line, line
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, match",
    [
        (["demo", "--chains", "0"], "argument --chains: expected an integer >= 1, got 0 (see rlssm demo --help)"),
        (["demo", "--max-tree-depth", "0"], "argument --max-tree-depth: expected an integer >= 1"),
        (["demo", "--bogus", "1"], "unrecognized arguments: --bogus 1 (see rlssm demo --help)"),
        (["fit"], "the following arguments are required: data"),
        (["check"], "the following arguments are required: data"),
        (["calibrate", "--seed", "99999999999999999999"], "argument --seed: expected an integer from 0"),
        (["calibrate", "--decision", "rdm"], "argument --decision: invalid choice: 'rdm'"),
        (["bogus"], "argument command: invalid choice: 'bogus'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_argparse_errors_are_one_line_everywhere(capsys, argv, match):
    """argparse prints its usage block before the error; the commands print one line."""
    assert match in _usage_error(capsys, argv)


def test_simulate_unwritable_out_fails_before_simulating(capsys, tmp_path: Path, monkeypatch):
    import rlssm.model

    def no_simulation(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr(rlssm.model.RLSSM, "simulate", no_simulation)
    for out, match in [("/proc/x.csv", "--out /proc/x.csv: cannot write the file"),
                       (str(tmp_path / "nowhere" / "x.csv"), "does not exist"),
                       (str(tmp_path), "is a folder, expected a file name")]:
        assert match in _usage_error(capsys, [*SIM, "--out", out])


def test_demo_full_refuses_to_override_given_options(capsys):
    line = _usage_error(capsys, ["demo", "--full", "--chains", "1"])
    assert "--full sets --participants 20" in line and "leave out --chains" in line


def test_calibrate_flat_refuses_participants(capsys, tmp_path: Path):
    line = _usage_error(capsys, ["calibrate", "--participants", "5", "--out", str(tmp_path / "c")])
    assert "--participants 5: --fit flat calibrates one participant per replicate" in line


# --------------------------------------------------- --out checked before any work (item 5)
@pytest.mark.parametrize("command", ["calibrate", "demo", "fit"])
def test_unwritable_out_fails_before_any_fit(capsys, tmp_path: Path, monkeypatch, command):
    """`--out /proc/x` (or a file) is refused before any simulation or fit runs."""
    import rlssm.calibration
    import rlssm.fitting

    def no_fit(*args, **kwargs):
        raise AssertionError("a fit ran before --out was checked")

    monkeypatch.setattr(rlssm.calibration, "sbc", no_fit)
    monkeypatch.setattr(rlssm.fitting.Hierarchical, "sample", no_fit)
    data = tmp_path / "data.csv"
    pd.DataFrame(dict(participant_id=[0, 0], trial_id=[0, 1], response=[0, 1], rt=[0.5, 0.6],
                      feedback=[1.0, 0.0])).to_csv(data, index=False)
    afile = tmp_path / "afile"
    afile.write_text("x")
    head = {"calibrate": ["calibrate", "--replicates", "2", "--trials", "5"], "demo": ["demo"],
            "fit": ["fit", str(data)]}[command]
    small = ["--chains", "1", "--tune", "2", "--draws", "2"]
    line = _usage_error(capsys, [*head, *small, "--out", "/proc/x"])
    assert "--out /proc/x: cannot create the folder" in line, line
    line = _usage_error(capsys, [*head, *small, "--out", str(afile)])
    assert f"--out {afile}: is a file, expected a folder" in line, line


def test_fixed_exact_model_has_no_range_check(angle_onnx):
    """`rlssm demo --decision lba` warned "a decision parameter of Fixed lies outside its
    valid range" (LBA's default bounds taken for a LAN's training box): `Fixed` forwards
    ``check_params``, so only the wrapped model says whether there is a check."""
    from rlssm.hssm_bridge import has_range_check

    three = (0, 1, 2)
    lba = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Fixed(rlssm.LBA(n_options=3), s=1.0), rlssm.RaceScaling(),
                      choices=three)
    lan = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Fixed(rlssm.AngleLAN(angle_onnx), z=0.5))
    assert not has_range_check(lba)
    assert has_range_check(lan)
