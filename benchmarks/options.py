"""Speed and parameter recovery of the N-option decision models on a three-armed bandit.

Two studies, each printed as a table (paste them into docs/options.md):

1. Speed (issue 15's goal): value+grad of the summed log-likelihood of 20 participants
   x 200 trials, with scalar parameters, for three-armed models (``RescorlaWagner``
   with ``RDM(3)`` + ``RaceScaling``, ``Softmax(3)`` + ``Values``, ``Fixed(LBA(3),
   s=1)`` + ``RaceScaling``, and ``AdvantageRDM(3)`` + ``Values``) on data simulated
   from the RDM model, and ``RDM(2)`` on the seed data, as a ratio to the two-option
   exact ``Angle`` model (``RLSSM(DualRateRW(), Angle())`` on the seed data, 20 x 200)
   measured in the same run, in float64 and float32. The
   goal: the RDM model within 1.5x. A second table splits each row: value+grad of the
   decision model's ``logp`` alone on the same trials (its per-trial inputs taken
   from ``model.values``), the rest being the scan over trials, the mapping and the
   gathers; with HSSM installed, HSSM's own ``logp_rdm3`` on the same trials too.
2. Recovery on simulated three-armed bandit data (``GaussianBandit(means=(0.2, 0.5,
   0.8), sd=0.1)``, the arms rotated every 100 trials in the flat study and every 50 in
   the hierarchical one), with ``Softmax(3)`` (choice only) and ``RDM(3)``:
   (a) flat: one participant x ``--trials`` trials per true point, NUTS (numpyro) with
   uniform priors on each parameter's bounds (``t`` below the fastest response); a
   parameter is *covered* when its true value lies inside the 90% posterior interval;
   (b) hierarchical: ``--participants`` x ``--h-trials``, participants' values drawn
   around known group values (``link(p_i) = link(p) + 0.3 z_i``, ``z_i ~ N(0, 1)``,
   the fit's own bounded links), fitted with ``rlssm.fitting.Hierarchical(model,
   data).sample(chains=2, tune=--h-tune, draws=--h-draws)``; each group location's 90% interval
   against the generating group value, divergences and R-hat.

Run from the repository root: ``.venv/bin/python benchmarks/options.py`` (``--only
speed|recovery`` for one study, ``--only flat|hierarchical`` for one half of the
recovery). About 15 minutes on 2 cores.

RDM's recovery sizes (the ``--rdm-*`` flags) are smaller than Softmax's: its gradient
costs about 8 times more (float32, value and gradient).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import add_xla_flags, data_dir, seed_data  # noqa: E402

add_xla_flags(host_devices=2)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rlssm  # noqa: E402

CHOICES = (0, 1, 2)
SEED_POINT = {"rl_alpha": 0.6, "rl_alpha_neg": 0.6, "scaler": 3.2, "a": 1.2, "z": 0.1, "t": 0.1, "theta": 0.1}
RDM_TRUTH = {"rl_alpha": 0.3, "scaler": 3.0, "A": 0.4, "B": 0.8, "t": 0.25}
SOFTMAX_TRUTH = {"rl_alpha": 0.3, "beta": 6.0}


def bandit(every: int, n_trials: int) -> rlssm.GaussianBandit:
    """Three Gaussian arms (means 0.2, 0.5, 0.8, sd 0.1), rotated every ``every`` trials."""
    return rlssm.GaussianBandit(means=(0.2, 0.5, 0.8), sd=0.1, reversals=tuple(range(every, n_trials, every)))


def rdm_model(precision: str = "float64") -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.RDM(n_options=3), rlssm.RaceScaling(), choices=CHOICES,
                       precision=precision)


def softmax_model(precision: str = "float64") -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Softmax(n_options=3), rlssm.Values(), choices=CHOICES,
                       precision=precision)


# ---------------------------------------------------------------------- speed
def speed_cases(seed: pd.DataFrame, three: pd.DataFrame) -> dict[str, tuple]:
    """label -> (model builder (precision -> RLSSM), data, point)."""
    cases = {
        "Angle (2 options, seed)": (
            lambda p: rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle(), precision=p), seed, SEED_POINT),
        "RDM(3) + RaceScaling": (rdm_model, three, RDM_TRUTH),
        "Softmax(3) + Values": (softmax_model, three, SOFTMAX_TRUTH),
        "LBA(3), s=1 + RaceScaling": (
            lambda p: rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Fixed(rlssm.LBA(n_options=3), s=1.0),
                                  rlssm.RaceScaling(), choices=CHOICES, precision=p),
            three, {"rl_alpha": 0.3, "scaler": 2.0, "A": 0.5, "B": 0.5, "t": 0.2}),
        "RDM(2) + RaceScaling (seed)": (
            lambda p: rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.RDM(n_options=2), rlssm.RaceScaling(), precision=p),
            seed, {"rl_alpha": 0.6, "scaler": 3.0, "A": 0.4, "B": 0.8, "t": 0.1}),
        "AdvantageRDM(3) + Values": (
            lambda p: rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.AdvantageRDM(n_options=3), rlssm.Values(),
                                  choices=CHOICES, precision=p),
            three, {"rl_alpha": 0.3, "urgency": 2.0, "wd": 1.0, "ws": 0.5, "A": 0.4, "B": 0.8, "t": 0.2}),
    }
    return cases


def decision_alone(model: rlssm.RLSSM, data: pd.DataFrame, point: dict, dtype: np.dtype):
    """(jitted value+grad of the decision model's summed ``logp`` on every trial, its
    arguments): the per-trial inputs the mapping computes from ``model.values``, the
    other decision parameters as scalars."""
    decision = model.composition.decision_model
    frame = model.values(data, point)
    option = np.searchsorted(np.asarray(model.choices), data["response"].to_numpy())
    coded = np.asarray(decision.choices)[option]
    computed = [n for n in decision.param_names if n not in point]
    args = {n: jnp.asarray(frame[n].to_numpy(), dtype=dtype) for n in computed}
    args |= {n: jnp.asarray(point[n], dtype=dtype) for n in decision.param_names if n in point}
    rt = jnp.asarray(data["rt"].to_numpy(), dtype=dtype)
    choice = jnp.asarray(coded)

    def total(p):
        return jnp.sum(decision.logp(rt, choice, **p))

    return jax.jit(jax.value_and_grad(total)), args


def speed(args) -> None:
    seed = seed_data(data_dir(args.data_dir))
    rdm = rdm_model()
    three = rdm.simulate(RDM_TRUTH, rlssm.GaussianBandit(means=(0.2, 0.5, 0.8), sd=0.1),
                         n_participants=20, n_trials=200, seed=args.seed).drop(columns=["correct"])
    cases = speed_cases(seed, three)
    precisions = ("float64", "float32") if args.precision == "both" else (args.precision,)

    fns: dict[tuple, tuple] = {}  # (precision, label, part) -> (fn, args, x64)
    for prec in precisions:
        dtype = np.dtype(prec)
        x64 = prec == "float64"
        for label, (build, data, point) in cases.items():
            model = build(prec)
            f = model.logp_fn(data)
            # numpy scalars keep their dtype outside an x64 scope (jnp would truncate to float32)
            p = {k: np.asarray(v, dtype=dtype) for k, v in point.items()}
            fns[(prec, label, "model")] = (jax.jit(jax.value_and_grad(lambda p, f=f: jnp.sum(f(p)))), p, x64)
            with jax.enable_x64(True):
                dfn, dargs = decision_alone(build("float64"), data, point, dtype)
            fns[(prec, label, "decision")] = (dfn, dargs, x64)

    # HSSM's own JAX likelihood of the three-option RDM (the anchor of RDM's decision part).
    hssm_rdm3 = hssm_rdm3_fn(rdm, three)
    if hssm_rdm3 is not None:
        for prec in precisions:
            fns[(prec, "HSSM logp_rdm3", "decision")] = (*hssm_rdm3(np.dtype(prec)), prec == "float64")

    compile_s: dict[tuple, float] = {}
    totals: dict[tuple, float] = {}
    for key, (fn, p, x64) in fns.items():
        with jax.enable_x64(x64):
            t0 = time.perf_counter()
            value, grad = jax.block_until_ready(fn(p))
            compile_s[key] = time.perf_counter() - t0
            finite = bool(np.isfinite(float(value))) and all(bool(jnp.all(jnp.isfinite(g))) for g in grad.values())
            if not finite:
                raise SystemExit(f"{key}: value or gradient not finite ({value})")
            totals[key] = float(value)
            for _ in range(3):
                jax.block_until_ready(fn(p))
    times: dict[tuple, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for r in range(args.repeats):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            fn, p, x64 = fns[key]
            with jax.enable_x64(x64):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(p))
                times[key].append(time.perf_counter() - t0)

    med = {k: float(np.median(v)) for k, v in times.items()}
    iqr = {k: float(np.subtract(*np.percentile(v, [75, 25]))) for k, v in times.items()}
    base = "Angle (2 options, seed)"
    print(f"== Speed: value+grad of the summed log-likelihood, 20 x 200, scalar parameters, median of "
          f"{args.repeats} interleaved calls; ratio to {base} in the same precision ==")
    print("three-armed data: simulated from RescorlaWagner + RDM(3) + RaceScaling "
          f"{RDM_TRUTH}, GaussianBandit(means=(0.2, 0.5, 0.8), sd=0.1), seed {args.seed}")
    print(f"{'precision':9s} {'model':30s} {'ms':>8s} {'IQR ms':>8s} {'ratio':>7s} {'compile s':>9s} {'total logp':>12s}")
    for prec in precisions:
        b = med[(prec, base, "model")]
        for label in cases:
            k = (prec, label, "model")
            print(f"{prec:9s} {label:30s} {1e3 * med[k]:8.3f} {1e3 * iqr[k]:8.3f} {med[k] / b:7.2f} "
                  f"{compile_s[k]:9.1f} {totals[k]:12.3f}")
    goal = med[(precisions[0], "RDM(3) + RaceScaling", "model")] / med[(precisions[0], base, "model")]
    print(f"goal (RDM(3) within 1.5x of Angle, {precisions[0]}): ratio {goal:.2f} -> "
          f"{'met' if goal <= 1.5 else 'NOT met'}")
    print()
    print("== Where the time goes: value+grad of the decision model's logp alone on the same 4000 trials "
          "(per-trial inputs from model.values); the rest is the scan, the mapping and the gathers ==")
    print(f"{'precision':9s} {'model':30s} {'total ms':>9s} {'logp ms':>8s} {'rest ms':>8s} {'logp share':>10s}")
    for prec in precisions:
        for label in cases:
            m, d = med[(prec, label, "model")], med[(prec, label, "decision")]
            print(f"{prec:9s} {label:30s} {1e3 * m:9.3f} {1e3 * d:8.3f} {1e3 * (m - d):8.3f} {d / m:10.2f}")
        k = (prec, "HSSM logp_rdm3", "decision")
        if k in med:
            print(f"{prec:9s} {'HSSM logp_rdm3 (same trials)':30s} {'':>9s} {1e3 * med[k]:8.3f}")
    if hssm_rdm3 is None:
        print("(HSSM not installed: no logp_rdm3 row)")
    print()


def hssm_rdm3_fn(rdm: rlssm.RLSSM, data: pd.DataFrame):
    """``dtype -> (jitted value+grad, arguments)`` of HSSM's ``logp_rdm3`` summed over
    ``data``'s trials (drifts per trial from ``rdm.values``; HSSM's ``b`` is ``A + B``),
    or None without HSSM."""
    try:
        import pytensor
        from hssm.likelihoods.analytical import logp_rdm3
    except ImportError:
        return None
    with jax.enable_x64(True):
        frame = rdm.values(data, RDM_TRUTH)
    obs = np.column_stack([data["rt"].to_numpy(), data["response"].to_numpy()])

    def build(dtype: np.dtype):
        # logp_rdm3 casts the data to PyTensor's floatX when it is traced (first call).
        with pytensor.config.change_flags(floatX=dtype.name):
            def total(p):
                return jnp.sum(logp_rdm3(jnp.asarray(obs, dtype), p["A"], p["A"] + p["B"], p["v0"], p["v1"],
                                         p["v2"], p["t"]))

            fn = jax.jit(jax.value_and_grad(total))
        p = {k: np.asarray(frame[k].to_numpy(), dtype=dtype) for k in ("v0", "v1", "v2")}
        p |= {k: np.asarray(RDM_TRUTH[k], dtype=dtype) for k in ("A", "B", "t")}

        def call(p, fn=fn, dtype=dtype):
            with pytensor.config.change_flags(floatX=dtype.name):
                return fn(p)

        return call, p

    return build


# ---------------------------------------------------------------------- flat NUTS fit
def flat_fit(model: rlssm.RLSSM, data: pd.DataFrame, chains: int, warmup: int, draws: int, seed: int):
    """NUTS with uniform priors on each parameter's bounds; ``t`` (where the model has
    one and the data have response times) below the fastest response."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    f = model.logp_fn(data)
    box = dict(model.bounds)
    if "t" in box and "rt" in data and data["rt"].notna().any():
        lo, hi = box["t"]
        box["t"] = (lo, min(hi, float(np.nanmin(data["rt"])) - 1e-3))

    def numpyro_model():
        p = {n: numpyro.sample(n, dist.Uniform(lo, hi)) for n, (lo, hi) in box.items()}
        numpyro.factor("loglik", jnp.sum(f(p)))

    with jax.enable_x64(True):
        mcmc = MCMC(NUTS(numpyro_model, target_accept_prob=0.9), num_warmup=warmup, num_samples=draws,
                    num_chains=chains, chain_method="parallel", progress_bar=False)
        mcmc.run(jax.random.key(seed))
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
        divergent = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return samples, divergent


FLAT_TRUTHS = {
    "Softmax": (softmax_model, [
        {"rl_alpha": 0.3, "beta": 6.0},
        {"rl_alpha": 0.15, "beta": 12.0},
        {"rl_alpha": 0.6, "beta": 3.0},
    ]),
    "RDM": (rdm_model, [
        {"rl_alpha": 0.3, "scaler": 3.0, "A": 0.4, "B": 0.8, "t": 0.25},
        {"rl_alpha": 0.15, "scaler": 2.0, "A": 0.6, "B": 1.2, "t": 0.3},
        {"rl_alpha": 0.5, "scaler": 4.0, "A": 0.2, "B": 0.5, "t": 0.2},
    ]),
}


def sizes(args, name: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The study's sizes for model ``name``: the ``--rdm-*`` flags for RDM, the plain ones
    for Softmax."""
    return {k: getattr(args, f"rdm_{k}" if name == "RDM" else k) for k in keys}


def flat_recovery(args) -> None:
    import arviz as az

    print("== Flat recovery: 1 participant, three Gaussian arms (means 0.2, 0.5, 0.8, sd 0.1) rotated every "
          f"100 trials, NUTS ({args.chains} chains), uniform priors on the bounds, {args.fit_precision} ==")
    print(f"{'model':8s} {'#':>2s} {'parameter':10s} {'truth':>7s} {'mean':>7s} {'5%':>7s} {'95%':>7s} "
          f"covered  r_hat")
    n_covered = n_total = 0
    for name, (build, truths) in FLAT_TRUTHS.items():
        if args.models and name not in args.models:
            continue
        size = sizes(args, name, ("trials", "warmup", "draws", "points"))
        model = build(args.fit_precision)
        env = bandit(100, size["trials"])
        print(f"-- {name}(3): {size['trials']} trials, {args.chains} x ({size['warmup']} + {size['draws']}) --")
        for i, truth in enumerate(truths[: size["points"]]):
            t0 = time.perf_counter()
            data = model.simulate(truth, env, n_participants=1, n_trials=size["trials"], seed=args.seed + i)
            samples, divergent = flat_fit(model, data, args.chains, size["warmup"], size["draws"], args.seed)
            covered = 0
            for p in model.param_names:
                x = samples[p].reshape(-1)
                lo, hi = np.quantile(x, [0.05, 0.95])
                ok = bool(lo <= truth[p] <= hi)
                covered += ok
                rhat = float(np.asarray(az.rhat(samples[p])).squeeze())
                print(f"{name:8s} {i:2d} {p:10s} {truth[p]:7.3f} {x.mean():7.3f} {lo:7.3f} {hi:7.3f} "
                      f"{str(ok):>7s}  {rhat:.3f}")
            n_covered += covered
            n_total += len(model.param_names)
            print(f"{name:8s} {i:2d} covered {covered}/{len(model.param_names)}, divergent {divergent}, "
                  f"{time.perf_counter() - t0:.0f} s")
    print(f"flat: {n_covered}/{n_total} true values inside their 90% intervals\n")


# ---------------------------------------------------------------------- hierarchical
H_TRUTHS = {
    "Softmax": (softmax_model, {"rl_alpha": 0.3, "beta": 6.0}),
    "RDM": (rdm_model, {"rl_alpha": 0.3, "scaler": 3.0, "A": 0.4, "B": 0.8, "t": 0.25}),
}
H_SPREAD = 0.3


def participants_around(model: rlssm.RLSSM, group: dict, n: int, rng: np.random.Generator) -> dict:
    """One value per participant: ``link(p_i) = link(p) + H_SPREAD z_i`` with the fit's
    links (logit on a bounded parameter's bounds, log above a lower bound only)."""
    out = {}
    for name, centre in group.items():
        lo, hi = model.bounds[name]
        z = rng.normal(0.0, 1.0, n)
        if np.isfinite(lo) and np.isfinite(hi):
            f = (centre - lo) / (hi - lo)
            out[name] = lo + (hi - lo) / (1.0 + np.exp(-(np.log(f / (1 - f)) + H_SPREAD * z)))
        elif np.isfinite(lo):
            out[name] = lo + (centre - lo) * np.exp(H_SPREAD * z)
        else:
            out[name] = centre + H_SPREAD * z
    return out


def hierarchical_recovery(args) -> None:
    from rlssm.fitting import Hierarchical, group_names
    from rlssm.plots import group_summary

    print("== Hierarchical recovery: three Gaussian arms rotated every 50 trials; participants' values "
          f"link(p_i) = link(p) + {H_SPREAD} N(0, 1) around the group value p; "
          f"Hierarchical(model, data).sample(chains={args.chains}, ...), {args.fit_precision} ==")
    print(f"{'model':8s} {'parameter':10s} {'group':>7s} {'mean':>7s} {'5%':>7s} {'95%':>7s} covered  "
          f"{'r_hat':>5s} {'ess':>6s}")
    for name, (build, group) in H_TRUTHS.items():
        if args.models and name not in args.models:
            continue
        size = sizes(args, name, ("participants", "h_trials", "h_tune", "h_draws"))
        model = build(args.fit_precision)
        print(f"-- {name}(3): {size['participants']} participants x {size['h_trials']} trials, "
              f"tune={size['h_tune']}, draws={size['h_draws']} --")
        rng = np.random.default_rng(args.seed)
        params = participants_around(model, group, size["participants"], rng)
        data = model.simulate(params, bandit(50, size["h_trials"]), n_participants=size["participants"],
                              n_trials=size["h_trials"], seed=args.seed)
        t0 = time.perf_counter()
        idata = Hierarchical(model, data).sample(chains=args.chains, tune=size["h_tune"], draws=size["h_draws"],
                                                 seed=args.seed, progressbar=False)
        wall = time.perf_counter() - t0
        names = group_names(model, idata)
        table = group_summary(idata, list(names.values()), mass=0.9)
        covered = 0
        for p, var in names.items():
            row = table.loc[var]
            ok = bool(row["lower"] <= group[p] <= row["upper"])
            covered += ok
            print(f"{name:8s} {p:10s} {group[p]:7.3f} {row['mean']:7.3f} {row['lower']:7.3f} "
                  f"{row['upper']:7.3f} {str(ok):>7s}  {row['r_hat']:5.3f} {row['ess_bulk']:6.0f}")
        divergent = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
        spreads = [f"{p}_sigma" for p in model.param_names]
        max_rhat = float(group_summary(idata, list(names.values()) + spreads)["r_hat"].max())
        print(f"{name:8s} covered {covered}/{len(names)}, divergent {divergent} of "
              f"{args.chains * size['h_draws']}, max R-hat (locations and spreads) {max_rhat:.3f}, {wall:.0f} s")
    print()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=("speed", "recovery", "flat", "hierarchical"), default=None)
    p.add_argument("--repeats", type=int, default=50, help="speed: interleaved calls per function")
    p.add_argument("--precision", choices=("float32", "float64", "both"), default="both", help="speed")
    p.add_argument("--models", nargs="*", choices=("Softmax", "RDM"), default=None, help="recovery: these only")
    p.add_argument("--fit-precision", choices=("float32", "float64"), default="float32",
                   help="recovery: the models' precision")
    p.add_argument("--chains", type=int, default=2, help="recovery")
    # Softmax's sizes; RDM's (--rdm-*) are smaller: its gradient costs about 8 times more (float32).
    p.add_argument("--trials", type=int, default=500, help="flat, Softmax: trials of the one participant")
    p.add_argument("--warmup", type=int, default=500, help="flat, Softmax")
    p.add_argument("--draws", type=int, default=500, help="flat, Softmax")
    p.add_argument("--points", type=int, default=3, help="flat, Softmax: true points (at most 3)")
    p.add_argument("--participants", type=int, default=12, help="hierarchical, Softmax")
    p.add_argument("--h-trials", type=int, default=150, help="hierarchical, Softmax: trials per participant")
    p.add_argument("--h-tune", type=int, default=500, help="hierarchical, Softmax")
    p.add_argument("--h-draws", type=int, default=500, help="hierarchical, Softmax")
    p.add_argument("--rdm-trials", type=int, default=400)
    p.add_argument("--rdm-warmup", type=int, default=300)
    p.add_argument("--rdm-draws", type=int, default=300)
    p.add_argument("--rdm-points", type=int, default=2)
    p.add_argument("--rdm-participants", type=int, default=8)
    p.add_argument("--rdm-h-trials", type=int, default=100)
    p.add_argument("--rdm-h-tune", type=int, default=250)
    p.add_argument("--rdm-h-draws", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    print(f"jax {jax.__version__}, devices {jax.devices()}, rlssm {rlssm.__version__}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    t0 = time.perf_counter()
    if args.only in (None, "speed"):
        speed(args)
    if args.only in (None, "recovery", "flat"):
        flat_recovery(args)
    if args.only in (None, "recovery", "hierarchical"):
        hierarchical_recovery(args)
    print(f"total wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
