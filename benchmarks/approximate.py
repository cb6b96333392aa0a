"""Fast approximate fits against NUTS on the seed model: group means, 5%/95% quantiles, time.

The seed tutorial's model and data (``RLSSM(DualRateRW(), Angle())``, the exact angle
likelihood, all seven parameters varying by participant, the tutorial's intercept priors,
as in ``bench_sampling.py``) fitted with ``rlssm.fitting.Hierarchical`` by

* NUTS, ``fit.sample`` (default 4 chains x (1000 + 1000), one chain per JAX device,
  ``--host-devices 4``, as ``bench_sampling.py``);
* Pathfinder, ``rlssm.fitting.approximate(fit, "pathfinder")`` (one path by default);
* ADVI, ``approximate(fit, "advi")`` (and ``"fullrank_advi"`` with ``--methods``).

Every method gets a fresh ``Hierarchical`` and its wall time covers the whole call (the
pooled start, compilation, the fit and the draws; no pointwise log-likelihoods). Prints
one table, in Markdown, of each group variable's posterior mean and [5%, 95%] quantiles
per method, the truth stored in the data file, and the wall times.

Run: ``nice -n 15 .venv/bin/python benchmarks/approximate.py`` (a few minutes on 2 cores,
most of it NUTS). Smoke test: ``--tune 50 --draws 50 --chains 2 --advi-iterations 200``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", default="nuts,pathfinder,advi",
                   help="comma-separated: nuts, pathfinder, advi, fullrank_advi")
    p.add_argument("--chains", type=int, default=4, help="NUTS chains")
    p.add_argument("--tune", type=int, default=1000, help="NUTS warm-up iterations")
    p.add_argument("--draws", type=int, default=1000, help="NUTS draws per chain")
    p.add_argument("--approx-draws", type=int, default=1000, help="draws of the approximations")
    p.add_argument("--paths", type=int, default=1, help="Pathfinder paths")
    p.add_argument("--advi-iterations", type=int, default=None, help="ADVI steps (default: approximate's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--host-devices", type=int, default=4,
                   help="split the CPU into this many JAX devices (one NUTS chain each; 0: JAX's default)")
    p.add_argument("--precision", choices=("float32", "float64"), default="float32")
    p.add_argument("--data-dir", default=None, help="folder with rldm_data.npy (default $RLSSM_TEST_DATA)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    common.add_xla_flags(args.host_devices)
    warnings.filterwarnings("ignore", message="Explicitly requested dtype int64", category=UserWarning)
    import numpy as np

    import rlssm
    from rlssm.fitting import Hierarchical, approximate

    folder = common.data_dir(args.data_dir)
    data = common.seed_data(folder)
    truth = common.seed_truth(folder)
    priors = {k: {"name": p.name, **p.args} for k, p in common.seed_priors().items()}
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle(), precision=args.precision)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    n_part = data["participant_id"].nunique()
    print("== approximate: Pathfinder / ADVI against NUTS, seed model (exact Angle) ==")
    print(common.machine_note())
    print(
        f"data: {n_part} participants x {len(data) // n_part} trials; NUTS {args.chains} x ({args.tune} + "
        f"{args.draws}); approximations {args.approx_draws} draws, Pathfinder {args.paths} path(s); "
        f"precision {args.precision}; seed {args.seed}"
    )

    results: dict[str, dict] = {}
    for method in methods:
        fit = Hierarchical(model, data, priors=priors)
        t0 = time.perf_counter()
        if method == "nuts":
            idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed,
                               log_likelihood=False, progressbar=False)
        else:
            kwargs = {"paths": args.paths} if method == "pathfinder" else {}
            if method != "pathfinder" and args.advi_iterations:
                kwargs["iterations"] = args.advi_iterations
            idata = approximate(fit, method=method, draws=args.approx_draws, seed=args.seed,
                                log_likelihood=False, **kwargs)
        wall = time.perf_counter() - t0
        posterior = idata["posterior"]
        stats = {}
        for name in fit.group_vars:
            x = np.asarray(posterior[name].values, dtype=float).ravel()
            stats[name] = (float(x.mean()), float(np.quantile(x, 0.05)), float(np.quantile(x, 0.95)))
        attrs = {k: v for k, v in posterior.attrs.items() if k in ("pareto_k", "lbfgs_iterations", "final_loss", "elbo")}
        results[method] = {"wall": wall, "stats": stats, "names": fit.group_vars}
        print(f"-- {method}: {wall:.1f} s {attrs}", flush=True)

    names = next(iter(results.values()))["names"]
    label = {"nuts": "NUTS", "pathfinder": "Pathfinder", "advi": "ADVI", "fullrank_advi": "full-rank ADVI"}
    print()
    print("| variable | truth | " + " | ".join(label.get(m, m) for m in results) + " |")
    print("|---|---|" + "---|" * len(results))
    for name in names:
        cells = [f"{s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}]" for s in (results[m]["stats"][name] for m in results)]
        tv = f"{truth[name]:.3f}" if name in truth else ""
        print(f"| `{name}` | {tv} | " + " | ".join(cells) + " |")
    print("| wall time, s | | " + " | ".join(f"{results[m]['wall']:.0f}" for m in results) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
