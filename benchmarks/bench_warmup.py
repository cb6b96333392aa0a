"""Where NUTS' warm-up spends its gradient evaluations on the seed's hierarchical model.

Fits ``rlssm.fitting.Hierarchical`` (exact ``Angle`` by default, ``--decision lan`` for
``AngleLAN``) with ``sample(max_tree_depth=...)`` for each setting given, and prints the
leapfrog steps per iteration in blocks of 100 warm-up iterations, the step size in each
block, the warm-up's and the draws' share of all steps, the wall time, divergences and the
min bulk ESS over group-level variables. This is the measurement behind
``Hierarchical.sample``'s default ``max_tree_depth=(7, 10)``: with an identity mass matrix
(before the first adaptation window ends, iteration 100) NUTS' trajectories are long.

PyMC's JAX sampler does not return warm-up statistics, so this script wraps numpyro's
``MCMC.run`` to run the warm-up first with ``collect_warmup=True`` (what ``run`` would do
anyway) and keep its ``num_steps``; the draws are unchanged.

Run: ``.venv/bin/python benchmarks/bench_warmup.py --max-tree-depth 10 7,10``
(two 4 x (1000 + 1000) fits; ~5 min on 2 cores with the exact ``Angle``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402


def _depth(text: str) -> int | tuple[int, int]:
    parts = [int(p) for p in text.split(",")]
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-tree-depth", nargs="+", default=["10", "7,10"],
                   help="settings to compare: N or WARMUP,SAMPLING (default: 10 7,10)")
    p.add_argument("--decision", choices=("exact", "lan"), default="exact")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--host-devices", type=int, default=4)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    common.add_xla_flags(args.host_devices)
    warnings.filterwarnings("ignore", message=".*distributional_components", category=FutureWarning)
    folder = common.data_dir(args.data_dir)
    common.offline_hssm_lan(folder / "angle.onnx")

    import numpy as np
    import numpyro.infer

    import rlssm
    from bench_sampling import diagnostics
    from rlssm.fitting import Hierarchical

    original_run = numpyro.infer.MCMC.run
    record: dict = {}

    def run(self, rng_key, *a, extra_fields=(), init_params=None, **kw):
        if record.get("busy"):  # warmup() calls run() itself
            return original_run(self, rng_key, *a, extra_fields=extra_fields, init_params=init_params, **kw)
        record["busy"] = True
        try:
            self.warmup(rng_key, *a, extra_fields=("num_steps", "adapt_state.step_size"),
                        collect_warmup=True, init_params=init_params, **kw)
            fields = self.get_extra_fields(group_by_chain=True)
            record["warm_steps"] = np.asarray(fields["num_steps"])
            record["warm_step_size"] = np.asarray(fields["adapt_state.step_size"])
            return original_run(self, rng_key, *a, extra_fields=extra_fields, init_params=init_params, **kw)
        finally:
            record["busy"] = False

    numpyro.infer.MCMC.run = run

    data = common.seed_data(folder)
    decision = rlssm.Angle() if args.decision == "exact" else rlssm.AngleLAN(folder / "angle.onnx")
    model = rlssm.RLSSM(rlssm.DualRateRW(), decision, precision="float32")
    priors = {k: {"name": q.name, **q.args} for k, q in common.seed_priors().items()}
    fit = Hierarchical(model, data, priors=priors)
    print(f"== bench_warmup: seed hierarchical model, {type(decision).__name__}, "
          f"{args.chains} x ({args.tune} + {args.draws}), seed {args.seed} ==")
    print(common.machine_note())
    for text in args.max_tree_depth:
        depth = _depth(text)
        t0 = time.perf_counter()
        idata = fit.sample(chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed,
                           max_tree_depth=depth, log_likelihood=False, progressbar=False)
        res = diagnostics(idata, time.perf_counter() - t0, list(fit.group_vars))
        warm = record["warm_steps"]
        drawn = res["draw_steps"]
        print(f"\n-- max_tree_depth={depth!r} --")
        print("warm-up steps per iteration, blocks of 100:",
              " ".join(f"{warm[:, i:i + 100].mean():.0f}" for i in range(0, warm.shape[1], 100)))
        print("warm-up step size, blocks of 100:        ",
              " ".join(f"{record['warm_step_size'][:, i:i + 100].mean():.3f}" for i in range(0, warm.shape[1], 100)))
        total = warm.sum() + drawn
        print(f"steps: first 100 warm-up iterations {warm[:, :100].sum() / total:.0%}, rest of warm-up "
              f"{warm[:, 100:].sum() / total:.0%}, draws {drawn / total:.0%} of {total:.0f}")
        print(f"wall {res['wall_s']:.1f} s | divergences {res['divergences']} of {res['draws']} | "
              f"tree depth {res['tree_depth']:.2f} (max {res['max_tree_depth']}) | min bulk ESS "
              f"{res['min_ess']:.0f} ({res['min_ess_var']}) | max R-hat {res['max_rhat']:.3f} | "
              f"min ESS/s {res['ess_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
