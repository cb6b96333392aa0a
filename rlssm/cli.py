"""Command line: ``rlssm demo | fit | simulate | check | calibrate``.

``rlssm demo`` is the main job: it simulates the seed tutorial's design (two-armed
Gaussian bandit; three arms for the decision models of any number of options) with known
parameters, fits the hierarchical dual-rate Rescorla-Wagner model with the decision model
of ``--decision`` (the exact angle model by default) with NUTS, prints the group
parameters next to the truth, and writes plots, the data and the InferenceData to an
output folder. It needs no network.

Usage errors (bad options, invalid data or settings, an unwritable ``--out``) end with
one line, ``rlssm <command>: error: ...``, and exit status 2, before any sampling.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ._errors import DataError

RULES = {"dual": "DualRateRW", "rw": "RescorlaWagner"}
DECISIONS = {
    "angle": "Angle", "ddm": "DDM", "angle-lan": "AngleLAN", "softmax": "Softmax", "rdm": "RDM", "lba": "LBA",
}
# Decision models of any number of options (built with n_options = len(choices)) and
# the mapping each gets: values for the softmax, scaled values as race drifts.
N_OPTION = {"softmax": "Values", "rdm": "RaceScaling", "lba": "RaceScaling"}
# Decision parameters the command line holds at constants (`rlssm.Fixed`): the LBA's
# drift sd `s` sets the scale of its drifts and thresholds, which are not identified
# without it (Brown & Heathcote, 2008, fix it at 1), so a fit of it would wander.
HELD = {"lba": {"s": 1.0}}

# Group-level generating values of the demo, (mean, sd between participants) in natural
# units: the seed tutorial's group means (its data file's params_true_group) with a
# lower rate for negative prediction errors for the learning rule, and for each
# --decision its own parameters (the seed's for the boundary models; for the others
# values inside their bounds that give a learning curve clearly above chance).
DEMO_RULE_TRUTH = {"rl_alpha": (0.66, 0.034), "rl_alpha_neg": (0.35, 0.034)}
_SEED_DDM = {"scaler": (2.78, 0.11), "a": (1.48, 0.068), "z": (0.27, 0.03), "t": (0.44, 0.014)}
DEMO_DECISION_TRUTH: dict[str, dict[str, tuple[float, float]]] = {
    "angle": _SEED_DDM | {"theta": (0.31, 0.035)},
    "ddm": _SEED_DDM,
    "angle-lan": _SEED_DDM | {"theta": (0.31, 0.035)},
    "softmax": {"beta": (6.0, 0.5)},
    "rdm": {"scaler": (2.5, 0.1), "A": (0.5, 0.05), "B": (1.0, 0.05), "t": (0.3, 0.02)},
    "lba": {"scaler": (3.0, 0.1), "A": (0.5, 0.05), "B": (0.8, 0.05), "t": (0.3, 0.02)},
}
# The demo's bandit: the seed's two arms, and three for the models of any number of
# options (their own design: a middle arm makes the choice more than a binary one).
DEMO_ARMS = {d: (0.2, 0.5, 0.8) if d in N_OPTION else (0.2, 0.8) for d in DECISIONS}


def demo_truth(decision: str) -> dict[str, float]:
    """The demo's group means of ``--decision``'s model (rule, mapping and decision parameters)."""
    return {k: mean for k, (mean, _) in (DEMO_RULE_TRUTH | DEMO_DECISION_TRUTH[decision]).items()}


LAPSES = ("none", "uniform", "guesses")
"""``--lapse``: no lapse mixture; rlssm.Lapse's default lapse density (uniform on [0, 20] s,
HSSM's); fast guesses, uniform on `GUESS_WINDOW`."""

GUESS_WINDOW = (0.0, 0.3)
"""Seconds: the lapse times of ``--lapse guesses`` (Ollman's fast-guess model)."""


def _model(rule: str, decision: str, choices: Sequence[Any], precision: str, lapse: str = "none"):
    from . import decision as decisions
    from . import learning, mapping
    from .model import RLSSM

    r = getattr(learning, RULES[rule])()
    cls = getattr(decisions, DECISIONS[decision])
    if decision not in N_OPTION and len(choices) != 2:
        raise ValueError(
            f"--decision {decision} has two options, got --choices with {len(choices)}; "
            f"for more options use one of {tuple(N_OPTION)}"
        )
    d = cls(n_options=len(choices)) if decision in N_OPTION else cls()
    if decision in HELD:
        d = decisions.FixedDecisionModel(d, **HELD[decision])
    if lapse == "uniform":
        d = decisions.Lapse(d)
    elif lapse == "guesses":
        d = decisions.Lapse(d, rt=decisions.UniformRT(*GUESS_WINDOW))
    m = getattr(mapping, N_OPTION[decision])() if decision in N_OPTION else None
    return RLSSM(r, d, m, choices=tuple(choices), precision=precision)  # type: ignore[arg-type]


def _choices(text: str) -> tuple[Any, ...]:
    """``--choices``: comma-separated response values, each an int, a float or else a string."""
    out: list[Any] = []
    for k, item in enumerate(text.split(",")):
        item = item.strip()
        if not item:
            # An empty item would be a response value "" (a stray comma, not an option).
            raise ValueError(f"--choices {text}: item {k + 1} is empty; list the response values, e.g. 0,1,2")
        try:
            out.append(int(item))
        except ValueError:
            try:
                out.append(float(item))
            except ValueError:
                out.append(item)
    return tuple(out)


def _draw_participants(model, decision: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """Each participant's generating parameters: normal around the demo's group means,
    kept inside the model's bounds (1% of the range from either end)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (mean, sd) in (DEMO_RULE_TRUTH | DEMO_DECISION_TRUTH[decision]).items():
        lower, upper = model.bounds[name]
        margin = 0.01 * (upper - lower) if np.isfinite(upper - lower) else 0.01
        out[name] = np.clip(rng.normal(mean, sd, size=n), lower + margin, upper - margin)
    return out


def _fit(model, data: pd.DataFrame, args: argparse.Namespace, hierarchical: bool):
    """Build the model and sample it; returns (fitted model, idata, seconds).

    Hierarchical: rlssm's own PyMC model (`rlssm.fitting.Hierarchical`). Flat: HSSM
    through `RLSSM.to_hssm`. Both answer `posterior_predictive` and `posterior_rows`.
    """
    from .fitting import Hierarchical, default_include, sample

    formulas = _pairs(
        getattr(args, "formula", None), "--formula", "FORMULA", "a=1 + condition + (1 | participant_id)", str
    )
    fixed = _pairs(getattr(args, "fixed", None), "--fixed", "VALUE (finite)", "z=0.5", _finite)
    if formulas and not hierarchical:
        raise ValueError("--formula needs the hierarchical fit; leave out --flat")
    _check_names(model, formulas, "--formula")
    _check_names(model, fixed, "--fixed")
    if hierarchical:
        fit = Hierarchical(model, data, formulas=formulas, fixed=fixed)
        start = time.perf_counter()
        idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed,
                           max_tree_depth=_tree_depth(args))
        return fit, idata, time.perf_counter() - start
    include = [spec for spec in default_include(model, data, hierarchical=False) if spec.name not in fixed]
    hm = model.to_hssm(data, include=include, fixed=fixed)
    start = time.perf_counter()
    depth = {} if args.max_tree_depth is None else {"nuts": {"max_tree_depth": args.max_tree_depth}}
    idata = sample(hm, chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed, **depth)
    return hm, idata, time.perf_counter() - start


def _tree_depth(args: argparse.Namespace) -> int | tuple[int, int]:
    """NUTS' tree depth limit: ``--max-tree-depth``, else the fits' default (7 in
    warm-up, 10 for the draws)."""
    return (7, 10) if args.max_tree_depth is None else args.max_tree_depth


def _pairs(items: Sequence[str] | None, flag: str, form: str, example: str, kind: Any) -> dict[str, Any]:
    """``NAME=<form>`` command-line items as a dict, each value converted by ``kind``
    (`ValueError`, one line and exit 2, for an item not of that form)."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip() or not value.strip():
                raise ValueError(item)
            converted = kind(value.strip())
        except ValueError:
            raise ValueError(f"{flag} {item}: expected NAME={form}, e.g. {flag} '{example}'") from None
        if name.strip() in out:
            # Two values for one name: neither wins silently.
            raise ValueError(f"{flag} {item}: {name.strip()!r} is given twice; give each name once")
        out[name.strip()] = converted
    return out


def _finite(text: str) -> float:
    """A finite number (`ValueError` for anything else: NaN and infinities included)."""
    value = float(text)
    if not np.isfinite(value):
        raise ValueError(text)
    return value


def _check_names(model, given: dict[str, Any], flag: str) -> None:
    """Every name of ``given`` is one of the model's parameters (`ValueError` naming it,
    the parameters, and the mapping that computes it when it is a decision input)."""
    from .decision import FixedDecisionModel

    held = model.decision_model.held if isinstance(model.decision_model, FixedDecisionModel) else {}
    for name in given:
        if name in model.param_names:
            continue
        hint = ""
        if name in model.composition.computed:
            hint = (f"; {name} is computed from the values by the mapping {type(model.mapping).__name__}, "
                    "set the mapping's parameters instead")
        elif name in held:
            hint = f"; the command line holds {type(model.decision_model.model).__name__}'s {name} at {held[name]:g}"
        raise ValueError(f"{flag} {name}=...: {name!r} is not a parameter of this model; "
                         f"its parameters: {', '.join(model.param_names)}{hint}")


def _out_dir(path: str) -> Path:
    """The output folder ``--out``, created with its parents and checked writable, so
    that a bad path fails before any simulation or sampling (`OSError`: one line, exit 2)."""
    if not path.strip():
        raise OSError("--out is empty; name the output folder")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OSError(f"--out {path}: is a file, expected a folder (the command writes several files there)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"--out {path}: cannot create the folder ({err.strerror or err})") from None
    try:
        # A real write: permission bits say nothing for root or on special file systems.
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise OSError(f"--out {path}: cannot write in the folder ({err.strerror or err})") from None
    return out


def _out_file(path: str) -> Path:
    """The output file ``--out``, checked writable (its folder exists and takes files)
    before any simulation (`OSError`: one line, exit 2)."""
    if not path.strip():
        raise OSError("--out is empty; name the output file, e.g. --out simulated.csv")
    out = Path(path)
    if out.is_dir():
        raise OSError(f"--out {path}: is a folder, expected a file name such as simulated.csv")
    folder = out.parent
    if not folder.is_dir():
        raise OSError(f"--out {path}: the folder {str(folder)!r} does not exist")
    existed = out.exists()
    try:
        # A real write test (append mode keeps an existing file's content until the command replaces it).
        with open(out, "a"):
            pass
    except OSError as err:
        raise OSError(f"--out {path}: cannot write the file ({err.strerror or err})") from None
    if not existed:
        out.unlink()  # the command writes it once its data is ready
    return out


def _decision_name(decision_model: Any) -> str:
    """A decision model's class name, with the values `rlssm.Fixed` holds (``LBA, s = 1``)."""
    from .decision import FixedDecisionModel

    if isinstance(decision_model, FixedDecisionModel):
        held = ", ".join(f"{k} = {v:g}" for k, v in decision_model.held.items())
        return f"{type(decision_model.model).__name__} ({held} held)"
    return type(decision_model).__name__


def _json_object(text: str) -> dict[str, Any]:
    """A JSON object (`ValueError` for anything else, invalid JSON included)."""
    spec = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(spec, dict):
        raise ValueError(text)
    return spec


def _group_table(model, idata, truth: dict[str, float] | None, fit: Any = None) -> pd.DataFrame:
    from .fitting import Hierarchical, group_names
    from .fitting import group_summary as fit_summary
    from .plots import group_summary

    if isinstance(fit, Hierarchical) and (fit.regressions or fit.fixed):
        # Coefficients and effects: the fit's own table, one row per element.
        table = fit_summary(fit, idata).rename(columns={"q05": "lower", "q95": "upper"})
        return table.loc[[i for i in table.index if not str(i).endswith("_sigma") and "_sigma[" not in str(i)]]

    names = group_names(model, idata)
    table = group_summary(idata, list(names.values()))
    table.index = list(names.keys())
    if truth is not None:
        table.insert(0, "truth", [truth.get(k, np.nan) for k in table.index])
        table["covered"] = (table["lower"] <= table["truth"]) & (table["truth"] <= table["upper"])
    return table


def participant_estimates(model, hm: Any, idata: Any, mass: float = 0.9):
    """Per-participant posterior mean and central interval of every parameter.

    Returns three dicts ``name -> (P,)`` (mean, lower, upper) in sorted participant order.
    """
    from .simulation import posterior_rows

    rows, _, _ = posterior_rows(model, hm, idata, None, 0)
    layout = model.prepare(hm.rlssm_data)
    first = np.array([np.flatnonzero(layout.row_participant == p)[0] for p in range(layout.n_participants)])
    lo_q, hi_q = (1 - mass) / 2, 1 - (1 - mass) / 2
    mean, lower, upper = {}, {}, {}
    for name, v in rows.items():
        per = np.broadcast_to(v, (v.shape[0], len(layout.row_participant)))[:, first]
        mean[name] = per.mean(axis=0)
        lower[name] = np.quantile(per, lo_q, axis=0)
        upper[name] = np.quantile(per, hi_q, axis=0)
    return mean, lower, upper


def _sampler_line(idata: Any) -> str:
    """Divergences and tree depth: what says whether NUTS explored the posterior cleanly."""
    stats = idata["sample_stats"]
    diverging = np.asarray(stats["diverging"])
    depth = np.asarray(stats["tree_depth"]) if "tree_depth" in stats else None
    line = f"divergent draws: {int(diverging.sum())} of {diverging.size}"
    if depth is not None:
        line += f"; tree depth mean {depth.mean():.2f}, max {int(depth.max())}"
    return line


def _print_table(table: pd.DataFrame) -> None:
    cols = [c for c in ("truth", "mean", "lower", "upper", "covered", "r_hat", "ess_bulk")
            if c in table.columns]
    shown = cast(pd.DataFrame, table[cols]).rename(columns={"lower": "5%", "upper": "95%"})
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print(shown.to_string())


def _save_idata(idata: Any, path: Path) -> None:
    try:
        idata.to_netcdf(str(path))
    except Exception as err:  # noqa: BLE001 - report and keep going; plots still useful
        print(f"warning: could not write {path}: {err}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from .environments import GaussianBandit

    from .plots import (
        plot_choice_proportions,
        plot_learning_curves,
        plot_participant_values,
        plot_posterior_vs_truth,
        plot_recovery,
    )

    out = _out_dir(args.out)
    arms = DEMO_ARMS[args.decision]
    model = _model("dual", args.decision, tuple(range(len(arms))), args.precision)
    env = GaussianBandit(means=arms, sd=0.1)
    truth = demo_truth(args.decision)
    truth_part = _draw_participants(model, args.decision, args.participants, args.seed)
    print(f"Simulating {args.participants} participants x {args.trials} trials of a {len(arms)}-armed bandit "
          f"({type(model.learning_rule).__name__} + {_decision_name(model.decision_model)}) ...")
    data = model.simulate(truth_part, env, n_participants=args.participants, n_trials=args.trials,
                          seed=args.seed)
    data.to_csv(out / "data.csv", index=False)
    print(f"Fitting the hierarchical model: {args.chains} chains x ({args.tune} tune + "
          f"{args.draws} draws) with NUTS (numpyro) ...")
    hm, idata, seconds = _fit(model, data, args, hierarchical=True)
    table = _group_table(model, idata, truth)
    print(f"\nSampling took {seconds:.1f} s; {_sampler_line(idata)}. Group-level means (90% interval):")
    _print_table(table)
    print(f"90% interval coverage of the group means: {int(cast(pd.Series, table['covered']).sum())}/{len(table)}")
    table.to_csv(out / "group_parameters.csv")
    _save_idata(idata, out / "idata.nc")

    fig = plot_posterior_vs_truth(table, truth)
    fig.savefig(out / "posterior_vs_truth.png", dpi=110)
    plt.close(fig)
    est, lo, hi = participant_estimates(model, hm, idata)
    fig = plot_recovery(truth_part, est, lo, hi)
    fig.savefig(out / "recovery_participants.png", dpi=110)
    plt.close(fig)
    ppc = model.posterior_predictive(hm, idata, mode="generative", env=env,
                                     n_draws=min(args.ppc_draws, args.chains * args.draws), seed=args.seed)
    fig = plot_learning_curves(data, ppc, choices=model.choices)
    fig.savefig(out / "learning_curves.png", dpi=110)
    plt.close(fig)
    if model.n_options > 2:
        # "The better option" alone hides which of the others was chosen.
        fig = plot_choice_proportions(data, ppc, choices=model.choices)
        fig.savefig(out / "choice_proportions.png", dpi=110)
        plt.close(fig)
    point = {k: float(np.asarray(v).mean()) for k, v in truth_part.items()}
    fig = plot_participant_values(model, data, point, participant=0)
    fig.savefig(out / "participant_0_values.png", dpi=110)
    plt.close(fig)
    print(f"\nWrote data.csv, group_parameters.csv, idata.nc and plots to {out}/")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from .plots import plot_posterior_vs_truth

    data = pd.read_csv(args.data)
    model = _model(args.rule, args.decision, _choices(args.choices), args.precision, args.lapse)
    model.prepare(data)  # a DataError here, before any sampling
    out = _out_dir(args.out)
    hm, idata, seconds = _fit(model, data, args, hierarchical=not args.flat)
    table = _group_table(model, idata, None, hm)
    print(f"Sampling took {seconds:.1f} s; {_sampler_line(idata)}. Group-level parameters (90% interval):")
    _print_table(table)
    table.to_csv(out / "group_parameters.csv")
    _save_idata(idata, out / "idata.nc")
    fig = plot_posterior_vs_truth(table)
    fig.savefig(out / "posterior.png", dpi=110)
    plt.close(fig)
    print(f"Wrote group_parameters.csv, idata.nc and posterior.png to {out}/")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .environments import GaussianBandit

    model = _model(args.rule, args.decision, _choices(args.choices), args.precision, args.lapse)
    out = _out_file(args.out)
    params: dict[str, Any] = dict(model.default_params)
    params.update({k: v for k, v in demo_truth(args.decision).items() if k in params})
    given = _pairs(args.param, "--param", "NUMBER (finite)", "scaler=3", _finite)
    _check_names(model, given, "--param")
    params.update(given)
    late = [r for r in args.reversals if r >= args.trials]
    if late:
        # A reversal after the last trial would silently never happen.
        raise ValueError(f"--reversals {' '.join(map(str, late))}: after the last trial "
                         f"(--trials {args.trials} gives trials 0 .. {args.trials - 1})")
    if args.means is not None and len(args.means) != model.n_options:
        raise ValueError(f"--means: got {len(args.means)} arm means for {model.n_options} options "
                         f"(--choices {args.choices}); give one per option")
    # Default arm means: evenly spaced from 0.2 to 0.8, one per option.
    means = tuple(args.means) if args.means else tuple(np.linspace(0.2, 0.8, model.n_options).round(4))
    env = GaussianBandit(means=means, sd=args.sd, reversals=tuple(args.reversals))
    data = model.simulate(params, env, n_participants=args.participants, n_trials=args.trials,
                          seed=args.seed)
    data.to_csv(out, index=False)
    print(f"Wrote {len(data)} trials of {args.participants} participants to {args.out}")
    print("Parameters: " + json.dumps(params))
    return 0


def check_report(data: pd.DataFrame, model, findings: Sequence[Any] | None = None) -> list[str]:
    """Lines of a validation report, then the findings of `rlssm.screening.screen` (one
    line each, with its remedy); raises `DataError` when the data is invalid.

    ``findings`` are those of ``screen(data)`` when already computed.
    """
    import warnings

    from .screening import screen, severities

    if findings is None:
        findings = screen(data, with_rt=not model.decision_model.choice_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # prepare's millisecond warning is one of screen's findings, in plain words.
        warnings.filterwarnings("ignore", message=r"column 'rt': the median response time", category=UserWarning)
        layout = model.prepare(data)
    counts = layout.valid.sum(axis=1)
    missed = int((layout.valid & ~layout.observed).sum())
    lines = [
        f"rows: {len(data)}",
        f"participants: {layout.n_participants}",
        f"trials per participant: min {counts.min()}, median {int(np.median(counts))}, max {counts.max()}"
        + ("" if counts.min() == counts.max() else " (unequal: fine, rlssm pads and masks)"),
        f"response coding: {model.choices} -> options {tuple(range(model.n_options))}; "
        f"decision model coding {model.decision_model.choices}",
        f"missed trials ({'response' if model.decision_model.choice_only else 'rt and response'} NaN): {missed}",
        f"blocks: {'yes, ' + str(data['block'].nunique()) + ' labels' if layout.has_block else 'no block column'}",
        f"states: {'yes, ' + str(len(layout.states)) + ' states' if layout.has_state else 'no state column'}",
    ]
    if model.decision_model.choice_only:
        lines.append("rt: not used (choice-only model)")
    else:
        rt = data["rt"]
        lines.append(f"rt: min {np.nanmin(rt):.3f} s, median {np.nanmedian(rt):.3f} s, max {np.nanmax(rt):.3f} s")
    lines += [f"warning: {w.message}" for w in caught]
    if findings:
        lines += [f"findings: {severities(findings)}", *map(str, findings)]
    return lines


def cmd_check(args: argparse.Namespace) -> int:
    from .io import detect_format, from_hssm, load_hbayesdm, read_table
    from .screening import screen, severities

    fmt = detect_format(args.data) if args.format == "auto" else args.format
    head: list[str] = []
    data: pd.DataFrame | None = None
    findings: list[Any] | None = None
    try:
        if fmt == "hbayesdm":
            data = load_hbayesdm(args.data, rt_unit=args.rt_unit)
        elif fmt == "hssm":
            raw = read_table(args.data)
            data = from_hssm(raw, feedback="feedback" if "feedback" in raw.columns else None)
        else:
            data = read_table(args.data)
        if "rlssm_source" in data.attrs:
            how = ("detected from the columns; --format rlssm reads the file as it is" if args.format == "auto"
                   else f"--format {fmt}")
            head.append(f"format: {data.attrs['rlssm_source']} ({how})")
        if args.choices is not None:
            choices = _choices(args.choices)
        elif fmt == "rlssm":
            choices = (0, 1)
        else:
            # hBayesDM codes options 1, 2, ...; HSSM -1/1 or 0/1: the values found, said aloud.
            found = cast(pd.Series, pd.to_numeric(data["response"], errors="coerce")).dropna().unique()
            choices = tuple(int(v) if float(v).is_integer() else float(v) for v in sorted(found))
            head.append(f"choices: {choices}, the response values found in the data (declare them with --choices)")
        model = _model(args.rule, args.decision, choices, "float64", args.lapse)
        findings = screen(data, with_rt=not model.decision_model.choice_only)
        lines = check_report(data, model, findings)
    except DataError as err:
        print(f"INVALID: {err}")
        if findings is None and data is not None:
            findings = screen(data)
        for line in head + ([f"findings: {severities(findings)}", *map(str, findings)] if findings else []):
            print("  " + line)
        return 1
    errors = [f for f in findings if f.severity == "error"]
    print(f"INVALID: {errors[0].message}" if errors else "OK: the data is valid for rlssm")
    for line in head + lines:
        print("  " + line)
    return 1 if errors else 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    import matplotlib.pyplot as plt

    from .calibration import SEED_PRIOR, sbc
    from .environments import GaussianBandit

    model = _model(args.rule, args.decision, (0, 1), args.precision)
    example = 't={"name": "TruncatedNormal", "mu": 0.3, "sigma": 0.05}'
    given = _pairs(args.prior, "--prior", "JSON", example, _json_object)
    fit_given = _pairs(args.fit_prior, "--fit-prior", "JSON", example, _json_object)
    base = {} if args.default_prior else {k: v for k, v in SEED_PRIOR.items() if k in model.param_names}
    prior = base | given
    fit_prior = prior | fit_given if fit_given else None
    hierarchical = args.fit == "hierarchical"
    if not hierarchical and args.participants is not None:
        raise ValueError(f"--participants {args.participants}: --fit flat calibrates one participant per "
                         "replicate; use --fit hierarchical for groups")
    participants = (args.participants or 8) if hierarchical else 1
    env = GaussianBandit(means=(0.2, 0.8), sd=0.1)
    out = _out_dir(args.out)  # before the fits, which may take hours
    print(f"Calibrating ({args.fit}): {args.replicates} replicates of {participants} participant(s) x "
          f"{args.trials} trials, {args.chains} chain(s) x ({args.tune} tune + {args.draws} draws), thin {args.thin} ...")
    result = sbc(model, env, prior=prior, n_participants=participants, n_trials=args.trials,
                 n_replicates=args.replicates, fit=args.fit, chains=args.chains, tune=args.tune, draws=args.draws,
                 thin=args.thin, seed=args.seed, fit_prior=fit_prior, batch_size=args.batch_size,
                 max_tree_depth=_tree_depth(args),
                 progress=lambda line: print("  " + line, flush=True))
    result.ranks.to_csv(out / "ranks.csv")
    table = result.uniformity()
    table.to_csv(out / "uniformity.csv")
    fig = result.plot()
    fig.savefig(out / "ecdf.png", dpi=110)
    plt.close(fig)
    print(f"\nRank uniformity ({args.replicates} replicates, ranks 0..{result.n_ranks}; p < 0.05 flags a variable):")
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        print(table.loc[result.group_variables(), ["chi2_p", "ecdf_p", "mean_rank"]].to_string())
    print(f"Wrote ranks.csv, uniformity.csv and ecdf.png to {out}/")
    return 0


COUNT_MAX = 2**31 - 1  # counts and indices are int32 inside JAX


def _count(minimum: int):
    """An argparse type: an integer from ``minimum`` to `COUNT_MAX` (argparse's one-line error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        if value > COUNT_MAX:
            raise argparse.ArgumentTypeError(f"expected an integer <= {COUNT_MAX}, got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a positive, finite number."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


SEED_MAX = 2**32 - 1


def _seed(text: str) -> int:
    """An argparse type: a seed, an integer in 0 .. 2**32 - 1 (numpy's, JAX's and
    PyMC's seeds all take it; larger ones overflow a C long in some of them)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to {SEED_MAX}, got {value}")
    return value


def _number(text: str) -> float:
    """An argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


# `rlssm demo --full`: the seed's size.
FULL = {"participants": 20, "trials": 200, "chains": 4, "tune": 1000, "draws": 1000}


class _Given(argparse.Action):
    """argparse's "store", also recording the option in ``namespace.given`` (so that
    ``--full`` can refuse to override an option given with it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = (*namespace.given, self.option_strings[0])


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its usage errors on one line, as the commands' own: the
    usage block that argparse prints first is replaced by a pointer to ``--help``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rlssm", description="Hierarchical reinforcement-learning sequential-sampling models: "
                                          "simulate, fit, check and calibrate. rlssm COMMAND --help describes "
                                          "each command's options.")
    sub = p.add_subparsers(dest="command", required=True)
    decisions = ", ".join(DECISIONS)
    two = ", ".join(d for d in DECISIONS if d not in N_OPTION)
    many = ", ".join(N_OPTION)
    mappings = ", ".join(f"{d}: {m}" for d, m in N_OPTION.items())
    held = "".join(f"; {d} holds {', '.join(f'{k} = {v:g}' for k, v in values.items())}"
                   for d, values in HELD.items())

    def sampling(sp: argparse.ArgumentParser, chains: int, tune: int, draws: int, depth: str = "") -> None:
        sp.add_argument("--chains", type=_count(1), default=chains, action=_Given,
                        help="number of NUTS chains (default: %(default)s)")
        sp.add_argument("--tune", type=_count(0), default=tune, action=_Given,
                        help="warm-up (tuning) iterations per chain, discarded (default: %(default)s)")
        sp.add_argument("--draws", type=_count(1), default=draws, action=_Given,
                        help="posterior draws kept per chain (default: %(default)s)")
        sp.add_argument("--max-tree-depth", type=_count(1), default=None,
                        help="NUTS' tree depth limit, at most 2**depth - 1 gradient steps per draw "
                             f"(default: 7 in warm-up, 10 for the draws{depth})")
        seed(sp)
        precision(sp)
        sp.set_defaults(given=())

    def seed(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--seed", type=_seed, default=0,
                        help=f"random seed, 0 to {SEED_MAX}; the same seed gives the same result (default: %(default)s)")

    def precision(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--precision", choices=("float32", "float64"), default="float64",
                        help="floating-point precision of the model's computations (default: %(default)s)")

    def model_options(sp: argparse.ArgumentParser, choices: bool = True) -> None:
        sp.add_argument("--rule", choices=tuple(RULES), default="dual",
                        help="learning rule: dual = DualRateRW (rates for positive and negative prediction "
                             "errors), rw = RescorlaWagner (one rate) (default: %(default)s)")
        sp.add_argument("--decision", choices=tuple(DECISIONS), default="angle",
                        help=f"decision model, one of {decisions}; {many} take any number of options "
                             f"(mappings {mappings}){held} (default: %(default)s)")
        sp.add_argument("--lapse", choices=LAPSES, default="none",
                        help="mix lapses into the decision model (rlssm.Lapse, parameter p_outlier): none; "
                             "uniform = lapse times uniform on [0, 20] s (HSSM's); guesses = fast guesses, "
                             "uniform on [0, 0.3] s; the option at random either way (default: %(default)s)")
        if choices:
            sp.add_argument("--choices", default="0,1",
                            help="the data's response values in option order, comma-separated, e.g. 0,1 or "
                                 "0,1,2; write --choices=-1,1 for negative values (default: %(default)s)")

    d = sub.add_parser("demo", help="simulate the seed design, fit it, summarise, plot (the main job)",
                       description="Simulate a bandit task from known group parameters, fit the hierarchical "
                                   "model, print the group means next to the truth and write data, "
                                   "InferenceData and plots to --out.")
    d.add_argument("--participants", type=_count(1), default=8, action=_Given,
                   help="number of simulated participants (default: %(default)s)")
    d.add_argument("--trials", type=_count(1), default=120, action=_Given,
                   help="trials per participant (default: %(default)s)")
    d.add_argument("--decision", choices=tuple(DECISIONS), default="angle",
                   help=f"decision model, one of {decisions}, each with its own generating parameters; "
                        f"{many} play a three-armed bandit, the others the seed's two arms{held} "
                        "(default: %(default)s)")
    d.add_argument("--ppc-draws", type=_count(1), default=50,
                   help="posterior draws in the generative predictive check of the learning-curve plot, "
                        "at most chains x draws (default: %(default)s)")
    d.add_argument("--out", default="rlssm_output",
                   help="output folder, created if missing (default: %(default)s)")
    d.add_argument("--full", action="store_true",
                   help="the seed's full size: 20 participants x 200 trials, 4 chains x (1000 + 1000) "
                        "(then leave out those five options) (default: off)")
    sampling(d, chains=2, tune=300, draws=300)
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("fit", help="fit a model to DATA.csv",
                       description="Fit a model to a CSV file (columns participant_id, trial_id, response, "
                                   "rt, feedback) and write the group parameters, InferenceData and a plot.")
    f.add_argument("data", help="the data, a CSV file with one row per trial")
    model_options(f)
    f.add_argument("--flat", action="store_true",
                   help="one set of parameters for everyone, fitted with HSSM (default: off, hierarchical)")
    f.add_argument("--formula", action="append", metavar="NAME=FORMULA",
                   help="a regression for one parameter, e.g. --formula 'a=1 + condition + (1 | participant_id)'; "
                        "repeat for more parameters (default: none)")
    f.add_argument("--fixed", action="append", metavar="NAME=VALUE",
                   help="hold a parameter at a constant, e.g. --fixed z=0.5; repeat for more (default: none)")
    f.add_argument("--out", default="rlssm_fit", help="output folder, created if missing (default: %(default)s)")
    sampling(f, chains=2, tune=500, draws=500, depth="; with --flat, numpyro's 10 throughout")
    f.set_defaults(func=cmd_fit)

    s = sub.add_parser("simulate", help="simulate a bandit data set to CSV",
                       description="Simulate participants on a Gaussian bandit and write the trials to a CSV "
                                   "file. Parameters not given with --param take the demo's group means.")
    model_options(s)
    s.add_argument("--participants", type=_count(1), default=20,
                   help="number of participants (default: %(default)s)")
    s.add_argument("--trials", type=_count(1), default=200, help="trials per participant (default: %(default)s)")
    s.add_argument("--means", type=_number, nargs="+", default=None,
                   help="arm means of the Gaussian bandit, one per option (default: 0.2 to 0.8, evenly spaced)")
    s.add_argument("--sd", type=_positive, default=0.1,
                   help="standard deviation of every arm's reward (default: %(default)s)")
    s.add_argument("--reversals", type=_count(0), nargs="*", default=[],
                   help="trial indices at which the arms' means are permuted (default: none)")
    s.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a parameter's value for every participant, e.g. --param scaler=3; repeat for more "
                        "(default: the demo's group means)")
    seed(s)
    precision(s)
    s.add_argument("--out", default="simulated.csv", help="output CSV file (default: %(default)s)")
    s.set_defaults(func=cmd_simulate)

    c = sub.add_parser("check", help="validate DATA.csv and print a report (exit 1 if invalid)",
                       description="Validate a data file for a model and print a report; exit status 1 "
                                   "when the data is invalid.")
    c.add_argument("data", help="the data: a CSV file with one row per trial, or tab-separated text "
                                "(hBayesDM's task files)")
    model_options(c, choices=False)
    c.add_argument("--choices", default=None,
                   help="the data's response values in option order, comma-separated, e.g. 0,1 or 1,2; write "
                        "--choices=-1,1 for negative values (default: 0,1 for rlssm data; the values found "
                        "for hBayesDM and HSSM data)")
    c.add_argument("--format", choices=("auto", "rlssm", "hbayesdm", "hssm"), default="auto",
                   help="the file's format: rlssm's columns; hBayesDM's task files (subjID, choice, outcome, "
                        "choice.RT in ms, block, trial), read with rlssm.load_hbayesdm; HSSM's data (rt, "
                        "response, participant_id; rt -999 missing), read with rlssm.from_hssm; auto: "
                        "hBayesDM's when the columns are (subjID and choice), rlssm's otherwise (default: %(default)s)")
    c.add_argument("--rt-unit", choices=("ms", "s"), default="ms",
                   help="the unit of hBayesDM's response-time column (default: %(default)s)")
    c.set_defaults(func=cmd_check)

    k = sub.add_parser("calibrate", help="simulation-based calibration: prior draws, simulate, fit, rank statistics",
                       description="Simulation-based calibration (Talts et al., 2018): draw parameters from the "
                                   "prior, simulate, fit, and test the ranks of the truths among the posterior "
                                   "draws for uniformity.")
    k.add_argument("--fit", choices=("flat", "hierarchical"), default="flat",
                   help="the fit to calibrate: flat (one participant per replicate) or hierarchical "
                        "(default: %(default)s)")
    k.add_argument("--rule", choices=tuple(RULES), default="dual",
                   help="learning rule: dual = DualRateRW, rw = RescorlaWagner (default: %(default)s)")
    k.add_argument("--decision", choices=tuple(d for d in DECISIONS if d not in N_OPTION), default="angle",
                   help=f"decision model, one of {two} (default: %(default)s)")
    k.add_argument("--replicates", type=_count(2), default=20,
                   help="number of simulate-and-fit replicates (default: %(default)s)")
    k.add_argument("--participants", type=_count(1), default=None,
                   help="participants per replicate, --fit hierarchical only (default: 8)")
    k.add_argument("--trials", type=_count(1), default=200, help="trials per participant (default: %(default)s)")
    k.add_argument("--thin", type=_count(1), default=3,
                   help="keep every thin-th posterior draw for the ranks (default: %(default)s)")
    k.add_argument("--batch-size", type=_count(1), default=25,
                   help="flat replicates fitted in one NUTS run (default: %(default)s)")
    k.add_argument("--prior", action="append", metavar="NAME=JSON",
                   help="a prior of the simulation and the fit, e.g. --prior "
                        "'t={\"name\": \"TruncatedNormal\", \"mu\": 0.3, \"sigma\": 0.05}'; repeat for more "
                        "(default: rlssm.calibration.SEED_PRIOR)")
    k.add_argument("--fit-prior", action="append", metavar="NAME=JSON",
                   help="a prior of the fit only, unlike the simulation's (a negative control); repeat for "
                        "more (default: the simulation's)")
    k.add_argument("--default-prior", action="store_true",
                   help="start from the fits' default priors instead of rlssm.calibration.SEED_PRIOR "
                        "(default: off)")
    k.add_argument("--out", default="rlssm_calibration",
                   help="output folder, created if missing (default: %(default)s)")
    sampling(k, chains=1, tune=300, draws=300)
    k.set_defaults(func=cmd_calibrate)
    return p


def _quiet_third_party() -> None:
    """Hide HSSM/bambi/pymc deprecation chatter in the command's output (not errors)."""
    import logging
    import warnings

    for module in ("hssm", "bambi", "pymc", "pytensor", "arviz", "formulae", "numpyro"):
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)
    logging.getLogger("hssm").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlssm`` command."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # parse_args would blame the top-level parser ("rlssm: error:"); the command is known.
        print(f"{parser.prog} {args.command}: error: unrecognized arguments: {' '.join(extra)} "
              f"(see {parser.prog} {args.command} --help)", file=sys.stderr)
        return 2
    _quiet_third_party()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    if args.command == "demo" and args.full:
        if args.given:
            # Either would silently override the other.
            print(f"{parser.prog} demo: error: --full sets "
                  f"{', '.join(f'--{k} {v}' for k, v in FULL.items())}; leave out {', '.join(args.given)} "
                  "or --full", file=sys.stderr)
            return 2
        for name, value in FULL.items():
            setattr(args, name, value)
    _one_cpu_device_per_chain(getattr(args, "chains", 1))
    try:
        return int(args.func(args))
    except (OSError, ValueError) as err:
        # Bad input (a missing, unreadable, empty or mis-encoded file, invalid data or
        # settings: DataError is a ValueError) gets argparse's treatment: one line, exit 2.
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        if isinstance(err, UnicodeDecodeError):
            message = f"cannot read the file as UTF-8 text ({err.reason}); save the CSV as UTF-8"
        if isinstance(err, (UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError)):
            message = f"{getattr(args, 'data', 'the data file')}: {message}"
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2


def _one_cpu_device_per_chain(chains: int) -> None:
    """Let NUTS run one chain per CPU device, on all cores (`Hierarchical.sample`'s "auto").

    JAX reads ``XLA_FLAGS`` when its backend starts, which the command line has not done
    yet; a flag the user set wins. (It only splits the CPU; GPUs are unaffected.)
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if chains > 1 and "xla_force_host_platform_device_count" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={chains}".strip()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
