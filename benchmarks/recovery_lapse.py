"""Recovery with contaminant responses: data with 5% lapses, fitted with and without the mixture.

20 participants x 200 trials of a two-armed Gaussian bandit, simulated from a dual-rate
Rescorla-Wagner + DDM model mixed with lapses (`rlssm.Lapse`: with probability
``p_outlier = 0.05`` a response time uniform on [0, 20] s and an option at random).
The same data are fitted by `rlssm.fitting.Hierarchical` with the mixture (the
generating model) and without it. The study reports, for each fit, the group means
(90% intervals against the truth, ``t`` included), divergent draws, R-hat and time.

Run from the repository root (about 20-40 minutes on 2 cores):
``.venv/bin/python benchmarks/recovery_lapse.py [--chains 2 --tune 500 --draws 500]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))
from _common import add_xla_flags  # noqa: E402

add_xla_flags(host_devices=4)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rlssm  # noqa: E402
from rlssm.fitting import Hierarchical, group_summary  # noqa: E402

TRUTH = {"rl_alpha": 0.4, "rl_alpha_neg": 0.25, "scaler": 3.0, "a": 1.0, "z": 0.5, "t": 0.3, "p_outlier": 0.05}
SPREAD = {"rl_alpha": 0.05, "rl_alpha_neg": 0.05, "scaler": 0.3, "a": 0.08, "z": 0.04, "t": 0.03}
BOUNDS = {"rl_alpha": (0.0, 1.0), "rl_alpha_neg": (0.0, 1.0), "scaler": (0.0, 10.0), "a": (0.3, 3.0),
          "z": (0.1, 0.9), "t": (0.0, 1.0)}


def simulate(n_participants: int, n_trials: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()))
    params = {n: np.clip(rng.normal(v, SPREAD.get(n, 0.0), n_participants), *BOUNDS.get(n, (0.0, 1.0)))
              for n, v in TRUTH.items()}
    env = rlssm.GaussianBandit(means=(0.3, 0.7), sd=0.1)
    return model.simulate(params, env, n_participants=n_participants, n_trials=n_trials, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = simulate(args.participants, args.trials, args.seed)
    print(f"{args.participants} x {args.trials} trials; responses faster than 0.1 s: "
          f"{int((data['rt'] < 0.1).sum())}; slower than 5 s: {int((data['rt'] > 5).sum())}")
    fits = {
        "mixture": rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()), bounds=BOUNDS),
        "no mixture": rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), bounds=BOUNDS),
    }
    for name, model in fits.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rlssm.FastResponseWarning)
            fit = Hierarchical(model, data)
        start = time.perf_counter()
        idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed, progressbar=False)
        seconds = time.perf_counter() - start
        table = group_summary(fit, idata, truth={k: v for k, v in TRUTH.items() if k in model.param_names})
        divergent = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
        print(f"\n## {name}: {args.chains} x ({args.tune} + {args.draws}) in {seconds:.0f} s; "
              f"divergent draws {divergent}; max R-hat {table['r_hat'].max():.3f}")
        means = table.loc[[n for n in model.param_names]]
        print("| parameter | truth | mean | 90% interval | covered |\n|---|---|---|---|---|")
        for n, r in means.iterrows():
            truth = TRUTH[n]
            covered = r["q05"] <= truth <= r["q95"]
            print(f"| {n} | {truth} | {r['mean']:.3f} | [{r['q05']:.3f}, {r['q95']:.3f}] | {covered} |")


if __name__ == "__main__":
    main()
