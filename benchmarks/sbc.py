"""Simulation-based calibration of the seed model (docs page "Calibration").

Three studies, each written to ``--out`` as ``<study>_ranks.csv``, ``<study>_truth.csv``,
``<study>_diagnostics.csv``, ``<study>_uniformity.csv`` and ``<study>.png``, with a
markdown table of the uniformity p-values printed at the end:

* ``flat``: ``RLSSM(DualRateRW(), Angle())`` (exact angle, float64), one participant x 200
  trials of the seed's two-armed Gaussian bandit per replicate, prior
  ``rlssm.calibration.SEED_PRIOR``, fitted with ``rlssm.fitting.Flat`` in batches;
* ``negative``: the same data, fitted with a deliberately wrong prior on ``t``
  (``TruncatedNormal(0.3, 0.03)`` where the data's ``t`` come from ``TruncatedNormal(0.4,
  0.08)``): ``t``'s ranks must come out non-uniform;
* ``hierarchical``: 8 participants x 100 trials, ``rlssm.fitting.Hierarchical`` with the
  same group-location prior and its default spread prior.

Run from the repository root (sizes the issue asks for; CPU time measured on a shared
two-core machine: about 2.3 s per flat replicate, 42 s per hierarchical replicate at the
defaults, so about 8 and 35 minutes)::

    nice -n 15 .venv/bin/python benchmarks/sbc.py --study flat --replicates 200
    nice -n 15 .venv/bin/python benchmarks/sbc.py --study negative --replicates 25
    nice -n 15 .venv/bin/python benchmarks/sbc.py --study hierarchical --replicates 50

(tune, draws, thin) default per study to `SAMPLING`; ``--tune``, ``--draws``, ``--thin``
override them for all studies of a run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WRONG_T_PRIOR = {"name": "TruncatedNormal", "mu": 0.3, "sigma": 0.03}

SAMPLING = {"flat": (200, 200, 2), "negative": (200, 200, 2), "hierarchical": (300, 500, 10)}
"""(tune, draws, thin) per study, one chain: thinned to about the effective sample size (the
flat fits' smallest bulk ESS had a median of 131 in 200 draws; the hierarchical fits' 28,
the group spreads mixing slowest)."""


def run(study: str, replicates: int, out: Path, tune: int, draws: int, thin: int, batch_size: int, seed: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import rlssm
    from rlssm.calibration import SEED_PRIOR, sbc

    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    kwargs: dict = dict(prior=SEED_PRIOR, n_replicates=replicates, chains=1, tune=tune, draws=draws, thin=thin,
                        seed=seed, progress=lambda line: print(f"[{study}] {line}", flush=True))
    if study == "flat":
        kwargs |= dict(fit="flat", n_participants=1, n_trials=200, batch_size=batch_size)
    elif study == "negative":
        kwargs |= dict(fit="flat", n_participants=1, n_trials=200, batch_size=batch_size,
                       fit_prior=SEED_PRIOR | {"t": WRONG_T_PRIOR})
    else:
        kwargs |= dict(fit="hierarchical", n_participants=8, n_trials=100)
    clock = time.perf_counter()
    cpu = time.process_time()
    result = sbc(model, env, **kwargs)
    seconds, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
    out.mkdir(parents=True, exist_ok=True)
    result.ranks.to_csv(out / f"{study}_ranks.csv")
    result.truth.to_csv(out / f"{study}_truth.csv")
    result.diagnostics.to_csv(out / f"{study}_diagnostics.csv")
    table = result.uniformity()
    table.to_csv(out / f"{study}_uniformity.csv")
    fig = result.plot()
    fig.savefig(out / f"{study}.png", dpi=100)
    plt.close(fig)
    summary = {
        "study": study, "replicates": replicates, "n_ranks": result.n_ranks, "wall_s": round(seconds, 1),
        "cpu_s": round(cpu_seconds, 1), "divergences": int(np.sum(result.diagnostics.groupby("batch")["divergences"].first().to_numpy())),
        "min_ess_bulk_median": float(np.median(result.diagnostics["min_ess_bulk"])),
        "settings": {k: v for k, v in result.settings.items() if k not in ("prior", "fit_prior")},
    }
    (out / f"{study}_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    group = table.loc[result.group_variables()]
    print(json.dumps(summary, default=str))
    print(f"\n{study}: uniformity of the ranks ({replicates} replicates, L = {result.n_ranks})\n")
    print("| variable | chi-square p | ECDF p | mean rank |\n|---|---|---|---|")
    for name, row in group.iterrows():
        print(f"| `{name}` | {row['chi2_p']:.3f} | {row['ecdf_p']:.3f} | {row['mean_rank']:.1f} |")
    if study == "hierarchical":
        subj = table.drop(index=result.group_variables())
        print(f"\nparticipant values: {len(subj)} variables, smallest ECDF p {subj['ecdf_p'].min():.3f}, "
              f"{int(np.sum(subj['ecdf_p'].to_numpy() < 0.05))} below 0.05")
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--study", choices=("flat", "negative", "hierarchical"), nargs="+", default=["flat"])
    p.add_argument("--replicates", type=int, nargs="+", default=[200],
                   help="one number for all studies, or one per study")
    p.add_argument("--tune", type=int, default=None, help="default: per study, see SAMPLING")
    p.add_argument("--draws", type=int, default=None)
    p.add_argument("--thin", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="sbc_results")
    args = p.parse_args()
    counts = args.replicates * len(args.study) if len(args.replicates) == 1 else args.replicates
    for study, n in zip(args.study, counts):
        tune, draws, thin = (d if a is None else a for a, d in zip((args.tune, args.draws, args.thin), SAMPLING[study]))
        run(study, n, Path(args.out), tune, draws, thin, args.batch_size, args.seed)


if __name__ == "__main__":
    main()
