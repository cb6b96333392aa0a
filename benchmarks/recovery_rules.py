"""Parameter recovery, model comparison and speed of the model library's learning rules.

Three studies, each printed as a table (paste them into docs/model-library.md):

1. Recovery: for every learning rule, one participant x ``--trials`` trials simulated
   from known parameters with the exact ``DDM`` (closed loop in a Bernoulli bandit with
   reversals; RLWM: blocks of stimuli with set sizes 2-6), then a flat Bayesian fit
   (NUTS in numpyro, uniform priors on each parameter's bounds). A parameter is
   *covered* when its true value lies inside the 90% posterior interval.
2. Model comparison: data simulated from ``PearceHall`` and from ``ChoiceKernel`` (+
   ``KernelDrift``), each fitted hierarchically with the true rule and with
   ``RescorlaWagner``; participant-level PSIS-LOO (``rlssm.fitting.compare_participants``)
   should rank the true rule first.
3. Speed: value+grad of the seed data's summed log-likelihood with each rule and the
   exact ``Angle``, as a ratio to ``DualRateRW`` measured in the same run.

Run from the repository root: ``.venv/bin/python benchmarks/recovery_rules.py``
(``--only recovery|comparison|speed`` for one study). About 15 minutes on 2 cores.
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
from rlssm import internal  # noqa: E402

DDM_BOUNDS = {"a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.05, 1.0)}
ENV = rlssm.BernoulliBandit(p=(0.2, 0.8), reversals=(100, 200, 300, 400))


def rule_specs() -> dict[str, tuple]:
    """name -> (rule, mapping, truth, env or None). Rules missing from this rlssm are skipped."""
    specs: dict[str, tuple] = {
        "RescorlaWagner": (rlssm.RescorlaWagner(), None, {"rl_alpha": 0.3}, ENV),
        "DualRateRW": (rlssm.DualRateRW(), None, {"rl_alpha": 0.4, "rl_alpha_neg": 0.15}, ENV),
        "PearceHall": (rlssm.PearceHall(), None, {"rl_kappa": 0.6, "rl_eta": 0.4, "rl_alpha0": 0.5}, ENV),
    }
    have = set(dir(rlssm))
    if "ForgettingRW" in have:
        specs["ForgettingRW"] = (rlssm.ForgettingRW(), None, {"rl_alpha": 0.35, "rl_forget": 0.2}, ENV)
    if "CounterfactualRW" in have:
        env = rlssm.BernoulliBandit(p=(0.2, 0.8), reversals=(100, 200, 300, 400), complete_feedback=True)
        specs["CounterfactualRW"] = (rlssm.CounterfactualRW(), None, {"rl_alpha": 0.35, "rl_alpha_cf": 0.15}, env)
    if "ChoiceKernel" in have and "KernelDrift" in have:
        specs["ChoiceKernel"] = (
            rlssm.ChoiceKernel(), rlssm.KernelDrift(), {"rl_alpha": 0.35, "rl_alpha_ck": 0.3, "beta_ck": 1.5}, ENV
        )
    if "KalmanFilter" in have:
        env = rlssm.GaussianBandit(means=(0.3, 0.7), sd=0.2, reversals=(100, 200, 300, 400))
        specs["KalmanFilter"] = (
            rlssm.KalmanFilter(),
            None,
            {"rl_decay": 0.95, "rl_decay_center": 0.5, "rl_sigma0": 0.5, "rl_sigma_d": 0.1},
            env,
        )
    if "RLWM" in have:
        specs["RLWM"] = (
            rlssm.RLWM(),
            None,
            {"rl_alpha": 0.1, "rl_phi": 0.2, "rl_rho": 0.8, "rl_capacity": 3.0, "rl_gamma": 0.6, "rl_epsilon": 0.05},
            None,
        )
    return specs


def model_of(rule, mapping, precision: str = "float64") -> rlssm.RLSSM:
    names = rlssm.RLSSM(rule, rlssm.DDM(), mapping=mapping).param_names
    bounds = {k: v for k, v in DDM_BOUNDS.items() if k in names}
    return rlssm.RLSSM(rule, rlssm.DDM(), mapping=mapping, bounds=bounds, precision=precision)


DECISION_TRUTH = {"scaler": 4.0, "a": 1.0, "z": 0.5, "t": 0.3}


# ---------------------------------------------------------------------- RLWM task
def rlwm_task(model: rlssm.RLSSM, truth: dict, trials_per_block: int, seed: int) -> pd.DataFrame:
    """RLWM's task: blocks of 2-6 stimuli, each with one correct option of three... here
    two options (the DDM's): feedback 1 for the stimulus' correct option, else 0.

    A per-trial closed loop through ``rlssm.internal`` (the rule's state per stimulus,
    its cues, the mapping, the DDM's sampler), jitted once and run in a Python loop.
    """
    comp = model.composition
    rule = comp.learning_rule
    rng = np.random.default_rng(seed)
    rl = {k[len(internal.RL_PREFIX):]: jnp.asarray(v) for k, v in truth.items() if k.startswith(internal.RL_PREFIX)}
    others = {k: jnp.asarray(v) for k, v in truth.items() if not k.startswith(internal.RL_PREFIX)}

    @jax.jit
    def decide(state, cues, key):
        seen = internal.readout(comp, state, cues | rl)
        batch = internal.Readout(seen.values[None], {k: v[None] for k, v in seen.parts.items()})
        dp = internal.decision_params(comp, batch, {}, {k: v[None] for k, v in others.items()}, batch_dims=1)
        rt, choice = comp.decision_model.sample(key, **dp)
        return rt[0], internal.option_index(choice, comp.decision_model.choices)[0]

    @jax.jit
    def learn(state, option, inputs):
        return internal.update_state(comp, state, option, jnp.asarray(True), inputs, rl)

    rows = []
    key = jax.random.key(seed)
    t_index = 0
    with jax.enable_x64(True):
        for block, set_size in enumerate((2, 4, 6, 3, 5)):
            correct = rng.integers(0, 2, set_size)
            states = [internal.initial_state(comp, jnp.float64, rl) for _ in range(set_size)]
            for k in range(trials_per_block):
                s = int(rng.integers(set_size))
                cues = {"set_size": jnp.asarray(float(set_size)), "trial_index": jnp.asarray(float(t_index))}
                key, sub = jax.random.split(key)
                rt, option = decide(states[s], cues, sub)
                fb = float(int(option) == correct[s])
                states[s] = learn(states[s], option, cues | {"feedback": jnp.asarray(fb)})
                rows.append(dict(participant_id=0, trial_id=t_index, response=int(option), rt=float(rt),
                                 feedback=fb, block=block, state=f"b{block}s{s}", set_size=float(set_size)))
                t_index += 1
    del rule
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- flat NUTS fit
def flat_fit(model: rlssm.RLSSM, data: pd.DataFrame, chains: int, warmup: int, draws: int, seed: int):
    """Uniform priors on each parameter's bounds (``t`` below the fastest response)."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    f = model.logp_fn(data)
    fastest = float(np.nanmin(data["rt"]))
    box = {n: (lo, min(hi, fastest - 1e-3) if n == "t" else hi) for n, (lo, hi) in model.bounds.items()}

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


def recovery(args) -> None:
    import arviz as az

    print(f"== Recovery: 1 participant x {args.trials} trials, exact DDM, flat NUTS "
          f"{args.chains} x ({args.warmup} + {args.draws}) ==")
    print(f"{'rule':18s} {'parameter':16s} {'truth':>8s} {'mean':>8s} {'5%':>8s} {'95%':>8s} covered  r_hat")
    for name, (rule, mapping, rl_truth, env) in rule_specs().items():
        if args.rules and name not in args.rules:
            continue
        model = model_of(rule, mapping)
        truth = rl_truth | DECISION_TRUTH
        truth = {k: truth[k] for k in model.param_names}
        t0 = time.perf_counter()
        if env is None:
            data = rlwm_task(model, truth, trials_per_block=args.trials // 5, seed=args.seed)
        else:
            data = model.simulate(truth, env, n_participants=1, n_trials=args.trials, seed=args.seed)
        samples, divergent = flat_fit(model, data, args.chains, args.warmup, args.draws, args.seed)
        rhat = az.rhat({k: v for k, v in samples.items()})
        covered = 0
        for p in model.param_names:
            x = samples[p].reshape(-1)
            lo, hi = np.quantile(x, [0.05, 0.95])
            ok = lo <= truth[p] <= hi
            covered += ok
            print(f"{name:18s} {p:16s} {truth[p]:8.3f} {x.mean():8.3f} {lo:8.3f} {hi:8.3f} {str(ok):>7s}  "
                  f"{float(np.asarray(rhat[p])):.3f}")
        print(f"{name:18s} covered {covered}/{len(model.param_names)}, divergent {divergent}, "
              f"{time.perf_counter() - t0:.0f} s\n")


# ---------------------------------------------------------------------- comparison
def comparison(args) -> None:
    from rlssm.fitting import Hierarchical, compare_participants

    specs = rule_specs()
    print(f"== Model comparison: {args.participants} participants x {args.cmp_trials} trials, hierarchical "
          f"NUTS {args.chains} x ({args.warmup} + {args.draws}), participant-level PSIS-LOO ==")
    for true_name in ("PearceHall", "ChoiceKernel"):
        if true_name not in specs:
            print(f"{true_name}: not in this rlssm, skipped")
            continue
        rule, mapping, rl_truth, env = specs[true_name]
        model = model_of(rule, mapping)
        truth = rl_truth | DECISION_TRUTH
        rng = np.random.default_rng(args.seed)
        params = {k: (np.clip(v * np.exp(rng.normal(0, 0.1, args.participants)), 1e-3, None)
                      if k.startswith("rl_") else v) for k, v in truth.items() if k in model.param_names}
        params = {k: (np.clip(v, 1e-3, 0.999) if k.startswith("rl_") else v) for k, v in params.items()}
        data = model.simulate(params, env, n_participants=args.participants, n_trials=args.cmp_trials, seed=args.seed)
        fits = {}
        for label, m in ((true_name, model), ("RescorlaWagner", model_of(rlssm.RescorlaWagner(), None))):
            fit = Hierarchical(m, data)
            fits[label] = fit.sample(chains=args.chains, tune=args.warmup, draws=args.draws, seed=args.seed,
                                     progressbar=False)
        table = compare_participants(fits, data)
        print(f"-- data from {true_name} --")
        print(table.to_string())
        print()


# ---------------------------------------------------------------------- speed
def speed(args) -> None:
    folder = data_dir(args.data_dir)
    data = seed_data(folder)
    data["feedback_unchosen"] = 1.0 - data["feedback"]  # for CounterfactualRW: a complete-feedback stand-in
    print("== Speed: value+grad of the seed data (20 x 200), exact Angle, float64, median of "
          f"{args.repeats} calls, ratio to DualRateRW in the same run ==")
    models = {"DualRateRW": (rlssm.DualRateRW(), None)}
    for name, (rule, mapping, _, _) in rule_specs().items():
        if name not in ("DualRateRW", "RLWM"):
            models[name] = (rule, mapping)
    fns, points = {}, {}
    for name, (rule, mapping) in models.items():
        model = rlssm.RLSSM(rule, rlssm.Angle(), mapping=mapping)
        f = model.logp_fn(data)
        p = {k: jnp.asarray(v) for k, v in model.default_params.items()}
        p |= {"a": jnp.asarray(1.2), "z": jnp.asarray(0.4), "t": jnp.asarray(0.1), "theta": jnp.asarray(0.1)}
        fns[name] = jax.jit(jax.value_and_grad(lambda p, f=f: jnp.sum(f(p))))
        points[name] = p
    times: dict[str, list[float]] = {n: [] for n in fns}
    with jax.enable_x64(True):
        for n, fn in fns.items():
            jax.block_until_ready(fn(points[n]))
        for r in range(args.repeats):
            order = list(fns)[r % len(fns):] + list(fns)[: r % len(fns)]
            for n in order:
                t0 = time.perf_counter()
                jax.block_until_ready(fns[n](points[n]))
                times[n].append(time.perf_counter() - t0)
    base = np.median(times["DualRateRW"])
    print(f"{'rule':18s} {'ms':>8s} {'ratio':>8s}")
    for n, t in times.items():
        print(f"{n:18s} {1e3 * np.median(t):8.2f} {np.median(t) / base:8.2f}")
    print()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=("recovery", "comparison", "speed"), default=None)
    p.add_argument("--rules", nargs="*", default=None, help="recovery: these rules only")
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--participants", type=int, default=12)
    p.add_argument("--cmp-trials", type=int, default=200)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    print(f"jax {jax.__version__}, devices {jax.devices()}, rlssm {rlssm.__version__}\n")
    if args.only in (None, "speed"):
        speed(args)
    if args.only in (None, "recovery"):
        recovery(args)
    if args.only in (None, "comparison"):
        comparison(args)


if __name__ == "__main__":
    main()
