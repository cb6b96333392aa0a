"""How far is HSSM's angle LAN from the exact angle likelihood, and does it matter?

Compares ``rlssm.AngleLAN`` (HSSM's published network, ``angle.onnx``) with
``rlssm.Angle`` (exact log-density, relative error ~1e-12), in float64:

(a) **Over the LAN's training box** (v in [-3, 3], a [0.3, 3], z [0.1, 0.9], t [0.001, 2],
    theta [-0.1, 1.3]): ``--points`` parameter sets drawn uniformly in the box, one
    ``(rt, choice)`` each drawn from the exact process (``Angle().sample``; undecided
    paths dropped), so the rts are the ones the model produces. Quantiles of
    ``|LAN - exact|`` log-density, overall and by region (interior, near each edge,
    short and long decision times, tails). Then the total probability the LAN puts on
    ``(rt, choice)``: ``exp(LAN)`` integrated over decision times in ``(0, S]`` and both
    choices, for a handful of points, against the exact mass (1 where every path decides
    within ``S``). ``S`` = 20 s (the sampler's horizon, ssm-simulators' ``max_t``), or the
    meeting point ``a / tan(theta)`` of collapsing bounds if earlier.
(b) **At the seed's truth** on the seed data (per-participant ``params_true_subj``,
    ``rl_alpha_neg = rl_alpha``; and the group means): per-trial error and the total
    log-likelihood difference.
(c) **Effect on the seed model's posterior** (a cheap proxy): maximum-likelihood fits
    of the flat seed model (7 parameters shared by all participants; flat priors within
    the bounds, so MAP = MLE) with each likelihood: L-BFGS-B on logit-transformed
    parameters, ``jax.value_and_grad`` of the summed ``model.logp_fn(data)``, float64,
    ``t`` started at half the fastest rt. Laplace standard deviations from the Hessian in
    the natural parameters. The shift of the LAN estimate in units of the exact sd says
    how far the LAN would move a posterior.

``--nuts`` adds short flat NUTS fits (numpyro, via ``model.to_hssm``) with each
likelihood, with the seed tutorial's priors; not run by default (minutes).

Tables are printed as markdown; ``--out FILE`` also writes them there.

Run: ``.venv/bin/python benchmarks/lan_vs_exact.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

BOX = {
    "v": (-3.0, 3.0),
    "a": (0.3, 3.0),
    "z": (0.1, 0.9),
    "t": (0.001, 2.0),
    "theta": (-0.1, 1.3),
}
DECISION = tuple(BOX)

SEED_PRIORS: dict[str, dict[str, Any]] = {
    "rl_alpha": dict(mu=0.3, sigma=0.5, lower=0.01, upper=1.0),
    "rl_alpha_neg": dict(mu=0.3, sigma=0.5, lower=0.01, upper=1.0),
    "scaler": dict(mu=1.5, sigma=1.5, lower=0.1, upper=5.0),
    "a": dict(mu=1.0, sigma=0.5, lower=0.3, upper=2.5),
    "z": dict(mu=0.2, sigma=0.2, lower=0.1, upper=0.9),
    "t": dict(mu=0.2, sigma=0.3, lower=0.01, upper=1.0),
    "theta": dict(mu=0.3, sigma=0.3, lower=0.0, upper=1.2),
}
"""The seed tutorial's intercept priors (truncated normals) for ``--nuts``."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--data-dir", help="folder with rldm_data.npy and angle.onnx")
    p.add_argument("--points", type=int, default=40_000, help="random points in the box (a)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write the markdown tables to this file")
    p.add_argument("--skip-fit", action="store_true", help="skip (c), the ML fits")
    p.add_argument("--nuts", action="store_true", help="also run short flat NUTS fits (slow)")
    p.add_argument("--nuts-chains", type=int, default=2)
    p.add_argument("--nuts-tune", type=int, default=500)
    p.add_argument("--nuts-draws", type=int, default=500)
    return p.parse_args(argv)


def _q(x: np.ndarray) -> list[str]:
    if x.size == 0:
        return ["-"] * 4
    return [f"{v:.3g}" for v in np.quantile(x, [0.5, 0.9, 0.99, 1.0])]


def _error_rows(regions: dict[str, np.ndarray], diff: np.ndarray) -> list[list[str]]:
    rows = []
    for name, mask in regions.items():
        d = diff[mask]
        bias = f"{d.mean():+.3g}" if d.size else "-"
        rows.append([name, f"{int(mask.sum())}", *_q(np.abs(d)), bias])
    return rows


# ---------------------------------------------------------------------- (a) the box
_JITTED: dict[int, Callable[..., Any]] = {}


def _jit_logp(model):
    """``model.logp`` jitted, parameters as a dict (one compilation per model and shape)."""
    import jax

    if id(model) not in _JITTED:
        _JITTED[id(model)] = jax.jit(lambda rt, choice, params: model.logp(rt, choice, **params))
    return _JITTED[id(model)]


def box_errors(rep: Report, lan, exact, n_points: int, seed: int) -> None:
    import jax

    rng = np.random.default_rng(seed)
    p = {k: rng.uniform(lo, hi, n_points) for k, (lo, hi) in BOX.items()}
    rt, choice = exact.sample(jax.random.key(seed), **p)
    rt, choice = np.asarray(rt), np.asarray(choice, dtype=np.float64)
    ok = np.isfinite(rt)
    undecided = int((~ok).sum())
    p = {k: v[ok] for k, v in p.items()}
    rt, choice = rt[ok], choice[ok]
    l_lan = np.asarray(_jit_logp(lan)(rt, choice, p))
    l_ex = np.asarray(_jit_logp(exact)(rt, choice, p))
    diff = l_lan - l_ex
    s = rt - p["t"]

    def near(name: str, frac: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = BOX[name]
        w = hi - lo
        return p[name] < lo + frac * w, p[name] > hi - frac * w

    edge = np.zeros(rt.shape, bool)
    for name in DECISION:
        lo_m, hi_m = near(name, 0.1)
        edge |= lo_m | hi_m
    regions = {
        "all": np.ones(rt.shape, bool),
        "interior (all params >= 10% of range from edges, rt - t >= 0.1 s)": ~edge & (s >= 0.1),
        "near any edge (within 10% of a range end)": edge,
        "z <= 0.14 (z at 0.1)": p["z"] <= 0.14,
        "z >= 0.86 (z at 0.9)": p["z"] >= 0.86,
        "theta >= 1.23 (theta near 1.3)": p["theta"] >= 1.23,
        "theta <= -0.03 (theta near -0.1)": p["theta"] <= -0.03,
        "|v| >= 2.7": np.abs(p["v"]) >= 2.7,
        "a <= 0.43 (a near 0.3)": p["a"] <= 0.435,
        "a >= 2.87 (a near 3)": p["a"] >= 2.865,
        "rt - t < 0.05 s": s < 0.05,
        "0.05 <= rt - t < 0.2 s": (s >= 0.05) & (s < 0.2),
        "rt - t >= 5 s": s >= 5.0,
        "exact logp < -3 (tails)": l_ex < -3.0,
        "exact logp >= -3": l_ex >= -3.0,
    }
    rep("## (a) LAN error over its training box")
    rep()
    rep(
        f"{ok.sum()} points uniform in the box, rt and choice drawn from the exact process "
        f"({undecided} undecided paths dropped); |LAN - exact| log-density, quantiles; bias = "
        "mean(LAN - exact). Regions overlap."
    )
    rep()
    rep.table(["region", "n", "median", "90%", "99%", "max", "bias"], _error_rows(regions, diff))
    worst = int(np.argmax(np.abs(diff)))
    rep(
        "Largest error at "
        + ", ".join(f"{k}={p[k][worst]:.3g}" for k in DECISION)
        + f", rt={rt[worst]:.3g}, choice={choice[worst]:+.0f}: LAN {l_lan[worst]:.3f}, "
        f"exact {l_ex[worst]:.3f}."
    )
    rep()


def _mass(model, point: dict[str, float], horizon: float) -> tuple[float, float]:
    """Integral of exp(logp) over decision times (0, S] and both choices; and S."""
    theta = point["theta"]
    stop = horizon
    if theta > 0:
        stop = min(stop, point["a"] / math.tan(theta))
    # A fixed number of nodes (one compilation): geometric near 0, then linear to S.
    s = np.concatenate([np.geomspace(1e-7, 0.02, 4000), np.linspace(0.02, stop, 60_001)[1:]])
    total = 0.0
    for c in (-1.0, 1.0):
        params = {k: np.full_like(s, point[k]) for k in DECISION}
        lp = np.asarray(_jit_logp(model)(point["t"] + s, np.full_like(s, c), params))
        total += float(np.trapezoid(np.exp(lp), s))
    return total, stop


def mass_table(rep: Report, lan, exact) -> None:
    points = {
        "interior": dict(v=0.5, a=1.5, z=0.5, t=0.3, theta=0.3),
        "seed group means (v ~ 1.5)": dict(v=1.5, a=1.48, z=0.27, t=0.44, theta=0.31),
        "z = 0.1": dict(v=1.0, a=1.2, z=0.1, t=0.1, theta=0.1),
        "seed test point, v = 2": dict(v=2.0, a=1.2, z=0.1, t=0.1, theta=0.1),
        "theta = 1.3": dict(v=0.5, a=1.5, z=0.5, t=0.3, theta=1.3),
        "theta = -0.1, v = 0": dict(v=0.0, a=1.5, z=0.5, t=0.3, theta=-0.1),
        "a = 0.3, v = 3": dict(v=3.0, a=0.3, z=0.5, t=0.3, theta=0.3),
        "a = 3, theta = 0": dict(v=0.5, a=3.0, z=0.5, t=0.3, theta=0.0),
        "v = -3, z = 0.9": dict(v=-3.0, a=1.0, z=0.9, t=0.3, theta=0.5),
    }
    rows = []
    for label, pt in points.items():
        m_lan, stop = _mass(lan, pt, 20.0)
        m_ex, _ = _mass(exact, pt, 20.0)
        rows.append(
            [label, ", ".join(f"{v:g}" for v in pt.values()), f"{stop:.3g}", f"{m_lan:.4f}", f"{m_ex:.4f}"]
        )
    rep("### Total probability mass")
    rep()
    rep(
        "exp(logp) integrated over decision time (0, S] and both choices (trapezoid rule on "
        "64 000 points). The exact mass is below 1 only where paths may not decide by S "
        "(theta < 0)."
    )
    rep()
    rep.table(["point", "v, a, z, t, theta", "S (s)", "LAN mass", "exact mass"], rows)


# ---------------------------------------------------------------------- (b) seed truth
def seed_truth(rep: Report, m_lan, m_ex, data, truth_subj: dict, truth_group: dict) -> None:
    import pandas as pd

    participants = np.sort(data["participant_id"].unique())
    subj = {k: pd.Series(np.asarray(truth_subj[k]), index=participants) for k in ("a", "z", "t", "theta", "scaler")}
    subj["rl_alpha"] = pd.Series(np.asarray(truth_subj["rl_alpha"]), index=participants)
    subj["rl_alpha_neg"] = subj["rl_alpha"]
    cases = {"per-participant truth (params_true_subj)": subj, "group means (params_true_group)": truth_group}
    rows = []
    totals = []
    t_rows = data["participant_id"].map(dict(zip(participants, np.asarray(truth_subj["t"]), strict=True)))
    s = data["rt"].to_numpy() - t_rows.to_numpy()
    for label, params in cases.items():
        l_lan = m_lan.loglik(data, params)
        l_ex = m_ex.loglik(data, params)
        diff = l_lan - l_ex
        rows.append([label, "all trials", f"{len(diff)}", *_q(np.abs(diff)), f"{diff.mean():+.3g}"])
        for name, mask in {"rt - t < 0.2 s": s < 0.2, "rt - t >= 0.2 s": s >= 0.2}.items():
            d = diff[mask]
            rows.append([label, name, f"{mask.sum()}", *_q(np.abs(d)), f"{d.mean():+.3g}"])
        v = m_ex.values(data, params)["v"].to_numpy()
        totals.append(
            [label, f"{l_lan.sum():.2f}", f"{l_ex.sum():.2f}", f"{diff.sum():+.2f}", f"{v.min():.2f} .. {v.max():.2f}"]
        )
    rep("## (b) At the seed's true parameters, on the seed data")
    rep()
    rep("Per-trial |LAN - exact| log-likelihood (rt - t split at the participant's true t).")
    rep()
    rep.table(["parameters", "trials", "n", "median", "90%", "99%", "max", "bias"], rows)
    rep.table(["parameters", "total LAN", "total exact", "LAN - exact", "v range"], totals)


# ---------------------------------------------------------------------- (c) ML fits
FIT_BOUNDS = {
    "rl_alpha": (0.0, 1.0),
    "rl_alpha_neg": (0.0, 1.0),
    "scaler": (0.0, 10.0),
    "a": (0.3, 3.0),
    "z": (0.1, 0.9),
    "t": (0.001, 2.0),
    "theta": (-0.1, 1.3),
}


def ml_fit(model, data, starts: list[dict[str, float]]) -> dict:
    import jax
    import jax.numpy as jnp
    from scipy.optimize import minimize

    names = model.param_names
    lo = np.array([FIT_BOUNDS[n][0] for n in names])
    hi = np.array([FIT_BOUNDS[n][1] for n in names])
    f = model.logp_fn(data)

    def natural(u):
        return lo + (hi - lo) * jax.nn.sigmoid(u)

    def nll_natural(x):
        return -jnp.sum(f(dict(zip(names, x, strict=True))))

    def nll(u):
        return nll_natural(natural(u))

    with jax.enable_x64(True):
        vg = jax.jit(jax.value_and_grad(nll))
        best = None
        n_eval = 0
        start_time = time.perf_counter()
        for start in starts:
            x0 = np.array([start[n] for n in names])
            u0 = np.log((x0 - lo) / (hi - x0))

            def fun(u):
                nonlocal n_eval
                n_eval += 1
                val, grad = vg(jnp.asarray(u, dtype=jnp.float64))
                return float(val), np.asarray(grad, dtype=np.float64)

            res = minimize(fun, u0, jac=True, method="L-BFGS-B", options=dict(maxiter=1000, gtol=1e-6))
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        x = np.asarray(natural(jnp.asarray(best.x)))
        hess = np.asarray(jax.jit(jax.hessian(nll_natural))(jnp.asarray(x)))
        elapsed = time.perf_counter() - start_time
    try:
        cov = np.linalg.inv(hess)
        sd = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        sd = np.full(len(names), np.nan)
    at_edge = [n for n, xi, a, b in zip(names, x, lo, hi, strict=True) if min(xi - a, b - xi) < 1e-3 * (b - a)]
    return dict(
        x=dict(zip(names, x, strict=True)),
        sd=dict(zip(names, sd, strict=True)),
        nll=float(best.fun),
        evals=n_eval,
        seconds=elapsed,
        message=str(best.message),
        at_edge=at_edge,
        logp=f,
    )


def fits(rep: Report, m_lan, m_ex, data, truth_group: dict) -> None:
    t0 = 0.5 * float(np.nanmin(data["rt"].to_numpy()))
    starts = [
        dict(rl_alpha=0.5, rl_alpha_neg=0.5, scaler=2.0, a=1.0, z=0.5, t=t0, theta=0.2),
        dict(rl_alpha=0.3, rl_alpha_neg=0.7, scaler=4.0, a=1.8, z=0.3, t=t0, theta=0.5),
    ]
    out = {}
    for label, model in (("LAN", m_lan), ("exact", m_ex)):
        out[label] = ml_fit(model, data, starts)
    rows = []
    for name in m_ex.param_names:
        lan_x, lan_sd = out["LAN"]["x"][name], out["LAN"]["sd"][name]
        ex_x, ex_sd = out["exact"]["x"][name], out["exact"]["sd"][name]
        rows.append(
            [
                name,
                f"{truth_group[name]:.3f}",
                f"{lan_x:.3f} ± {lan_sd:.3f}",
                f"{ex_x:.3f} ± {ex_sd:.3f}",
                f"{(lan_x - ex_x) / ex_sd:+.2f}",
            ]
        )
    rep("## (c) Effect on the seed model's fit: flat maximum likelihood with each likelihood")
    rep()
    rep(
        "Flat seed model (7 parameters shared by the 20 participants), flat priors within the "
        "bounds (MAP = MLE), L-BFGS-B from two starts (t at half the fastest rt), Laplace sd "
        "from the Hessian at the optimum. Truth: the seed's group means (rl_alpha_neg = "
        "rl_alpha). Last column: (LAN - exact) / exact sd."
    )
    rep()
    rep.table(["parameter", "truth", "LAN estimate ± sd", "exact estimate ± sd", "shift (exact sds)"], rows)
    import jax

    with jax.enable_x64(True):
        ex_at_lan = float(np.sum(out["exact"]["logp"](out["LAN"]["x"])))
    rep.table(
        ["", "LAN fit", "exact fit"],
        [
            ["max log-likelihood (own likelihood)", f"{-out['LAN']['nll']:.2f}", f"{-out['exact']['nll']:.2f}"],
            [
                "exact log-likelihood at the estimate",
                f"{ex_at_lan:.2f}",
                f"{-out['exact']['nll']:.2f}",
            ],
            ["function evaluations", f"{out['LAN']['evals']}", f"{out['exact']['evals']}"],
            ["seconds (incl. compile and Hessian)", f"{out['LAN']['seconds']:.1f}", f"{out['exact']['seconds']:.1f}"],
            [
                "parameters at a bound",
                ", ".join(out["LAN"]["at_edge"]) or "none",
                ", ".join(out["exact"]["at_edge"]) or "none",
            ],
        ],
    )


# ---------------------------------------------------------------------- --nuts
def nuts(rep: Report, m_lan, m_ex, data, truth_group: dict, args) -> None:
    import hssm

    import rlssm.fitting as fitting
    from rlssm.fitting import check_posterior_ranges

    t_init = fitting.t_start(m_ex, data)
    include = [
        hssm.Param(
            n, prior=hssm.Prior("TruncatedNormal", **p, **({"initval": t_init} if n == "t" else {}))
        )
        for n, p in SEED_PRIORS.items()
    ]
    results = {}
    for label, model in (("LAN", m_lan), ("exact", m_ex)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hm = model.to_hssm(data, include=include)
            start = time.perf_counter()
            idata = fitting.sample(
                hm, chains=args.nuts_chains, tune=args.nuts_tune, draws=args.nuts_draws, seed=args.seed,
                progressbar=False,
            )
            elapsed = time.perf_counter() - start
            report = check_posterior_ranges(model, hm, idata)
        notes = [str(w.message)[:400] for w in caught if "LANRangeWarning" in w.category.__name__]
        post = idata["posterior"]
        results[label] = dict(
            mean={n: float(post[n].values.mean()) for n in model.param_names},
            sd={n: float(post[n].values.std()) for n in model.param_names},
            seconds=elapsed,
            notes=notes,
            report=report,
        )
    rows = []
    for n in m_ex.param_names:
        lan_r, ex_r = results["LAN"], results["exact"]
        rows.append(
            [
                n,
                f"{truth_group[n]:.3f}",
                f"{lan_r['mean'][n]:.3f} ± {lan_r['sd'][n]:.3f}",
                f"{ex_r['mean'][n]:.3f} ± {ex_r['sd'][n]:.3f}",
                f"{(lan_r['mean'][n] - ex_r['mean'][n]) / ex_r['sd'][n]:+.2f}",
            ]
        )
    rep("## NUTS (flat model, seed priors)")
    rep()
    rep(
        f"numpyro NUTS, {args.nuts_chains} chains x {args.nuts_tune} tune + {args.nuts_draws} draws; "
        f"posterior mean ± sd. LAN {results['LAN']['seconds']:.0f} s, exact "
        f"{results['exact']['seconds']:.0f} s."
    )
    rep()
    rep.table(["parameter", "truth", "LAN posterior", "exact posterior", "shift (exact sds)"], rows)
    for note in results["LAN"]["notes"]:
        rep(f"- LAN range check: {note}...")
    report = results["LAN"]["report"]
    if report is not None:
        rep(
            f"- LAN posterior check: decision parameters outside the training box on "
            f"{100 * report.any_outside:.3g}% of trials x draws ({report.n_draws} draws)."
        )
    rep()


# ---------------------------------------------------------------------- main
def main(argv=None) -> None:
    args = parse_args(argv)
    folder = common.data_dir(args.data_dir)
    start = time.perf_counter()

    import jax

    import rlssm

    raw = np.load(folder / "rldm_data.npy", allow_pickle=True).item()
    data = raw["data"].rename(columns={"trial": "trial_id"})
    g = raw["params_true_group"]
    truth_group = {k: float(g[f"{k}_mean"]) for k in ("rl_alpha", "scaler", "a", "z", "t", "theta")}
    truth_group["rl_alpha_neg"] = truth_group["rl_alpha"]

    lan = rlssm.AngleLAN(folder / "angle.onnx")
    exact = rlssm.Angle()
    m_lan = rlssm.RLSSM(rlssm.DualRateRW(), lan, precision="float64")
    m_ex = rlssm.RLSSM(rlssm.DualRateRW(), exact, precision="float64")

    rep = common.Report()
    rep("# AngleLAN vs exact Angle")
    rep()
    with jax.enable_x64(True):
        t = time.perf_counter()
        box_errors(rep, lan, exact, args.points, args.seed)
        mass_table(rep, lan, exact)
        t_a = time.perf_counter() - t
    t = time.perf_counter()
    seed_truth(rep, m_lan, m_ex, data, raw["params_true_subj"], truth_group)
    t_b = time.perf_counter() - t
    t_c = 0.0
    if not args.skip_fit:
        t = time.perf_counter()
        fits(rep, m_lan, m_ex, data, truth_group)
        t_c = time.perf_counter() - t
    if args.nuts:
        nuts(rep, m_lan, m_ex, data, truth_group, args)
    rep(
        f"Runtime: {time.perf_counter() - start:.0f} s in all ((a) {t_a:.0f} s, (b) {t_b:.0f} s, "
        f"(c) {t_c:.0f} s), {jax.device_count()} {jax.default_backend()} device(s)."
    )
    if args.out:
        Path(args.out).write_text("\n".join(rep.lines) + "\n")


if __name__ == "__main__":
    main()
