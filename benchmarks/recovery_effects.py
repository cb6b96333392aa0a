"""Recovery of condition effects with formulas in `rlssm.fitting.Hierarchical`.

30 participants x 2 conditions (placebo, drug) x 150 trials each, simulated from a
Rescorla-Wagner + exact DDM model whose ``a`` and ``rl_alpha`` differ between the
conditions (on their link scales) and whose other parameters do not. Each condition
is one block (values start again), in a two-armed Gaussian bandit. The fit gives every
parameter ``1 + condition + (1 | participant_id)``; the study checks that the 90%
intervals of the two real effects cover the truth and exclude 0, that those of the
three null effects contain 0, and that predictive checks (conditional mode) reproduce
the accuracy and mean response time of each condition.

Run from the repository root (about 20-40 minutes on 2 cores):
``.venv/bin/python benchmarks/recovery_effects.py [--chains 2 --tune 500 --draws 500]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import add_xla_flags  # noqa: E402

add_xla_flags(host_devices=4)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.special import expit, logit  # noqa: E402

import rlssm  # noqa: E402
from rlssm.fitting import Hierarchical, group_summary  # noqa: E402

BOUNDS = {"rl_alpha": (0.0, 1.0), "scaler": (0.5, 10.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}
# Truth on each parameter's link scale (logit of its bounds): placebo intercept, drug
# effect, between-participant spread.
TRUTH = {
    "rl_alpha": (logit(0.3), 0.8, 0.3),
    "scaler": ((lambda lo, hi: logit((3.0 - lo) / (hi - lo)))(*BOUNDS["scaler"]), 0.0, 0.2),
    "a": ((lambda lo, hi: logit((1.2 - lo) / (hi - lo)))(*BOUNDS["a"]), 0.5, 0.2),
    "z": (0.0, 0.0, 0.15),
    "t": ((lambda lo, hi: logit((0.3 - lo) / (hi - lo)))(*BOUNDS["t"]), 0.0, 0.2),
}
FORMULA = "1 + condition + (1 | participant_id)"


def natural(name: str, eta: np.ndarray) -> np.ndarray:
    lo, hi = BOUNDS[name]
    return lo + (hi - lo) * expit(eta)


def simulate(model: rlssm.RLSSM, n_participants: int, n_trials: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = {n: rng.normal(0.0, 1.0, n_participants) for n in TRUTH}
    env = rlssm.GaussianBandit(means=(0.3, 0.7), sd=0.1)
    frames = []
    for k, condition in enumerate(("placebo", "drug")):
        params = {
            n: natural(n, mu + (effect if condition == "drug" else 0.0) + sd * offsets[n])
            for n, (mu, effect, sd) in TRUTH.items()
        }
        d = model.simulate(params, env, n_participants=n_participants, n_trials=n_trials, seed=seed + 17 * k)
        d["trial_id"] = d["trial_id"] + k * n_trials
        d["block"] = k
        d["condition"] = condition
        frames.append(d)
    data = pd.concat(frames, ignore_index=True)
    # An ordered categorical makes placebo the reference level: the effect is condition[drug].
    data["condition"] = pd.Categorical(data["condition"], categories=["placebo", "drug"], ordered=True)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--trials", type=int, default=150, help="trials per condition")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds=BOUNDS, precision="float64")
    data = simulate(model, args.participants, args.trials, args.seed)
    fit = Hierarchical(model, data, formulas={n: FORMULA for n in model.param_names})
    start = time.perf_counter()
    idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed, progressbar=False)
    seconds = time.perf_counter() - start
    table = group_summary(fit, idata)
    divergent = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
    print(f"{args.participants} participants x 2 conditions x {args.trials} trials; "
          f"{args.chains} x ({args.tune} + {args.draws}) draws in {seconds:.0f} s; divergent draws: {divergent}")

    rows = []
    for name, (mu, effect, sd) in TRUTH.items():
        for var, truth in ((f"{name}_Intercept", mu), (f"{name}_condition[drug]", effect),
                           (f"{name}_1|participant_id_sigma", sd)):
            r = table.loc[var]
            rows.append({"variable": var, "truth": truth, "mean": r["mean"], "5%": r["q05"], "95%": r["q95"],
                         "covered": bool(r["q05"] <= truth <= r["q95"]),
                         "excludes 0": bool(r["q05"] > 0 or r["q95"] < 0), "r_hat": r["r_hat"],
                         "ess_bulk": r["ess_bulk"]})
    out = pd.DataFrame(rows)
    print("| " + " | ".join(out.columns) + " |\n|" + "---|" * len(out.columns))
    for _, r in out.iterrows():
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    effects = out[out["variable"].str.contains("condition")]
    real = effects[effects["truth"] != 0]
    null = effects[effects["truth"] == 0]
    print(f"real effects covered: {int(real['covered'].sum())}/{len(real)}, excluding 0: "
          f"{int(real['excludes 0'].sum())}/{len(real)}; null effects containing 0: "
          f"{int((~null['excludes 0']).sum())}/{len(null)}; all coverage: {int(out['covered'].sum())}/{len(out)}")

    # Predictive checks split by condition: accuracy and mean rt, observed vs replayed.
    ppc = model.posterior_predictive(fit, idata, mode="conditional", n_draws=100, seed=0)
    lines = []
    for condition in ("placebo", "drug"):
        mask = (data["condition"] == condition).to_numpy()
        obs = data[mask]
        sims = ppc[np.tile(mask, len(ppc) // len(data))]
        obs_rt = float(obs["rt"].mean())
        obs_choice = float(obs["response"].mean())
        per_draw = sims.groupby(["chain", "draw"]).agg(rt=("rt", "mean"), choice=("response", "mean"))
        lo_rt, hi_rt = np.quantile(per_draw["rt"], [0.05, 0.95])
        lo_c, hi_c = np.quantile(per_draw["choice"], [0.05, 0.95])
        lines.append(f"| {condition} | {obs_rt:.3f} | [{lo_rt:.3f}, {hi_rt:.3f}] | {obs_choice:.3f} | "
                     f"[{lo_c:.3f}, {hi_c:.3f}] |")
    print("\n| condition | mean rt | predicted 90% | P(option 1) | predicted 90% |\n|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
