"""Value+grad throughput of the seed likelihood for several chains at once.

NUTS with one chain per host device evaluates one value+grad per chain per leapfrog step,
all chains at the same time. This times that: the seed likelihood (float32, per-participant
parameters) as one chain alone (``jax.jit``), as ``--chains`` chains one per host device
(``jax.pmap``) and as the same chains vectorised on one device (``jax.vmap``), median ms per
call. Optional ``--xla-flags`` are appended to ``XLA_FLAGS`` before JAX starts.

Run: ``.venv/bin/python benchmarks/bench_throughput.py`` (``--decision exact`` for ``Angle``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--decision", choices=("lan", "exact"), default="lan")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--xla-flags", default="", help="extra XLA flags (set before JAX starts)")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    common.add_xla_flags(args.chains, args.xla_flags)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import rlssm

    folder = common.data_dir(args.data_dir)
    data = common.seed_data(folder)
    decision = rlssm.Angle() if args.decision == "exact" else rlssm.AngleLAN(folder / "angle.onnx")
    model = rlssm.RLSSM(rlssm.DualRateRW(), decision, precision="float32")
    f = model.logp_fn(data)
    n_part = data["participant_id"].nunique()
    point = dict(rl_alpha=0.66, rl_alpha_neg=0.66, scaler=2.8, a=1.5, z=0.27, t=0.44, theta=0.31)

    def total(x):  # x: (parameters, participants)
        return jnp.sum(f({k: x[i] for i, k in enumerate(point)}))

    value_and_grad = jax.value_and_grad(total)
    one = jnp.stack([jnp.full((n_part,), v, jnp.float32) for v in point.values()])
    many = jnp.stack([one * (1 + 0.01 * c) for c in range(args.chains)])

    def median_ms(fn, x) -> float:
        jax.block_until_ready(fn(x))
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            jax.block_until_ready(fn(x))
            times.append(time.perf_counter() - t0)
        return float(np.median(times)) * 1e3

    print(f"== bench_throughput: seed likelihood value+grad, {type(decision).__name__}, float32 ==")
    print(common.machine_note(), f"XLA_FLAGS={os.environ['XLA_FLAGS']!r}")
    single = median_ms(jax.jit(value_and_grad), one)
    parallel = median_ms(jax.pmap(value_and_grad), many)
    vectorised = median_ms(jax.jit(jax.vmap(value_and_grad)), many)
    print(f"one chain (jit):                        {single:8.2f} ms")
    print(f"{args.chains} chains, one per host device (pmap): {parallel:8.2f} ms  ({parallel / args.chains:.2f} per chain)")
    print(f"{args.chains} chains vectorised (vmap):          {vectorised:8.2f} ms  ({vectorised / args.chains:.2f} per chain)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
