"""Accuracy and speed of `rlssm.decision.Diffusion` (first-passage integral equations).

1. Grid halving: the log-density on fixed points against the exact `DDM` (constant) and
   `Angle` (linear) series, and against the finest grid for the Weibull collapse; the
   observed order is log2 of the error ratio between successive grids (points where
   the density is above ``exp(-10) / a^2``).
2. Value and gradient of the summed log-density of a 20 x 200 design (per-participant
   ``a, z`` and boundary parameters of shape ``(20, 1)``, trial-wise drifts), float64,
   against `DDM` and `Angle` on the same design.

Run: ``.venv/bin/python benchmarks/diffusion_accuracy.py``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from rlssm.boundaries import Constant, Linear, Weibull
from rlssm.decision import DDM, Angle, Diffusion


def _points(rng, n=200):
    p = {"v": rng.uniform(-2, 2, n), "a": rng.uniform(0.5, 2.0, n), "z": rng.uniform(0.3, 0.7, n), "t": np.full(n, 0.2)}
    s = rng.uniform(0.05, 1.0, n) * 2 * p["a"] ** 2
    return p, p["t"] + s, rng.choice([-1, 1], n)


def convergence() -> None:
    rng = np.random.default_rng(0)
    p, rt, c = _points(rng)
    cases = [
        ("constant vs DDM", Constant(), {}, DDM(), {}),
        ("linear vs Angle", Linear(), {"theta": np.full(rt.size, 0.5)}, Angle(), {"theta": np.full(rt.size, 0.5)}),
        ("weibull vs finest", Weibull(), {"alpha": np.full(rt.size, 2.0), "beta": np.full(rt.size, 1.5)}, None, {}),
    ]
    grids = [(100, 0.28), (200, 0.14), (400, 0.07), (800, 0.035)]
    print(f"{'case':20s} {'n_steps':>8s} {'dp':>7s} {'max|dlogp|':>12s} {'order':>6s}")
    with jax.enable_x64(True):
        for name, boundary, extra, reference, ref_extra in cases:
            values = [np.asarray(jax.jit(Diffusion(boundary, n_steps=n, dp=dp).logp)(rt, c, **p, **extra)) for n, dp in grids]
            if reference is None:
                reference_value = np.asarray(jax.jit(Diffusion(boundary, n_steps=3200, dp=0.00875).logp)(rt, c, **p, **extra))
            else:
                reference_value = np.asarray(reference.logp(rt, c, **p, **ref_extra))
            # Where the density is above exp(-10) of its scale 1 / a^2 (far tails lose
            # relative accuracy, see `Diffusion`).
            kept = reference_value + 2 * np.log(p["a"]) > -10.0
            errors = [np.max(np.abs(v - reference_value)[kept]) for v in values]
            for i, ((n, dp), e) in enumerate(zip(grids, errors)):
                order = "" if i == 0 else f"{np.log2(errors[i - 1] / e):6.2f}"
                print(f"{name:20s} {n:8d} {dp:7.3f} {e:12.3e} {order:>6s}")


def _time(f, *args, repeat=5):
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def speed() -> None:
    rng = np.random.default_rng(1)
    n_p, n_t = 20, 200
    rt = rng.uniform(0.5, 2.0, (n_p, n_t))
    choice = rng.choice([-1.0, 1.0], (n_p, n_t))
    v = rng.uniform(-2, 2, (n_p, n_t))
    a = rng.uniform(0.8, 2.0, (n_p, 1))
    z = rng.uniform(0.3, 0.7, (n_p, 1))
    t = np.full((n_p, 1), 0.3)
    rows = [
        ("DDM", DDM(), {}),
        ("Angle", Angle(), {"theta": np.full((n_p, 1), 0.3)}),
        ("Diffusion(Constant)", Diffusion(), {}),
        ("Diffusion(Linear)", Diffusion(Linear()), {"theta": np.full((n_p, 1), 0.3)}),
        ("Diffusion(Weibull)", Diffusion(Weibull()), {"alpha": np.full((n_p, 1), 2.0), "beta": np.full((n_p, 1), 1.5)}),
    ]
    print(f"\n{'model (20 x 200, float64)':28s} {'value+grad [ms]':>16s} {'ratio to DDM':>13s}")
    base = None
    with jax.enable_x64(True):
        for name, model, extra in rows:
            def total(v, a, z, t, model=model, extra=extra):
                return jnp.sum(model.logp(rt, choice, v=v, a=a, z=z, t=t, **extra))

            f = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))
            seconds = _time(f, v, a, z, t)
            base = seconds if base is None else base
            print(f"{name:28s} {1e3 * seconds:16.2f} {seconds / base:13.1f}")


if __name__ == "__main__":
    convergence()
    speed()
