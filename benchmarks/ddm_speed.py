"""Speed of the DDM likelihood: value and gradient against the exact Angle model and HSSM.

Issue 25's target for `rlssm.DDM`: value+gradient on the seed design (20 participants x
200 trials) at most 0.6x the exact `rlssm.Angle` model's and at most 0.5x HSSM's
analytical ``logp_ddm`` on the same trials, in float64 and in float32.

The trials are the seed data's (``rldm_data.npy``: response times, responses coded -1/+1
for the decision models); the drift of each trial is the one ``RLSSM(DualRateRW(),
DDM())`` computes at the seed tutorial's point (``model.values``), ``a``, ``z``, ``t``
(and the Angle model's ``theta``) are the seed point's, all passed as per-trial vectors.
Timed, for each case: ``jax.jit(jax.value_and_grad(total))`` of the summed log-likelihood
with respect to the per-trial parameter vectors, ``jax.block_until_ready`` on the result,
inputs already on the device:

- ``DDM``: ``rlssm.DDM().logp``;
- ``Angle``: ``rlssm.Angle().logp`` (the exact angle model);
- ``HSSM logp_ddm``: ``hssm.likelihoods.analytical.logp_ddm`` (a PyTensor graph, built in
  the precision's ``floatX``), rewritten by PyTensor's JAX mode and turned into a JAX
  function with ``pytensor.link.jax.dispatch.jax_funcify``; JAX differentiates it like
  the others.

Medians over ``--repeats`` rounds after ``--warmup`` calls; in every round each function
is called once, in a rotating order, so that load from other jobs on the machine hits all
of them alike; ratios are taken between medians of the same run. A second table (skip with
``--no-model``) times the whole RL models, ``RLSSM(DualRateRW(), DDM())`` against
``RLSSM(DualRateRW(), Angle())`` (``model.logp_fn``, per-trial vectors, as in
``bench_likelihood.py``), where the scan over trials adds the same cost to both.

Run: ``.venv/bin/python benchmarks/ddm_speed.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402  (must precede hssm: offline LAN set-up)

TARGET_ANGLE = 0.6
TARGET_HSSM = 0.5


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=200, help="timed rounds (default 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls per function after compiling")
    p.add_argument("--precision", choices=("float32", "float64", "both"), default="both")
    p.add_argument("--no-model", action="store_true", help="skip the whole-model table")
    p.add_argument("--data-dir", default=None, help="folder with rldm_data.npy and angle.onnx")
    return p.parse_args(argv)


def _hssm_logp_ddm(precision: str):
    """HSSM's ``logp_ddm`` as a JAX function of ``(data, v, a, z, t)`` in ``precision``."""
    import pymc.sampling.jax  # noqa: F401  (registers JAX conversions of PyMC's ops)
    import pytensor
    import pytensor.tensor as pt
    from hssm.likelihoods.analytical import logp_ddm
    from pytensor.compile.mode import get_mode
    from pytensor.graph import FunctionGraph
    from pytensor.link.jax.dispatch import jax_funcify

    with pytensor.config.change_flags(floatX=precision):
        data = pt.matrix("data", dtype=precision)
        v, a, z, t = (pt.vector(name, dtype=precision) for name in "vazt")
        graph = FunctionGraph([data, v, a, z, t], [logp_ddm(data, v, a, z, t)], clone=True)
        get_mode("JAX").optimizer.rewrite(graph)
        fn = jax_funcify(graph)
    return lambda *args: fn(*args)[0]


def main(argv=None) -> dict[str, dict[str, float]]:
    """Run the benchmark; return ``precision -> case -> median ms``."""
    args = parse_args(argv)
    # HSSM's float32 graph asks for float64 constants, which JAX truncates (as intended).
    warnings.filterwarnings("ignore", message="Explicitly requested dtype float64", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*distributional_components", category=FutureWarning)
    folder = common.data_dir(args.data_dir)

    import jax
    import jax.numpy as jnp
    import numpy as np

    import rlssm

    data = common.seed_data(folder)
    n_rows = len(data)
    n_part = data["participant_id"].nunique()
    ddm_model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM())
    point = {name: common.SEED_POINT[name] for name in ddm_model.param_names}
    drift = ddm_model.values(data, point)["v"].to_numpy(np.float64)
    rt = data["rt"].to_numpy(np.float64)
    choice = np.where(data["response"].to_numpy() == 1, 1.0, -1.0)
    precisions = ("float64", "float32") if args.precision == "both" else (args.precision,)

    print("== ddm_speed: value_and_grad of the summed DDM log-likelihood, per-trial parameters ==")
    print(common.machine_note())
    print(
        f"trials: seed data, {n_part} participants x {n_rows // n_part} trials = {n_rows}; "
        f"v from RLSSM(DualRateRW(), DDM()).values at the seed point (range {drift.min():.2f} .. "
        f"{drift.max():.2f}), a = {point['a']}, z = {point['z']}, t = {point['t']}, Angle theta = "
        f"{common.SEED_POINT['theta']}"
    )

    timed: dict[str, tuple] = {}  # key -> (jitted fn, args, x64)
    for prec in precisions:
        x64 = prec == "float64"
        with jax.enable_x64(x64):
            vec = {
                "rt": jnp.asarray(rt, prec),
                "choice": jnp.asarray(choice, prec),
                "v": jnp.asarray(drift, prec),
                **{k: jnp.full(n_rows, point[k], prec) for k in ("a", "z", "t")},
                "theta": jnp.full(n_rows, common.SEED_POINT["theta"], prec),
            }
            vazt = {k: vec[k] for k in "vazt"}
            rt_x, ch_x = vec["rt"], vec["choice"]

            def ddm_total(p, rt_x=rt_x, ch_x=ch_x):
                return rlssm.DDM().logp(rt_x, ch_x, **p).sum()

            def angle_total(p, rt_x=rt_x, ch_x=ch_x):
                return rlssm.Angle().logp(rt_x, ch_x, **p).sum()

            hssm_fn = _hssm_logp_ddm(prec)
            matrix = jnp.stack([rt_x, ch_x], axis=1)

            def hssm_total(p, hssm_fn=hssm_fn, matrix=matrix):
                return hssm_fn(matrix, p["v"], p["a"], p["z"], p["t"]).sum()

            timed[f"{prec}/DDM"] = (jax.jit(jax.value_and_grad(ddm_total)), vazt, x64)
            timed[f"{prec}/Angle"] = (
                jax.jit(jax.value_and_grad(angle_total)),
                {**vazt, "theta": vec["theta"]},
                x64,
            )
            timed[f"{prec}/HSSM logp_ddm"] = (jax.jit(jax.value_and_grad(hssm_total)), vazt, x64)
            if not args.no_model:
                for label, decision in (("RL-DDM", rlssm.DDM()), ("RL-Angle", rlssm.Angle())):
                    model = rlssm.RLSSM(rlssm.DualRateRW(), decision, precision=prec)
                    f = model.logp_fn(data)
                    params = {k: jnp.full(n_rows, common.SEED_POINT[k], prec) for k in model.param_names}
                    timed[f"{prec}/{label}"] = (
                        jax.jit(jax.value_and_grad(lambda p, f=f: f(p).sum())),
                        params,
                        x64,
                    )

    results, compile_s = {}, {}
    for key, (fn, params, x64) in timed.items():
        with jax.enable_x64(x64):
            t0 = time.perf_counter()
            results[key] = jax.block_until_ready(fn(params))
            compile_s[key] = time.perf_counter() - t0

    print("\n-- the same trials, value and gradients (DDM against HSSM's logp_ddm) --")
    for prec in precisions:
        (d_val, d_grad), (h_val, h_grad) = results[f"{prec}/DDM"], results[f"{prec}/HSSM logp_ddm"]
        grad_diff = max(
            float(np.max(np.abs(np.asarray(d_grad[k], np.float64) - np.asarray(h_grad[k], np.float64))))
            / max(float(np.max(np.abs(np.asarray(h_grad[k], np.float64)))), 1e-300)
            for k in "vazt"
        )
        print(
            f"  {prec}: total DDM {float(d_val):.6f}, HSSM {float(h_val):.6f}; "
            f"max |grad diff| / max |grad| over v, a, z, t: {grad_diff:.1e}"
        )

    times = common.interleaved_times(timed, args.warmup, args.repeats)
    med, spread = common.medians_ms(times)

    def iqr(k: str) -> float:
        return spread[k]

    print(
        f"\n-- timing: median ms per value_and_grad call over {args.repeats} interleaved rounds "
        "(IQR in brackets), compile = first call --"
    )
    for prec in precisions:
        for case in ("DDM", "Angle", "HSSM logp_ddm", "RL-DDM", "RL-Angle"):
            key = f"{prec}/{case}"
            if key in med:
                print(
                    f"{prec:9} | {case:14} | {med[key]:7.3f} [{iqr(key):6.3f}] ms | "
                    f"compile {compile_s[key]:5.1f} s"
                )

    print("\n-- ratios of medians, same run --")
    out: dict[str, dict[str, float]] = {}
    for prec in precisions:
        out[prec] = {case: med[f"{prec}/{case}"] for case in ("DDM", "Angle", "HSSM logp_ddm")}
        to_angle = med[f"{prec}/DDM"] / med[f"{prec}/Angle"]
        to_hssm = med[f"{prec}/DDM"] / med[f"{prec}/HSSM logp_ddm"]
        print(
            f"{prec:9} | DDM / Angle {to_angle:5.2f} (target <= {TARGET_ANGLE}: "
            f"{'met' if to_angle <= TARGET_ANGLE else 'NOT met'}) | DDM / HSSM logp_ddm {to_hssm:5.2f} "
            f"(target <= {TARGET_HSSM}: {'met' if to_hssm <= TARGET_HSSM else 'NOT met'})"
        )
        if f"{prec}/RL-DDM" in med:
            print(
                f"{prec:9} | whole models: RLSSM(DualRateRW(), DDM()) / RLSSM(DualRateRW(), Angle()) "
                f"{med[f'{prec}/RL-DDM'] / med[f'{prec}/RL-Angle']:5.2f}"
            )
    return out


if __name__ == "__main__":
    main()
