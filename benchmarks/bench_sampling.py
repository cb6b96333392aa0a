"""Hierarchical sampling efficiency (bulk ESS per second): rlssm against HSSM 0.5.

The model is the seed tutorial's: ``p ~ 1 + (1|participant_id)`` for all seven
parameters (rl_alpha, rl_alpha_neg, scaler, a, z, t, theta), TruncatedNormal intercept
priors (see ``_common.seed_priors``), non-centred random effects, no lapse mixture,
NUTS from numpyro. The same specification is fitted

* by HSSM 0.5's own RLSSM, ``hssm.rl.RLSSM(data, model="2AB_RW_DualAlpha_Angle",
  include=...)`` (responses recoded 0/1 -> -1/+1, the preset's choices), and
* by rlssm, ``RLSSM(DualRateRW(), AngleLAN()).to_hssm(data, include=...)`` (or the
  exact ``Angle`` with ``--rlssm-decision exact``),

and for each the script prints: wall time of the whole ``.sample()`` call (compilation
included; pointwise log-likelihoods are not computed unless ``--log-likelihood``),
divergences, mean tree depth, min bulk ESS and max R-hat over the group-level parameters
(intercepts and group sigmas), min ESS/s, and the rlssm/HSSM ratios.

Run (the defaults are a real measurement; it takes a while):
``.venv/bin/python benchmarks/bench_sampling.py --chains 4 --tune 1000 --draws 1000``.
Smoke test: ``--chains 1 --tune 20 --draws 20``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402  (must precede hssm: offline LAN set-up)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--side", choices=("rlssm", "hssm", "both"), default="both")
    p.add_argument("--runs", type=int, default=1, help="repeat the fits, alternating the order of the sides")
    p.add_argument("--seed", type=int, default=0, help="random_seed of the samplers")
    p.add_argument(
        "--chain-method",
        choices=("parallel", "vectorized"),
        default="parallel",
        help="numpyro's chain_method (parallel wants one device per chain; on one CPU device "
        "numpyro runs the chains one after another)",
    )
    p.add_argument("--precision", choices=("float32", "float64"), default="float64", help="rlssm's float policy")
    p.add_argument("--rlssm-decision", choices=("lan", "exact"), default="lan")
    p.add_argument("--process-initvals", action="store_true", help="HSSM's initial-value processing (the tutorial turns it off)")
    p.add_argument("--log-likelihood", action="store_true", help="also compute pointwise log-likelihoods (timed)")
    p.add_argument("--participants", type=int, default=None, help="tile the seed data to N participants")
    p.add_argument("--trials", type=int, default=None, help="tile / cut the seed data to T trials each")
    p.add_argument("--data-dir", default=None, help="folder with rldm_data.npy and angle.onnx")
    return p.parse_args(argv)


def _group_vars(posterior) -> list[str]:
    """Group-level variables: intercepts and the random effects' sigmas."""
    return [str(v) for v in posterior.data_vars if str(v).endswith(("_Intercept", "_sigma"))]


def _min_over(ds) -> tuple[float, str]:
    """Smallest value over every element of every variable of a Dataset, and where."""
    import numpy as np

    best, where = math.inf, ""
    for name, da in ds.data_vars.items():
        vals = np.asarray(da, dtype=float)
        if vals.size and np.nanmin(vals) < best:
            best, where = float(np.nanmin(vals)), str(name)
    return best, where


def _max_over(ds) -> tuple[float, str]:
    import numpy as np

    worst, where = -math.inf, ""
    for name, da in ds.data_vars.items():
        vals = np.asarray(da, dtype=float)
        if vals.size and np.any(np.isfinite(vals)) and np.nanmax(vals) > worst:
            worst, where = float(np.nanmax(vals)), str(name)
    return worst, where


def _as_dataset(x):
    """arviz 1.x returns a DataTree (or Dataset) for a DataTree input: the posterior Dataset."""
    if hasattr(x, "children") and "posterior" in getattr(x, "children", {}):
        x = x["posterior"]
    return x.to_dataset() if hasattr(x, "to_dataset") else x


def diagnostics(idata, wall_s: float) -> dict:
    """Divergences, tree depth, min bulk ESS / max R-hat over group-level parameters."""
    import arviz as az
    import numpy as np

    posterior = idata["posterior"].to_dataset()
    stats = idata["sample_stats"].to_dataset()
    names = _group_vars(posterior)
    out: dict = {"wall_s": wall_s, "group_vars": names}
    out["divergences"] = int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else -1
    if "tree_depth" in stats:
        out["tree_depth"] = float(np.asarray(stats["tree_depth"]).mean())
    elif "n_steps" in stats:
        out["tree_depth"] = float(np.log2(np.asarray(stats["n_steps"]) + 1).mean())
    else:
        out["tree_depth"] = math.nan
    if "step_size" in stats:
        out["step_size"] = float(np.asarray(stats["step_size"]).mean())
    ess = _as_dataset(az.ess(idata, var_names=names, method="bulk"))
    out["min_ess"], out["min_ess_var"] = _min_over(ess)
    n_chains = posterior.sizes.get("chain", 1)
    if n_chains > 1:
        rhat = _as_dataset(az.rhat(idata, var_names=names))
        out["max_rhat"], out["max_rhat_var"] = _max_over(rhat)
    else:
        out["max_rhat"], out["max_rhat_var"] = math.nan, "(one chain)"
    out["ess_per_s"] = out["min_ess"] / wall_s
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*distributional_components", category=FutureWarning)
    folder = common.data_dir(args.data_dir)
    onnx_file = folder / "angle.onnx"
    common.offline_hssm_lan(onnx_file)

    import hssm
    import pytensor

    import rlssm

    data = common.seed_data(folder)
    if args.participants or args.trials:
        n0 = data["participant_id"].nunique()
        data = common.tiled_data(data, args.participants or n0, args.trials or len(data) // n0)
    n_part = data["participant_id"].nunique()

    print("== bench_sampling: hierarchical RLSSM, seed tutorial model, NUTS (numpyro) ==")
    print(common.machine_note(), f"pytensor floatX={pytensor.config.floatX}")
    print(
        f"data: {n_part} participants x {len(data) // n_part} trials; chains={args.chains} "
        f"tune={args.tune} draws={args.draws} chain_method={args.chain_method} seed={args.seed}"
    )

    common_kwargs = dict(
        p_outlier=None,  # the tutorial's p_outlier=0 / lapse=None: no lapse mixture
        lapse=None,
        noncentered=True,
        process_initvals=args.process_initvals,
    )

    def build(side: str):
        if side == "hssm":
            return hssm.rl.RLSSM(
                common.hssm_frame(data),
                model=common.HSSM_PRESET,
                include=common.seed_include(),
                **common_kwargs,
            )
        if args.rlssm_decision == "exact":
            decision = getattr(rlssm, "Angle", None)
            if decision is None:
                from rlssm.decision.angle import Angle as decision
            decision = decision()
        else:
            decision = rlssm.AngleLAN(onnx_file)
        model = rlssm.RLSSM(rlssm.DualRateRW(), decision, precision=args.precision)
        return model.to_hssm(data, include=common.seed_include(), **common_kwargs)

    def fit(side: str) -> dict:
        t0 = time.perf_counter()
        hm = build(side)
        build_s = time.perf_counter() - t0
        sample_kwargs = dict(
            sampler="numpyro",  # HSSM 0.5's name for the former "nuts_numpyro"
            chains=args.chains,
            tune=args.tune,
            draws=args.draws,
            random_seed=args.seed,
            nuts={"chain_method": args.chain_method},  # PyMC 6 lifts it to sample_jax_nuts
            progressbar=False,
        )
        if not args.log_likelihood:
            sample_kwargs["idata_kwargs"] = {"log_likelihood": False}
        t0 = time.perf_counter()
        idata = hm.sample(**sample_kwargs)
        wall = time.perf_counter() - t0
        out = diagnostics(idata, wall)
        out["build_s"] = build_s
        return out

    sides = ("hssm", "rlssm") if args.side == "both" else (args.side,)
    results: dict[str, list[dict]] = {s: [] for s in sides}
    for run in range(args.runs):
        order = sides if run % 2 == 0 else sides[::-1]
        for side in order:
            print(f"\n-- run {run + 1}/{args.runs}: {side} --", flush=True)
            res = fit(side)
            results[side].append(res)
            print(
                f"build {res['build_s']:.1f} s | sample {res['wall_s']:.1f} s | divergences "
                f"{res['divergences']} | mean tree depth {res['tree_depth']:.2f} | min bulk ESS "
                f"{res['min_ess']:.1f} ({res['min_ess_var']}) | max R-hat {res['max_rhat']:.3f} "
                f"({res['max_rhat_var']}) | min ESS/s {res['ess_per_s']:.3f}",
                flush=True,
            )
            print(f"   group-level parameters: {', '.join(res['group_vars'])}")

    print("\n-- summary (median over runs) --")
    import statistics

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in results[side])

    header = f"{'side':6} | {'sample s':>9} | {'diverg.':>7} | {'tree depth':>10} | {'min ESS':>8} | {'max R-hat':>9} | {'min ESS/s':>9}"
    print(header)
    print("-" * len(header))
    for side in sides:
        print(
            f"{side:6} | {med(side, 'wall_s'):9.1f} | {med(side, 'divergences'):7.0f} | "
            f"{med(side, 'tree_depth'):10.2f} | {med(side, 'min_ess'):8.1f} | "
            f"{med(side, 'max_rhat'):9.3f} | {med(side, 'ess_per_s'):9.3f}"
        )
    if len(sides) == 2:
        print(
            f"\nratios rlssm/HSSM: sample time {med('rlssm', 'wall_s') / med('hssm', 'wall_s'):.3f} "
            f"(< 1: rlssm faster); min ESS/s {med('rlssm', 'ess_per_s') / med('hssm', 'ess_per_s'):.3f} "
            "(> 1: rlssm more efficient)"
        )
    if args.draws < 200:
        print("NOTE: few draws; ESS and R-hat are not meaningful at this size (smoke run).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
