"""How a hierarchical fit grows with participants, on one device and sharded over several.

For each number of participants (default 20, 200, 2000; 200 trials each) the seed
design, ``Hierarchical(RLSSM(DualRateRW(), Angle()), data)`` (``--decision ddm`` for
``DDM()``), is built on simulated data (participants' parameters spread around the seed
point) and timed in a fresh interpreter:

* build: ``Hierarchical(...)`` (data layout, PyMC model, likelihood Op);
* gradient: value and gradient of the full hierarchical log-density, the function NUTS
  differentiates (PyMC's JAX graph of the model, float64), median of ``--repeats``
  calls after the compile; its compile time apart;
* peak memory: the interpreter's peak resident set (``resource.getrusage``), all of
  Python, PyMC and JAX included;
* sampling (at the largest size only, ``--sample-at``): 1 chain x (``--tune`` +
  ``--draws``) of NUTS with ``max_tree_depth=--max-tree-depth``, from
  ``init="initvals"`` (the pooled start's L-BFGS runs are skipped), without the
  pointwise log-likelihood; the wall time, leapfrog steps and seconds per step.

Each size runs twice: unsharded, as a notebook gets it (one JAX device), and with
``devices=N`` on ``N = --host-devices`` CPU host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=N``), the participants split over
them. Every case runs in its own interpreter (JAX fixes its devices at start; the peak
memory is that case's).

Run: ``.venv/bin/python benchmarks/scaling.py`` (about 5-8 minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

SEED_POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.6, scaler=3.2, a=1.2, z=0.3, t=0.3, theta=0.1)
"""Group values the participants' parameters are drawn around (the seed design)."""


def worker(args: argparse.Namespace) -> dict:
    """One case in this interpreter: build, gradient, memory and (optionally) sampling."""
    import resource

    import jax
    import numpy as np
    from pymc.sampling.jax import get_jaxified_logp

    import rlssm
    from rlssm.fitting import Hierarchical

    decision = rlssm.Angle() if args.decision == "angle" else rlssm.DDM()
    model = rlssm.RLSSM(rlssm.DualRateRW(), decision, bounds={"t": (0.0, 1.0)})
    point = {k: v for k, v in SEED_POINT.items() if k in model.param_names}
    rng = np.random.default_rng(0)
    n = args.participants
    # Each participant within about +-30% of the seed point (inside every bound).
    params = {k: v * np.exp(rng.normal(0.0, 0.1, n)) for k, v in point.items()}
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
    t0 = time.perf_counter()
    data = model.simulate(params, env, n_participants=n, n_trials=args.trials, seed=1)
    simulate_s = time.perf_counter() - t0

    devices = args.devices or None
    t0 = time.perf_counter()
    fit = Hierarchical(model, data, devices=devices)
    build_s = time.perf_counter() - t0

    names = [v.name for v in fit.pymc_model.value_vars]
    start = fit.pymc_model.initial_point()
    x = [np.asarray(start[k]) for k in names]
    step = jax.jit(jax.value_and_grad(get_jaxified_logp(fit.pymc_model)))
    t0 = time.perf_counter()
    value, _ = jax.block_until_ready(step(x))
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(step(x))
        times.append(time.perf_counter() - t0)
    out = {
        "participants": n,
        "trials": args.trials,
        "devices": len(fit.devices) if fit.devices else 1,
        "simulate_s": simulate_s,
        "build_s": build_s,
        "compile_s": compile_s,
        "grad_ms": 1e3 * float(np.median(times)),
        "grad_iqr_ms": 1e3 * float(np.subtract(*np.percentile(times, [75, 25]))),
        "logp": float(value),
        "load": os.getloadavg()[0],
    }
    if args.sample:
        t0 = time.perf_counter()
        idata = fit.sample(
            chains=1, tune=args.tune, draws=args.draws, seed=0, init="initvals",
            max_tree_depth=args.max_tree_depth, progressbar=False, log_likelihood=False,
        )
        wall = time.perf_counter() - t0
        steps = int(np.asarray(idata["sample_stats"]["n_steps"]).sum())
        out.update(sample_s=wall, sample_draw_steps=steps)
    # ru_maxrss is in KiB on Linux.
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_end"] = os.getloadavg()[0]
    return out


def run_case(args: argparse.Namespace, participants: int, devices: int, sample: bool) -> dict:
    """`worker` in a fresh interpreter with ``devices`` host devices (0: JAX's default)."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    if devices:
        flag = f"--xla_force_host_platform_device_count={devices}"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flag).strip()
    command = [
        sys.executable, __file__, "--worker", "--participants", str(participants), "--trials", str(args.trials),
        "--decision", args.decision, "--repeats", str(args.repeats), "--devices", str(devices),
        "--tune", str(args.tune), "--draws", str(args.draws), "--max-tree-depth", str(args.max_tree_depth),
    ] + (["--sample"] if sample else [])
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"case {participants} x {devices} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--participants", default="20,200,2000", help="comma-separated sizes")
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--decision", choices=("angle", "ddm"), default="angle")
    p.add_argument("--host-devices", type=int, default=2, help="devices of the sharded cases (0: skip them)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--sample-at", type=int, default=None, help="size to sample at (default the largest; 0: none)")
    p.add_argument("--tune", type=int, default=20)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--max-tree-depth", type=int, default=5)
    # A case, run by main in a fresh interpreter.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--devices", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--sample", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.participants = int(args.participants)
        print(json.dumps(worker(args)), flush=True)
        return 0

    sizes = [int(s) for s in args.participants.split(",")]
    sample_at = max(sizes) if args.sample_at is None else args.sample_at
    report = common.Report()
    report(f"== scaling: Hierarchical(RLSSM(DualRateRW(), {'Angle' if args.decision == 'angle' else 'DDM'}())), "
           f"{args.trials} trials per participant, float64 ==")
    report(f"cpus={os.cpu_count()}, load avg at start {os.getloadavg()[0]:.1f}")
    rows, samples = [], []
    for n in sizes:
        for devices in ([0, args.host_devices] if args.host_devices else [0]):
            t0 = time.perf_counter()
            r = run_case(args, n, devices, sample=n == sample_at)
            r["case_s"] = time.perf_counter() - t0
            print(json.dumps(r), flush=True)
            rows.append(r)
    base = {r["participants"]: r for r in rows if r["devices"] == 1}
    table = []
    for r in rows:
        per = r["grad_ms"] / r["participants"]
        speedup = base[r["participants"]]["grad_ms"] / r["grad_ms"]
        table.append([
            str(r["participants"]), str(r["devices"]) + (" (sharded)" if r["devices"] > 1 else ""),
            f"{r['grad_ms']:.1f} (IQR {r['grad_iqr_ms']:.1f})", f"{1e3 * per:.0f}", f"{speedup:.2f}",
            f"{r['compile_s']:.1f}", f"{r['build_s']:.1f}", f"{r['peak_rss_mib']:.0f}",
            f"{r['load']:.1f}-{r['load_end']:.1f}",
        ])
        if "sample_s" in r:
            samples.append(r)
    report()
    report.table(
        ["participants", "devices", "value+grad ms", "us per participant", "x unsharded", "compile s", "build s",
         "peak RSS MiB", "load avg"],
        table,
    )
    if samples:
        report(f"1 chain x ({args.tune} + {args.draws}), max_tree_depth={args.max_tree_depth}, init='initvals':")
        report()
        report.table(
            ["participants", "devices", "wall s (compile, warm-up, draws)", "leapfrog steps in the draws"],
            [[str(r["participants"]), str(r["devices"]), f"{r['sample_s']:.1f}", str(r["sample_draw_steps"])]
             for r in samples],
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
