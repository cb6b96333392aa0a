"""How far is HSSM's ddm LAN from the analytic DDM likelihood?

Compares ``rlssm.LAN("ddm")`` (HSSM's published ``ddm.onnx``) with ``rlssm.DDM``
(Navarro & Fuss series, exact to rounding error in float64), in float64:

(a) **Responses from the process.** ``--points`` parameter sets drawn uniformly in the
    network's training box (ssm-simulators' ddm ranges: v [-3, 3], a [0.3, 2.5],
    z [0.1, 0.9], t [0, 2]), one ``(rt, choice)`` each drawn from the exact process
    (``DDM().sample``), so the response times are those the model produces. Quantiles
    of ``|LAN - exact|`` log-density, overall and by region (decision time, tails,
    edges of the box).
(b) **A grid of decision times.** The same parameter sets, each with decision times
    ``rt - t`` on a fixed grid from 1 ms to 10 s and both choices: the error by
    decision time and by the exact log-density, including where responses are rare.
(c) **z outside the training range.** HSSM's configuration gives the ddm LAN the
    bounds ``z in (0, 1)`` (what ``LAN("ddm").bounds`` says), wider than the
    ``[0.1, 0.9]`` of the simulations it was trained on: the error for ``z`` in
    ``(0, 0.1) U (0.9, 1)``, responses from the process.
(d) **Total probability.** ``exp(LAN)`` integrated over decision times (0, 20 s] and
    both choices for a few parameter sets (the exact mass is 1).

Tables are printed as markdown; ``--out FILE`` also writes them there.

Run: ``.venv/bin/python benchmarks/lan_ddm_error.py`` (``--help`` for options; the
folder with ``ddm.onnx`` is ``--data-dir``, else ``$RLSSM_TEST_DATA``, else
``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report  # noqa: E402

BOX = {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)}
"""ssm-simulators' ddm parameter ranges: the box the published network was trained on."""

GRID_DECISION_TIMES = np.geomspace(0.001, 10.0, 41)
"""Decision times ``rt - t`` of design (b), in seconds."""

MASS_POINTS = {
    "interior": dict(v=0.5, a=1.2, z=0.5, t=0.3),
    "strong drift": dict(v=2.5, a=1.0, z=0.5, t=0.3),
    "wide bounds": dict(v=0.2, a=2.4, z=0.5, t=0.3),
    "z = 0.15": dict(v=-1.0, a=1.5, z=0.15, t=0.3),
    "narrow bounds": dict(v=1.0, a=0.35, z=0.5, t=0.3),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data-dir", help="folder with ddm.onnx")
    p.add_argument("--points", type=int, default=100_000, help="parameter sets in (a) and (c)")
    p.add_argument("--grid-sets", type=int, default=2_000, help="parameter sets in (b)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the markdown tables to this file")
    return p.parse_args(argv)


def _onnx_path(explicit: str | None) -> Path:
    if explicit:
        folder = Path(explicit)
    elif os.environ.get("RLSSM_TEST_DATA"):
        folder = Path(os.environ["RLSSM_TEST_DATA"])
    else:
        folder = Path(__file__).resolve().parents[2] / "shared" / "data"
    path = folder / "ddm.onnx"
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass --data-dir or set RLSSM_TEST_DATA")
    return path


def _rows(regions: dict[str, np.ndarray], diff: np.ndarray) -> list[list[str]]:
    rows = []
    for name, mask in regions.items():
        d = diff[mask]
        if d.size == 0:
            rows.append([name, "0", "-", "-", "-", "-", "-"])
            continue
        q = np.quantile(np.abs(d), [0.5, 0.9, 0.99, 1.0])
        rows.append([name, f"{d.size}", *(f"{x:.3g}" for x in q), f"{d.mean():+.3g}"])
    return rows


HEADER = ["region", "n", "median", "90%", "99%", "max", "bias"]


def _uniform(rng: np.random.Generator, n: int, z_range=None) -> dict[str, np.ndarray]:
    p = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in BOX.items()}
    if z_range is not None:
        lo_band = rng.uniform(*z_range[0], n)
        hi_band = rng.uniform(*z_range[1], n)
        p["z"] = np.where(rng.random(n) < 0.5, lo_band, hi_band)
    return p


def main(argv=None) -> None:
    args = parse_args(argv)
    onnx_path = _onnx_path(args.data_dir)

    import jax
    import jax.numpy as jnp

    import rlssm
    from rlssm.decision import LAN

    start = time.perf_counter()
    rep = Report()
    with jax.enable_x64(True):
        lan = LAN("ddm", path=onnx_path)
        exact = rlssm.DDM()
        lan_logp = jax.jit(lambda rt, ch, p: lan.logp(rt, ch, **p))
        exact_logp = jax.jit(lambda rt, ch, p: exact.logp(rt, ch, **p))
        sample = jax.jit(lambda key, p: exact.sample(key, **p))

        def both(rt, ch, p):
            args_ = (jnp.asarray(rt), jnp.asarray(ch, dtype=jnp.float64), {k: jnp.asarray(v) for k, v in p.items()})
            return np.asarray(lan_logp(*args_)), np.asarray(exact_logp(*args_))

        rng = np.random.default_rng(args.seed)
        rep("# LAN('ddm') vs the analytic DDM")
        rep()
        rep(
            f"`{' '.join(['.venv/bin/python', 'benchmarks/lan_ddm_error.py', *(sys.argv[1:] if argv is None else argv)])}`; "
            f"float64; |LAN - exact| log-density; bias = mean(LAN - exact); regions overlap. "
            "Training box (ssm-simulators' ddm): "
            + ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi) in BOX.items())
            + "."
        )
        rep()

        # (a) responses from the process
        p = _uniform(rng, args.points)
        rt, ch = sample(jax.random.key(args.seed), {k: jnp.asarray(v) for k, v in p.items()})
        rt, ch = np.asarray(rt), np.asarray(ch)
        got, ref = both(rt, ch, p)
        diff = got - ref
        s = rt - p["t"]
        span = {k: hi - lo for k, (lo, hi) in BOX.items()}
        interior = np.all([(p[k] - BOX[k][0] >= 0.1 * span[k]) & (BOX[k][1] - p[k] >= 0.1 * span[k]) for k in BOX], axis=0)
        regions = {
            "all": np.ones_like(s, bool),
            "exact logp >= -3 (density not tiny)": ref >= -3,
            "exact logp < -3 (tails)": ref < -3,
            "interior (params >= 10% of range from edges), rt - t >= 0.1 s": interior & (s >= 0.1),
            "rt - t < 0.05 s": s < 0.05,
            "0.05 <= rt - t < 0.2 s": (s >= 0.05) & (s < 0.2),
            "0.2 <= rt - t < 1 s": (s >= 0.2) & (s < 1.0),
            "1 <= rt - t < 3 s": (s >= 1.0) & (s < 3.0),
            "rt - t >= 3 s": s >= 3.0,
            "z <= 0.14 or z >= 0.86": (p["z"] <= 0.14) | (p["z"] >= 0.86),
            "a <= 0.41 (a near 0.3)": p["a"] <= 0.41,
            "a >= 2.39 (a near 2.5)": p["a"] >= 2.39,
            "|v| >= 2.7": np.abs(p["v"]) >= 2.7,
        }
        rep(f"## (a) Responses from the process ({args.points} parameter sets, one draw each)")
        rep()
        rep.table(HEADER, _rows(regions, diff))
        worst = int(np.argmax(np.abs(diff)))
        rep(
            "Largest error at "
            + ", ".join(f"{k}={p[k][worst]:.3g}" for k in BOX)
            + f", rt={rt[worst]:.4g}, choice={int(ch[worst]):+d}: LAN {got[worst]:.3f}, exact {ref[worst]:.3f}."
        )
        rep()

        # (b) a grid of decision times
        n_sets = args.grid_sets
        q = _uniform(rng, n_sets)
        grid_s = np.repeat(GRID_DECISION_TIMES[None, :], n_sets, axis=0)
        pg = {k: np.repeat(v[:, None], grid_s.shape[1], axis=1) for k, v in q.items()}
        rows_rt, rows_ch, rows_p = [], [], []
        for c in (-1.0, 1.0):
            rows_rt.append((pg["t"] + grid_s).ravel())
            rows_ch.append(np.full(grid_s.size, c))
            rows_p.append({k: v.ravel() for k, v in pg.items()})
        rt_g = np.concatenate(rows_rt)
        ch_g = np.concatenate(rows_ch)
        p_g = {k: np.concatenate([r[k] for r in rows_p]) for k in BOX}
        got_g, ref_g = both(rt_g, ch_g, p_g)
        diff_g = got_g - ref_g
        s_g = rt_g - p_g["t"]
        regions_g = {
            "all grid points": np.ones_like(s_g, bool),
            "exact logp >= -3": ref_g >= -3,
            "-10 <= exact logp < -3": (ref_g >= -10) & (ref_g < -3),
            "exact logp < -10": ref_g < -10,
            "rt - t < 0.05 s, exact logp >= -3": (s_g < 0.05) & (ref_g >= -3),
            "0.05 <= rt - t < 1 s, exact logp >= -3": (s_g >= 0.05) & (s_g < 1) & (ref_g >= -3),
            "1 <= rt - t < 5 s, exact logp >= -3": (s_g >= 1) & (s_g < 5) & (ref_g >= -3),
            "rt - t >= 5 s, exact logp >= -3": (s_g >= 5) & (ref_g >= -3),
        }
        rep(
            f"## (b) Grid of decision times ({n_sets} parameter sets x {GRID_DECISION_TIMES.size} "
            f"decision times from {GRID_DECISION_TIMES[0]:g} to {GRID_DECISION_TIMES[-1]:g} s, "
            "log-spaced, x both choices)"
        )
        rep()
        rep.table(HEADER, _rows(regions_g, diff_g))

        # (c) z outside the training range but inside HSSM's bounds
        pz = _uniform(rng, args.points // 4, z_range=((0.0, 0.1), (0.9, 1.0)))
        rt_z, ch_z = sample(jax.random.key(args.seed + 1), {k: jnp.asarray(v) for k, v in pz.items()})
        rt_z, ch_z = np.asarray(rt_z), np.asarray(ch_z)
        got_z, ref_z = both(rt_z, ch_z, pz)
        diff_z = got_z - ref_z
        zd = np.minimum(pz["z"], 1 - pz["z"])
        regions_z = {
            "z in (0, 0.1) or (0.9, 1)": np.ones_like(zd, bool),
            "distance of z from 0 or 1 in [0.05, 0.1)": zd >= 0.05,
            "distance of z from 0 or 1 < 0.05": zd < 0.05,
            "same, exact logp >= -3": (zd < 0.05) & (ref_z >= -3),
        }
        rep(
            f"## (c) z outside the training range, inside HSSM's bounds (0, 1) "
            f"({args.points // 4} parameter sets, responses from the process)"
        )
        rep()
        rep.table(HEADER, _rows(regions_z, diff_z))

        # (d) total probability
        s_mass = np.linspace(0.0, 20.0, 200_001)[1:]
        rows = []
        for label, point in MASS_POINTS.items():
            masses = []
            for model_logp in (lan_logp, exact_logp):
                total = 0.0
                for c in (-1.0, 1.0):
                    lp = np.asarray(
                        model_logp(
                            jnp.asarray(point["t"] + s_mass),
                            jnp.full(s_mass.size, c),
                            {k: jnp.asarray(float(v)) for k, v in point.items()},
                        )
                    )
                    total += np.trapezoid(np.exp(lp), s_mass)
                masses.append(total)
            rows.append([label, ", ".join(f"{point[k]:g}" for k in BOX), f"{masses[0]:.4f}", f"{masses[1]:.4f}"])
        rep("## (d) Total probability mass (exp(logp) over decision times (0, 20 s], both choices)")
        rep()
        rep.table(["point", "v, a, z, t", "LAN mass", "exact mass"], rows)

    rep(f"Runtime: {time.perf_counter() - start:.0f} s, {jax.device_count()} {jax.default_backend()} device(s).")
    if args.out:
        Path(args.out).write_text("\n".join(rep.lines) + "\n")


if __name__ == "__main__":
    main()
