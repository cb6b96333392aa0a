"""Hierarchical sampling efficiency (bulk ESS per second): rlssm against HSSM 0.5.

The model is the seed tutorial's: all seven parameters (rl_alpha, rl_alpha_neg, scaler,
a, z, t, theta) vary by participant around a group intercept, with the tutorial's
TruncatedNormal intercept priors (``_common.seed_priors``), no lapse mixture, NUTS from
numpyro. It is fitted, on the same data, machine and in the same process,

* by HSSM 0.5's own RLSSM, as a user builds it: ``hssm.rl.RLSSM(data,
  model="2AB_RW_DualAlpha_Angle", include=[p ~ 1 + (1|participant_id)], noncentered=True,
  process_initvals=False)`` (the tutorial's settings; responses recoded 0/1 -> -1/+1,
  the preset's choices), and
* by rlssm's default hierarchical fit, ``rlssm.fitting.Hierarchical(RLSSM(DualRateRW(),
  AngleLAN()), data, priors=<the same intercept priors>)`` (bounded parameters on logit
  scales, non-centred, t held smoothly below each participant's fastest rt, chains
  started around the pooled maximum-likelihood point), and the same with the exact
  ``Angle`` (``--rlssm-decision lan|exact|both``, default both; the HSSM route
  ``model.to_hssm`` with ``--rlssm-path hssm``).

Chains run one per JAX device, the CPU split into ``--host-devices 4`` devices
(``--chain-method parallel``, both sides; ``--host-devices 0 --chain-method vectorized``
for one device and vectorised chains).

For each side it prints the wall time of the whole sampling call (compilation and
warm-up included; pointwise log-likelihoods not computed unless ``--log-likelihood``),
divergences, mean tree depth, min bulk ESS and max R-hat over the group-level parameters
(intercepts / group locations and group sigmas), min ESS/s and the group means against
the truth stored in the data file; then one table of rlssm/HSSM ratios, including the
log-likelihood and value+grad timings of ``bench_likelihood.py`` run first in the same
process (``--lik-repeats 0`` skips them).

Run (the defaults are the real measurement, ~30-60 min on 2 cores):
``.venv/bin/python benchmarks/bench_sampling.py``.
Smoke test: ``--chains 1 --tune 20 --draws 20 --hssm-chains 1 --hssm-tune 20 --hssm-draws 20 --lik-repeats 2``.
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
    p.add_argument("--chains", type=int, default=4, help="rlssm chains (default 4)")
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--hssm-chains", type=int, default=2, help="HSSM chains (default 2, the issue's anchor run)")
    p.add_argument("--hssm-tune", type=int, default=500)
    p.add_argument("--hssm-draws", type=int, default=500)
    p.add_argument("--side", choices=("rlssm", "hssm", "both"), default="both")
    p.add_argument("--seed", type=int, default=0, help="random_seed of the samplers")
    p.add_argument(
        "--chain-method",
        choices=("parallel", "vectorized"),
        default="parallel",
        help="numpyro's chain_method for both sides (parallel wants one device per chain; on one "
        "CPU device numpyro then runs the chains one after another)",
    )
    p.add_argument(
        "--host-devices", type=int, default=4,
        help="split the CPU into this many JAX devices (XLA_FLAGS, set before JAX starts) so that "
        "--chain-method parallel runs one chain per device on all cores (0: leave JAX's default)",
    )
    p.add_argument("--precision", choices=("float32", "float64"), default="float32", help="float policy of both sides")
    p.add_argument("--rlssm-decision", choices=("lan", "exact", "both"), default="both",
                   help="rlssm's decision model: AngleLAN (the issue's model), the exact Angle, or both (two rlssm fits)")
    p.add_argument("--rlssm-path", choices=("hierarchical", "hssm"), default="hierarchical",
                   help="rlssm.fitting.Hierarchical (default) or RLSSM.to_hssm with HSSM's formula machinery")
    p.add_argument("--process-initvals", action="store_true", help="HSSM's initial-value processing (the tutorial turns it off)")
    p.add_argument("--hssm-link-settings", choices=("none", "log_logit"), default="none",
                   help="HSSM's link_settings (log_logit: bounded parameters on logit/log scales)")
    p.add_argument("--log-likelihood", action="store_true", help="also compute pointwise log-likelihoods (timed)")
    p.add_argument("--lik-repeats", type=int, default=20, help="rounds of the likelihood timing (0: skip)")
    p.add_argument("--participants", type=int, default=None, help="tile the seed data to N participants")
    p.add_argument("--trials", type=int, default=None, help="tile / cut the seed data to T trials each")
    p.add_argument("--data-dir", default=None, help="folder with rldm_data.npy and angle.onnx")
    return p.parse_args(argv)


def _as_dataset(x):
    """arviz 1.x returns a DataTree (or Dataset) for a DataTree input: the posterior Dataset."""
    if hasattr(x, "children") and "posterior" in getattr(x, "children", {}):
        x = x["posterior"]
    return x.to_dataset() if hasattr(x, "to_dataset") else x


def _extreme(ds, names, pick) -> tuple[float, str]:
    """Smallest (``pick=min``) or largest value over the named variables, and where."""
    import numpy as np

    vals = {n: float(pick(np.asarray(ds[n], dtype=float).ravel())) for n in names}
    where = pick(vals, key=vals.get)
    return vals[where], where


def diagnostics(idata, wall_s: float, names: list[str]) -> dict:
    """Divergences, tree depth, min bulk ESS / max R-hat over the group-level variables."""
    import arviz as az
    import numpy as np

    stats = idata["sample_stats"].to_dataset()
    out: dict = {"wall_s": wall_s, "group_vars": names}
    out["draws"] = int(np.asarray(stats["diverging"]).size)
    out["divergences"] = int(np.asarray(stats["diverging"]).sum())
    if "tree_depth" in stats:
        depth = np.asarray(stats["tree_depth"])
    else:
        depth = np.log2(np.asarray(stats["n_steps"]) + 1)
    out["tree_depth"] = float(depth.mean())
    # Gradient evaluations of the draws (the warm-up's are not in PyMC's sample_stats).
    out["draw_steps"] = float(np.asarray(stats["n_steps"]).sum()) if "n_steps" in stats else math.nan
    out["max_tree_depth"] = int(depth.max())
    out["step_size"] = float(np.asarray(stats["step_size"]).mean()) if "step_size" in stats else math.nan
    ess = _as_dataset(az.ess(idata, var_names=names, method="bulk"))
    out["min_ess"], out["min_ess_var"] = _extreme(ess, names, min)
    if idata["posterior"].sizes.get("chain", 1) > 1:
        rhat = _as_dataset(az.rhat(idata, var_names=names))
        out["max_rhat"], out["max_rhat_var"] = _extreme(rhat, names, max)
    else:
        out["max_rhat"], out["max_rhat_var"] = math.nan, "(one chain)"
    out["ess_per_s"] = out["min_ess"] / wall_s
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    common.add_xla_flags(args.host_devices)
    warnings.filterwarnings("ignore", message=".*distributional_components", category=FutureWarning)
    warnings.filterwarnings("ignore", message="Explicitly requested dtype int64", category=UserWarning)
    folder = common.data_dir(args.data_dir)
    onnx_file = folder / "angle.onnx"
    common.offline_hssm_lan(onnx_file)

    lik = {}
    if args.lik_repeats > 0:
        import bench_likelihood

        lik_argv = ["--repeats", str(args.lik_repeats), "--data-dir", str(folder)]
        if args.participants:
            lik_argv += ["--participants", str(args.participants)]
        if args.trials:
            lik_argv += ["--trials", str(args.trials)]
        lik = bench_likelihood.main(lik_argv)
        print()

    import hssm
    import numpy as np
    import pytensor

    import rlssm
    from rlssm.fitting import Hierarchical

    data = common.seed_data(folder)
    truth = common.seed_truth(folder)
    if args.participants or args.trials:
        n0 = data["participant_id"].nunique()
        data = common.tiled_data(data, args.participants or n0, args.trials or len(data) // n0)
    n_part = data["participant_id"].nunique()

    print("== bench_sampling: hierarchical RLSSM, seed tutorial model, NUTS (numpyro) ==")
    print(common.machine_note(), f"pytensor floatX={pytensor.config.floatX}")
    print(
        f"data: {n_part} participants x {len(data) // n_part} trials; rlssm {args.chains} x "
        f"({args.tune} + {args.draws}), HSSM {args.hssm_chains} x ({args.hssm_tune} + "
        f"{args.hssm_draws}); chain_method={args.chain_method}; precision={args.precision}; seed={args.seed}"
    )

    hssm_kwargs = dict(
        p_outlier=None,  # the tutorial's p_outlier=0 / lapse=None: no lapse mixture
        lapse=None,
        noncentered=True,
        process_initvals=args.process_initvals,
    )
    if args.hssm_link_settings != "none":
        hssm_kwargs["link_settings"] = args.hssm_link_settings
    decisions = ("lan", "exact") if args.rlssm_decision == "both" else (args.rlssm_decision,)
    models = {
        d: rlssm.RLSSM(
            rlssm.DualRateRW(), rlssm.Angle() if d == "exact" else rlssm.AngleLAN(onnx_file),
            precision=args.precision,
        )
        for d in decisions
    }
    def fit(side: str, decision: str = decisions[0]) -> dict:
        model = models[decision]
        t0 = time.perf_counter()
        if side == "rlssm" and args.rlssm_path == "hierarchical":
            priors = {k: {"name": p.name, **p.args} for k, p in common.seed_priors().items()}
            hier = Hierarchical(model, data, priors=priors)
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            idata = hier.sample(
                chains=args.chains, tune=args.tune, draws=args.draws, seed=args.seed,
                chain_method=args.chain_method, log_likelihood=args.log_likelihood,
                progressbar=False,
            )
            wall = time.perf_counter() - t0
            names = list(hier.group_vars)
            means = {n: n for n in model.param_names}
        else:
            if side == "hssm":
                hm = hssm.rl.RLSSM(
                    common.hssm_frame(data), model=common.HSSM_PRESET,
                    include=common.seed_include(), **hssm_kwargs,
                )
                chains, tune, draws = args.hssm_chains, args.hssm_tune, args.hssm_draws
            else:
                hm = model.to_hssm(data, include=common.seed_include(), **hssm_kwargs)
                chains, tune, draws = args.chains, args.tune, args.draws
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            idata = hm.sample(
                sampler="numpyro",  # HSSM 0.5's name for the former "nuts_numpyro"
                chains=chains, tune=tune, draws=draws, random_seed=args.seed,
                nuts={"chain_method": args.chain_method},
                progressbar=False,
                idata_kwargs={"log_likelihood": args.log_likelihood},
            )
            wall = time.perf_counter() - t0
            posterior = idata["posterior"]
            names = [str(v) for v in posterior.data_vars if str(v).endswith(("_Intercept", "_sigma"))]
            means = {n: f"{n}_Intercept" for n in model.param_names}
        out = diagnostics(idata, wall, names)
        out["build_s"] = build_s
        posterior = idata["posterior"]
        out["means"] = {
            n: (float(np.asarray(posterior[v]).mean()), float(np.asarray(posterior[v]).std()))
            for n, v in means.items()
            if v in posterior
        }
        return out

    runs = [("hssm", "HSSM", None)] if args.side in ("hssm", "both") else []
    if args.side in ("rlssm", "both"):
        runs += [("rlssm", f"rlssm {'AngleLAN' if d == 'lan' else 'Angle'}", d) for d in decisions]
    results: dict[str, dict] = {}
    for side, key, decision in runs:
        print(f"\n-- {key} --", flush=True)
        res = results[key] = fit(side, decision or decisions[0])
        print(
            f"build {res['build_s']:.1f} s | sample {res['wall_s']:.1f} s | divergences "
            f"{res['divergences']} of {res['draws']} | mean tree depth {res['tree_depth']:.2f} "
            f"(max {res['max_tree_depth']}) | leapfrog steps of the draws {res['draw_steps']:.0f} | "
            f"step size {res['step_size']:.3g} | min bulk ESS "
            f"{res['min_ess']:.1f} ({res['min_ess_var']}) | max R-hat {res['max_rhat']:.3f} "
            f"({res['max_rhat_var']}) | min ESS/s {res['ess_per_s']:.3f}",
            flush=True,
        )
        print(f"   group-level variables: {', '.join(res['group_vars'])}")
        print("   group means (posterior mean +- sd; truth from the data file; z-score):")
        for n, (m, sd) in res["means"].items():
            tv = truth.get(n)
            z = (m - tv) / sd if tv is not None and sd > 0 else math.nan
            print(f"     {n:13} {m:8.4f} +- {sd:.4f}   truth {tv if tv is not None else math.nan:8.4f}   z {z:+.2f}")

    print("\n-- summary: rlssm vs HSSM 0.5 --")
    header = f"{'measure':46} | {'rlssm':>10} | {'HSSM':>10} | {'ratio rlssm/HSSM':>16}"
    print(header)
    print("-" * len(header))
    for (prec, label), (r_ms, h_ms) in lik.items():
        print(f"{(prec + ' ' + label + ', ms'):46} | {r_ms:10.2f} | {h_ms:10.2f} | {r_ms / h_ms:16.3f}")
    if "HSSM" in results:
        h = results["HSSM"]
        for key in (k for k in results if k != "HSSM"):
            r = results[key]
            print(f"{'-- ' + key + ' (NUTS) vs HSSM --':46} |")
            for item, label, fmt in (
                ("wall_s", "NUTS wall time, s (whole sampling call)", "{:10.1f}"),
                ("ess_per_s", "min bulk ESS / s, group-level", "{:10.3f}"),
                ("min_ess", "min bulk ESS, group-level", "{:10.1f}"),
                ("max_rhat", "max R-hat, group-level", "{:10.3f}"),
                ("divergences", "divergent draws", "{:10.0f}"),
                ("tree_depth", "mean tree depth", "{:10.2f}"),
                ("draw_steps", "leapfrog steps of the draws", "{:10.0f}"),
            ):
                ratio = r[item] / h[item] if h[item] else math.nan
                print(f"{label:46} | {fmt.format(r[item])} | {fmt.format(h[item])} | {ratio:16.3f}")
            print(
                f"{'divergent fraction':46} | {r['divergences'] / r['draws']:10.4f} | "
                f"{h['divergences'] / h['draws']:10.4f} |"
            )
        print("\nratios: time < 1 and ESS/s > 1 mean rlssm is better.")
    if min(args.draws, args.hssm_draws) < 200:
        print("NOTE: few draws; ESS and R-hat are not meaningful at this size (smoke run).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
