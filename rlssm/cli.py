"""Command line: ``rlssm demo | fit | simulate | check | calibrate``.

``rlssm demo`` is the main job: it simulates the seed tutorial's design (two-armed
Gaussian bandit) with known parameters, fits the hierarchical dual-rate Rescorla-Wagner +
exact angle model with HSSM's NUTS, prints the group parameters next to the truth, and
writes plots, the data and the InferenceData to an output folder. It needs no network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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

# Group-level generating values of the demo: the seed tutorial's group means (its data
# file's params_true_group), with a lower rate for negative prediction errors.
DEMO_TRUTH = {
    "rl_alpha": 0.66, "rl_alpha_neg": 0.35, "scaler": 2.78, "a": 1.48, "z": 0.27, "t": 0.44,
    "theta": 0.31,
}
DEMO_SPREAD = {
    "rl_alpha": 0.034, "rl_alpha_neg": 0.034, "scaler": 0.11, "a": 0.068, "z": 0.03, "t": 0.014,
    "theta": 0.035,
}


def _model(rule: str, decision: str, choices: Sequence[Any], precision: str):
    from . import decision as decisions
    from . import learning, mapping
    from .model import RLSSM

    r = getattr(learning, RULES[rule])()
    cls = getattr(decisions, DECISIONS[decision])
    if decision in N_OPTION:
        d = cls(n_options=len(choices))
        m = getattr(mapping, N_OPTION[decision])()
        return RLSSM(r, d, m, choices=tuple(choices), precision=precision)  # type: ignore[arg-type]
    if len(choices) != 2:
        raise ValueError(
            f"--decision {decision} has two options, got --choices with {len(choices)}; "
            f"for more options use one of {tuple(N_OPTION)}"
        )
    return RLSSM(r, cls(), choices=tuple(choices), precision=precision)  # type: ignore[arg-type]


def _choices(text: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for item in text.split(","):
        item = item.strip()
        try:
            out.append(int(item))
        except ValueError:
            try:
                out.append(float(item))
            except ValueError:
                out.append(item)
    return tuple(out)


def _draw_participants(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, mean in DEMO_TRUTH.items():
        out[name] = rng.normal(mean, DEMO_SPREAD[name], size=n)
    out["rl_alpha"] = np.clip(out["rl_alpha"], 0.01, 0.99)
    out["rl_alpha_neg"] = np.clip(out["rl_alpha_neg"], 0.01, 0.99)
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
    fixed = _pairs(getattr(args, "fixed", None), "--fixed", "VALUE", "z=0.5", float)
    if formulas and not hierarchical:
        raise ValueError("--formula needs the hierarchical fit; leave out --flat")
    if hierarchical:
        fit = Hierarchical(model, data, formulas=formulas, fixed=fixed)
        start = time.perf_counter()
        idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed)
        return fit, idata, time.perf_counter() - start
    include = [spec for spec in default_include(model, data, hierarchical=False) if spec.name not in fixed]
    hm = model.to_hssm(data, include=include, fixed=fixed)
    start = time.perf_counter()
    idata = sample(hm, chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed)
    return hm, idata, time.perf_counter() - start


def _pairs(items: Sequence[str] | None, flag: str, form: str, example: str, kind: Any) -> dict[str, Any]:
    """``NAME=<form>`` command-line items as a dict, each value converted by ``kind``
    (`ValueError`, one line and exit 2, for an item not of that form)."""
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip() or not value.strip():
                raise ValueError(item)
            out[name.strip()] = kind(value.strip())
        except ValueError:
            raise ValueError(f"{flag} {item}: expected NAME={form}, e.g. {flag} '{example}'") from None
    return out


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
        plot_learning_curves,
        plot_participant_values,
        plot_posterior_vs_truth,
        plot_recovery,
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = _model("dual", args.decision, (0, 1), args.precision)
    env = GaussianBandit(means=(0.2, 0.8), sd=0.1)
    truth_part = _draw_participants(args.participants, args.seed)
    print(f"Simulating {args.participants} participants x {args.trials} trials "
          f"({type(model.learning_rule).__name__} + {type(model.decision_model).__name__}) ...")
    data = model.simulate(truth_part, env, n_participants=args.participants, n_trials=args.trials,
                          seed=args.seed)
    data.to_csv(out / "data.csv", index=False)
    print(f"Fitting the hierarchical model: {args.chains} chains x ({args.tune} tune + "
          f"{args.draws} draws) with NUTS (numpyro) ...")
    hm, idata, seconds = _fit(model, data, args, hierarchical=True)
    table = _group_table(model, idata, DEMO_TRUTH)
    print(f"\nSampling took {seconds:.1f} s; {_sampler_line(idata)}. Group-level means (90% interval):")
    _print_table(table)
    print(f"90% interval coverage of the group means: {int(cast(pd.Series, table['covered']).sum())}/{len(table)}")
    table.to_csv(out / "group_parameters.csv")
    _save_idata(idata, out / "idata.nc")

    fig = plot_posterior_vs_truth(table, DEMO_TRUTH)
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
    model = _model(args.rule, args.decision, _choices(args.choices), args.precision)
    model.prepare(data)  # a DataError here, before any sampling
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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

    model = _model(args.rule, args.decision, _choices(args.choices), args.precision)
    params: dict[str, Any] = dict(model.default_params)
    params.update({k: v for k, v in DEMO_TRUTH.items() if k in params})
    for item in args.param or []:
        name, _, value = item.partition("=")
        if name not in model.param_names:
            raise SystemExit(f"--param {item}: {name!r} is not a parameter {model.param_names}")
        try:
            params[name] = float(value)
        except ValueError:
            raise ValueError(f"--param {item}: expected NAME=NUMBER, e.g. --param scaler=3") from None
    # Default arm means: evenly spaced from 0.2 to 0.8, one per option.
    means = tuple(args.means) if args.means else tuple(np.linspace(0.2, 0.8, model.n_options).round(4))
    env = GaussianBandit(means=means, sd=args.sd, reversals=tuple(args.reversals))
    data = model.simulate(params, env, n_participants=args.participants, n_trials=args.trials,
                          seed=args.seed)
    data.to_csv(args.out, index=False)
    print(f"Wrote {len(data)} trials of {args.participants} participants to {args.out}")
    print("Parameters: " + json.dumps(params))
    return 0


def check_report(data: pd.DataFrame, model) -> list[str]:
    """Lines of a validation report; raises `DataError` when the data is invalid."""
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
    return lines


def cmd_check(args: argparse.Namespace) -> int:
    data = pd.read_csv(args.data)
    model = _model(args.rule, args.decision, _choices(args.choices), "float64")
    try:
        lines = check_report(data, model)
    except DataError as err:
        print(f"INVALID: {err}")
        return 1
    print("OK: the data is valid for rlssm")
    for line in lines:
        print("  " + line)
    return 0


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
    participants = args.participants if hierarchical else 1
    env = GaussianBandit(means=(0.2, 0.8), sd=0.1)
    print(f"Calibrating ({args.fit}): {args.replicates} replicates of {participants} participant(s) x "
          f"{args.trials} trials, {args.chains} chain(s) x ({args.tune} tune + {args.draws} draws), thin {args.thin} ...")
    result = sbc(model, env, prior=prior, n_participants=participants, n_trials=args.trials,
                 n_replicates=args.replicates, fit=args.fit, chains=args.chains, tune=args.tune, draws=args.draws,
                 thin=args.thin, seed=args.seed, fit_prior=fit_prior, batch_size=args.batch_size,
                 max_tree_depth=(7, 10) if args.max_tree_depth is None else args.max_tree_depth,
                 progress=lambda line: print("  " + line, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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


def _count(minimum: int):
    """An argparse type: an integer of at least ``minimum`` (argparse's one-line error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a positive, finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlssm", description=(__doc__ or "rlssm").splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    def sampling(sp: argparse.ArgumentParser, chains: int, tune: int, draws: int) -> None:
        sp.add_argument("--chains", type=_count(1), default=chains)
        sp.add_argument("--tune", type=_count(0), default=tune)
        sp.add_argument("--draws", type=_count(1), default=draws)
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--precision", choices=("float32", "float64"), default="float64")

    d = sub.add_parser("demo", help="simulate the seed design, fit it, summarise, plot (the main job)")
    d.add_argument("--participants", type=_count(1), default=8)
    d.add_argument("--trials", type=_count(1), default=120)
    d.add_argument("--decision", choices=tuple(DECISIONS), default="angle")
    d.add_argument("--ppc-draws", type=_count(1), default=50)
    d.add_argument("--out", default="rlssm_output")
    d.add_argument("--full", action="store_true",
                   help="the seed's full size: 20 participants x 200 trials, 4 chains x 1000 + 1000")
    sampling(d, chains=2, tune=300, draws=300)
    d.set_defaults(func=cmd_demo)

    f = sub.add_parser("fit", help="fit a model to DATA.csv")
    f.add_argument("data")
    f.add_argument("--rule", choices=tuple(RULES), default="dual")
    f.add_argument("--decision", choices=tuple(DECISIONS), default="angle")
    f.add_argument("--choices", default="0,1", help="response values in option order, e.g. 0,1 or -1,1")
    f.add_argument("--flat", action="store_true", help="one set of parameters for everyone")
    f.add_argument("--formula", action="append", metavar="NAME=FORMULA",
                   help="a regression for one parameter, e.g. --formula 'a=1 + condition + (1 | participant_id)'")
    f.add_argument("--fixed", action="append", metavar="NAME=VALUE",
                   help="hold a parameter at a constant, e.g. --fixed z=0.5")
    f.add_argument("--out", default="rlssm_fit")
    sampling(f, chains=2, tune=500, draws=500)
    f.set_defaults(func=cmd_fit)

    s = sub.add_parser("simulate", help="simulate a bandit data set to CSV")
    s.add_argument("--rule", choices=tuple(RULES), default="dual")
    s.add_argument("--decision", choices=tuple(DECISIONS), default="angle")
    s.add_argument("--choices", default="0,1")
    s.add_argument("--participants", type=_count(1), default=20)
    s.add_argument("--trials", type=_count(1), default=200)
    s.add_argument("--means", type=float, nargs="+", default=None,
                   help="arm means, one per option (default: 0.2 to 0.8, evenly spaced)")
    s.add_argument("--sd", type=_positive, default=0.1)
    s.add_argument("--reversals", type=int, nargs="*", default=[])
    s.add_argument("--param", action="append", help="NAME=VALUE, e.g. --param scaler=3")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--precision", choices=("float32", "float64"), default="float64")
    s.add_argument("--out", default="simulated.csv")
    s.set_defaults(func=cmd_simulate)

    c = sub.add_parser("check", help="validate DATA.csv and print a report (exit 1 if invalid)")
    c.add_argument("data")
    c.add_argument("--rule", choices=tuple(RULES), default="dual")
    c.add_argument("--decision", choices=tuple(DECISIONS), default="angle")
    c.add_argument("--choices", default="0,1")
    c.set_defaults(func=cmd_check)

    k = sub.add_parser("calibrate", help="simulation-based calibration: prior draws, simulate, fit, rank statistics")
    k.add_argument("--fit", choices=("flat", "hierarchical"), default="flat")
    k.add_argument("--rule", choices=tuple(RULES), default="dual")
    k.add_argument("--decision", choices=tuple(d for d in DECISIONS if d not in N_OPTION), default="angle")
    k.add_argument("--replicates", type=_count(2), default=20)
    k.add_argument("--participants", type=_count(1), default=8, help="per replicate (hierarchical only)")
    k.add_argument("--trials", type=_count(1), default=200)
    k.add_argument("--thin", type=_count(1), default=3)
    k.add_argument("--batch-size", type=_count(1), default=25, help="flat replicates fitted in one NUTS run")
    k.add_argument("--prior", action="append", help="NAME=JSON prior of the simulation and the fit")
    k.add_argument("--fit-prior", action="append", help="NAME=JSON prior of the fit only (negative control)")
    k.add_argument("--default-prior", action="store_true",
                   help="start from the fits' default priors instead of rlssm.calibration.SEED_PRIOR")
    k.add_argument("--max-tree-depth", type=_count(1), default=None,
                   help="NUTS' tree depth limit (default: 7 in warm-up, 10 for the draws)")
    k.add_argument("--out", default="rlssm_calibration")
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
    args = parser.parse_args(argv)
    _quiet_third_party()
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    if getattr(args, "full", False):
        args.participants, args.trials, args.chains, args.tune, args.draws = 20, 200, 4, 1000, 1000
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
