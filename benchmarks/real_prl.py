"""Real data: hBayesDM's probabilistic reversal-learning example, with and without lapses.

hBayesDM's ``prl_multipleB_exampleData.txt`` (Ahn, Haines & Zhang 2017, shipped with the
``hbayesdm`` source distribution): 3 participants x 3 blocks x 200 trials, two options,
outcomes +25 / -25, response times in milliseconds (fastest 9, 14 and 16 ms). The script
fits a dual-rate Rescorla-Wagner + DDM (``v = scaler * (Q2 - Q1)``, values reset at each
block, feedback the outcome's sign as in hBayesDM's reversal-learning models) with
`rlssm.fitting.Hierarchical`: without a lapse mixture, with HSSM's default lapse
(`rlssm.Lapse`: response time uniform on [0, 20] s, option at random) and with fast
guesses (uniform on [0, 0.3] s, option at random); the DDM with drift variability
(`rlssm.DDMSdv`) with fast guesses, also with the learning rate for gains held at 1;
and the collapsing-bound `Angle` model with fast guesses. It reports for each:

* every participant's non-decision time ``t`` (posterior mean and 90% interval);
* the group parameters' R-hat and bulk ESS, divergent draws, sampling time;
* predictive checks (conditional mode: each trial simulated from the observed history):
  each participant's response-time quantiles (0.1, 0.5, 0.9) against their 90%
  predictive intervals, and the switch rate on the five trials after each reversal
  (reversals read from ``choice.ACC``: where the correct option changes);
* PSIS-LOO over trials of both fits (``arviz.compare``).

Run from the repository root (``--only`` picks models; see the Real data page of the docs
for the times measured):
``.venv/bin/python benchmarks/real_prl.py --chains 4 --tune 1000 --draws 1000``.
The data file is read from ``RLSSM_TEST_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import add_xla_flags  # noqa: E402

add_xla_flags(host_devices=4)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rlssm  # noqa: E402
from rlssm.decision import UniformRT  # noqa: E402
from rlssm.fitting import Hierarchical  # noqa: E402
from rlssm.simulation import rt_quantile_check, switch_rate_check, trials_since_reversal  # noqa: E402

FILE = "prl_multipleB_exampleData.txt"
QUANTILES = (0.1, 0.5, 0.9)
AFTER = 5
"""Trials after each reversal over which switch rates are compared."""


def load(folder: Path) -> pd.DataFrame:
    """The example data in rlssm's format, feedback the outcome's sign (hBayesDM's)."""
    data = rlssm.load_hbayesdm(folder / FILE)
    data["feedback"] = np.sign(data["feedback"])
    return data


def models() -> dict[str, rlssm.RLSSM]:
    """Fast guesses (uniform on [0, 0.3] s: Ollman's fast-guess model); HSSM's default lapse
    (uniform on [0, 20] s); no lapse; and the collapsing-bound angle model with fast
    guesses. Options at random on a lapse."""
    rule = rlssm.DualRateRW(initial_value=0.0)
    wide = {"p_outlier": (0.0, 0.5)}
    return {
        "fast guesses U(0, 0.3)": rlssm.RLSSM(
            rule, rlssm.Lapse(rlssm.DDM(), rt=UniformRT(0.0, 0.3)), choices=(1, 2), bounds=wide
        ),
        "lapse U(0, 20)": rlssm.RLSSM(rule, rlssm.Lapse(rlssm.DDM()), choices=(1, 2), bounds=wide),
        "no lapse": rlssm.RLSSM(rule, rlssm.DDM(), choices=(1, 2)),
        "drift variability, fast guesses U(0, 0.3)": rlssm.RLSSM(
            rule, rlssm.Lapse(rlssm.DDMSdv(), rt=UniformRT(0.0, 0.3)), choices=(1, 2), bounds=wide
        ),
        "drift variability, fast guesses U(0, 0.3), win learning rate 1": rlssm.RLSSM(
            rule, rlssm.Lapse(rlssm.DDMSdv(), rt=UniformRT(0.0, 0.3)), choices=(1, 2), bounds=wide
        ),
        "angle, fast guesses U(0, 0.3)": rlssm.RLSSM(
            rule, rlssm.Lapse(rlssm.Angle(), rt=UniformRT(0.0, 0.3)), choices=(1, 2), bounds=wide
        ),
    }


FIXED = {"drift variability, fast guesses U(0, 0.3), win learning rate 1": {"rl_alpha": 1.0}}
"""Parameters held at constants, by model: the learning rate for gains at 1 (the
participants never switch after a win, and its posterior presses against 1)."""


def correct_option(data: pd.DataFrame) -> pd.Series:
    """The better option of each trial: the choice where ``choice.ACC`` is 1, the other where 0."""
    return pd.Series(np.where(data["choice.ACC"] == 1, data["response"], 3 - data["response"]), index=data.index)


def fit_one(name: str, model: rlssm.RLSSM, data: pd.DataFrame, args: argparse.Namespace) -> dict:
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rlssm.FastResponseWarning)  # reported on the docs page
        fit = Hierarchical(model, data, fixed=FIXED.get(name))
    start = time.perf_counter()
    idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed,
                       target_accept=args.target_accept, progressbar=False)
    seconds = time.perf_counter() - start
    post = idata["posterior"]
    summary = az.summary(idata, var_names=list(fit.group_vars), kind="diagnostics")
    divergent = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
    subj = fit.participant_draws(idata)
    t = subj["t"].reshape(-1, len(fit.participants))
    out: dict = {
        "model": name,
        "seconds": seconds,
        "divergent": divergent,
        "max_rhat": float(summary["r_hat"].max()),  # NaN with one chain
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "worst_rhat_var": str(summary["r_hat"].fillna(0.0).idxmax()),
        "t": {str(p): [float(t[:, i].mean()), *map(float, np.quantile(t[:, i], [0.05, 0.95]))]
              for i, p in enumerate(fit.participants)},
    }
    if "p_outlier" in subj:
        p = subj["p_outlier"].reshape(-1, len(fit.participants))
        out["p_outlier"] = {str(q): [float(p[:, i].mean()), *map(float, np.quantile(p[:, i], [0.05, 0.95]))]
                            for i, q in enumerate(fit.participants)}
    group = {v: float(np.asarray(post[v]).mean()) for v in fit.group_vars if not v.endswith("_sigma")}
    out["group_means"] = group

    # Predictive checks, one step ahead from the observed history.
    ppc = model.posterior_predictive(fit, idata, mode="conditional", n_draws=args.ppc_draws, seed=args.seed)
    out["rt_quantiles"] = rt_quantile_check(data, ppc, QUANTILES).to_dict("records")
    since = trials_since_reversal(data.assign(correct_option=correct_option(data)))
    out["switch_after_reversal"] = switch_rate_check(data, ppc, since, after=AFTER).to_dict("records")
    out["_loglik"] = fit.pointwise_log_likelihood(idata)
    return out


def main() -> None:
    import arviz as az

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ppc-draws", type=int, default=200)
    parser.add_argument("--target-accept", type=float, default=0.9, help="NUTS target acceptance (Hierarchical's default 0.9)")
    parser.add_argument("--only", choices=tuple(models()), action="append", default=None,
                        help="fit only these models (repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()

    folder = Path(os.environ.get("RLSSM_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    data = load(folder)
    print(f"{data['participant_id'].nunique()} participants, {len(data)} trials; fastest rt per participant:",
          data.groupby("participant_id")["rt"].min().round(3).to_dict())
    results = {}
    for name, model in models().items():
        if args.only and name not in args.only:
            continue
        r = fit_one(name, model, data, args)
        results[name] = r
        print(f"\n## {name}: {args.chains} x ({args.tune} + {args.draws}) in {r['seconds']:.0f} s; "
              f"divergent {r['divergent']}; max R-hat {r['max_rhat']:.3f} ({r['worst_rhat_var']}); "
              f"min bulk ESS {r['min_ess_bulk']:.0f}")
        print("t by participant (mean [5%, 95%]):",
              {p: f"{m:.3f} [{a:.3f}, {b:.3f}]" for p, (m, a, b) in r["t"].items()})
        if "p_outlier" in r:
            print("p_outlier by participant:",
                  {p: f"{m:.3f} [{a:.3f}, {b:.3f}]" for p, (m, a, b) in r["p_outlier"].items()})
        print("group means:", {k: round(v, 3) for k, v in r["group_means"].items()})
        print("| participant | quantile | observed | predicted 90% | inside |\n|---|---|---|---|---|")
        for row in r["rt_quantiles"]:
            print(f"| {row['participant_id']} | {row['quantile']} | {row['observed']:.3f} | "
                  f"[{row['lower']:.3f}, {row['upper']:.3f}] | {row['inside']} |")
        print("| trials after reversal | observed switch rate | predicted 90% | trials |\n|---|---|---|---|")
        for row in r["switch_after_reversal"]:
            print(f"| {row['after']} | {row['observed']:.3f} | [{row['lower']:.3f}, {row['upper']:.3f}] | {row['trials']} |")
    if len(results) >= 2:
        loo = {k: az.from_dict({"posterior": {"x": np.zeros(r["_loglik"]["loglik"].shape[:2])},
                                "log_likelihood": {"loglik": r["_loglik"]["loglik"].values}})
               for k, r in results.items()}
        table = az.compare(loo)
        print("\nPSIS-LOO over trials:\n", table.to_string())
        for k in results:
            results[k]["loo"] = {c: (float(v) if isinstance(v, (int, float, np.floating)) else str(v))
                                 for c, v in table.loc[k].items()}
    if args.json:
        args.json.write_text(json.dumps({k: {a: b for a, b in r.items() if a != "_loglik"} for k, r in results.items()},
                                        indent=1, default=str))


if __name__ == "__main__":
    main()
