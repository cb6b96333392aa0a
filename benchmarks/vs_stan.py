"""Sampling efficiency against Stan on the same models: rlssm's `Hierarchical` against pystan 3.

Two comparisons, each fitted by both tools to the same data, one run after the other:

* ``rlddm``: a hierarchical dual-rate Rescorla-Wagner + DDM on 20 x 200 trials simulated
  with rlssm (fixed seeds). Stan side: the model as a Stan user writes it (`RLDDM_STAN`
  below: Stan's built-in ``wiener_lpdf``, ``v = scaler * (Q1 - Q0)``, values start at 0.5,
  ``a`` half the boundary separation so Stan's ``alpha = 2a``, ``t`` below each
  participant's fastest response, non-centred normal group parameters). rlssm side:
  ``Hierarchical(RLSSM(DualRateRW(), DDM()), data)``.
* ``bandit2arm``: hBayesDM's ``bandit2arm_delta`` (Rescorla-Wagner + softmax, choices
  only) on hBayesDM's example data (20 x 100). Stan side: hBayesDM's own Stan program,
  read from its source distribution at run time, its array declarations rewritten in
  current syntax and its generated quantities left out (so the sampler alone is timed).
  rlssm side: ``Hierarchical(RLSSM(RescorlaWagner(initial_value=0.0),
  Softmax(n_options=2), Values(), choices=(1, 2), bounds={"beta": (0, 5)}), data)``.

Each side samples with its own defaults, as its users run it (Stan: ``adapt_delta`` 0.8,
tree depth 10; rlssm: ``target_accept`` 0.9, tree depth 7 in warm-up and 10 in the draws).
For each side the script prints: the wall time (rlssm: building the fit, compiling and
sampling; Stan: sampling, the program's C++ build reported apart because httpstan
caches it), the fixed overhead of a fit (the same, for a tiny run of ``--overhead-iters``
warm-up and draws per chain at tree depth 1, whose few gradients cost next to nothing),
leapfrog steps in the draws, min bulk ESS over the group parameters (Stan: ``mu`` /
``mu_pr`` and ``sigma``; rlssm: ``fit.group_vars``, the group locations and spreads;
bulk ESS is rank-based, so the link scale does not matter), min ESS per second and per
1,000 leapfrog steps of the draws, divergent draws, max R-hat, and the ratios rlssm / Stan.
Bulk ESS and R-hat of both sides are computed here by the same arviz, from draws laid out
(chain, draw) (pystan interleaves its chains' draws: see `stan_child`). Before sampling,
both log-likelihoods are evaluated at ``--parity-points`` random sets of per-participant
parameters: Stan's as the program's log density at those values (group locations 0,
spreads 1) less its prior terms, rlssm's as ``model.loglik(data, params).sum()``. The
participants' posterior means of both fits are compared as well.

Every fit runs in a fresh process (compilation caches are not shared): rlssm's under
this interpreter, Stan's under ``--stan-python``, an interpreter of a separate
environment with pystan 3; Stan is never a dependency of rlssm. Without that
interpreter the script says so, skips Stan and prints rlssm's side.

Set-up of the Stan side, outside the repository (about a minute; pystan 3 compiles each
program with the system ``g++`` on its first build, 1-3 min, and caches it)::

    python3.12 -m venv /work/stanenv
    /work/stanenv/bin/pip install pystan arviz pandas scipy
    pip download --no-deps hbayesdm==1.1.1 -d /work/hbayesdm_src
    tar xzf /work/hbayesdm_src/hbayesdm-1.1.1.tar.gz -C /work/hbayesdm_src
    export RLSSM_STAN_PYTHON=/work/stanenv/bin/python HBAYESDM_SRC=/work/hbayesdm_src

The Stan child needs only ``pystan`` and ``numpy``. ``bandit2arm`` needs hBayesDM's
source (``--hbayesdm-src``, default ``$HBAYESDM_SRC``) on both sides: the example data
come from it; without it the comparison is skipped.

Run from the repository root (the measurement: 4 x (1000 + 1000), half an hour or more on 2
cores, most of it Stan's RL-DDM)::

    .venv/bin/python benchmarks/vs_stan.py
    .venv/bin/python benchmarks/vs_stan.py --chains 2 --tune 200 --draws 200   # a check that it runs

Options: ``--only rlddm|bandit2arm``, ``--chains/--tune/--draws``, ``--seed``,
``--overhead-iters``, ``--parity-points``, ``--host-devices N`` (rlssm's chains one per
XLA host device; default 0, JAX's single CPU device, as a Python user gets it),
``--stan-python``, ``--hbayesdm-src``, ``--work-dir DIR`` (keep data, draws and logs),
``--report FILE`` (the tables as markdown).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

RLDDM_STAN = """
// Hierarchical dual-rate Rescorla-Wagner + DDM, non-centred. a is half the boundary
// separation (rlssm's and HSSM's convention): Stan's wiener alpha is 2a.
data {
  int<lower=1> N;
  int<lower=1> T;
  array[N] int<lower=1, upper=T> Tsubj;
  array[N, T] int<lower=0, upper=1> resp;  // 1: upper boundary, option 1
  array[N, T] real rt;
  array[N, T] real fb;
  vector[N] minrt;
}
parameters {
  vector[6] mu;
  vector<lower=0>[6] sigma;
  array[6] vector[N] raw;
}
transformed parameters {
  vector[N] alpha = inv_logit(mu[1] + sigma[1] * raw[1]);
  vector[N] alpha_neg = inv_logit(mu[2] + sigma[2] * raw[2]);
  vector[N] scaler = exp(mu[3] + sigma[3] * raw[3]);
  vector[N] a = exp(mu[4] + sigma[4] * raw[4]);
  vector[N] z = inv_logit(mu[5] + sigma[5] * raw[5]);
  vector[N] t = minrt .* inv_logit(mu[6] + sigma[6] * raw[6]);
}
model {
  mu ~ normal(0, 1.5);
  sigma ~ normal(0, 1);
  for (k in 1:6) raw[k] ~ std_normal();
  for (i in 1:N) {
    vector[2] q = rep_vector(0.5, 2);
    for (j in 1:Tsubj[i]) {
      real v = scaler[i] * (q[2] - q[1]);
      int c = resp[i, j] + 1;
      if (resp[i, j] == 1)
        target += wiener_lpdf(rt[i, j] | 2 * a[i], t[i], z[i], v);
      else
        target += wiener_lpdf(rt[i, j] | 2 * a[i], t[i], 1 - z[i], -v);
      real pe = fb[i, j] - q[c];
      q[c] += (pe > 0 ? alpha[i] : alpha_neg[i]) * pe;
    }
  }
}
"""

RLDDM_NAMES = ("rl_alpha", "rl_alpha_neg", "scaler", "a", "z", "t")
"""rlssm's names of the RL-DDM's parameters, in the order of Stan's ``mu``, ``sigma``, ``raw``."""

COMPARISONS = {
    # name -> (title, Stan group variables, Stan participant variable -> rlssm name)
    "rlddm": (
        "Hierarchical dual-rate RL-DDM (20 x 200, simulated)",
        ("mu", "sigma"),
        dict(zip(("alpha", "alpha_neg", "scaler", "a", "z", "t"), RLDDM_NAMES)),
    ),
    "bandit2arm": (
        "hBayesDM bandit2arm_delta (example data, 20 x 100)",
        ("mu_pr", "sigma"),
        {"A": "rl_alpha", "tau": "beta"},
    ),
}

HBAYESDM_STAN = "hbayesdm/common/stan_files/bandit2arm_delta.stan"
HBAYESDM_DATA = "hbayesdm/common/extdata/bandit2arm_exampleData.txt"

SETUP_HINT = (
    "set-up: python3.12 -m venv /work/stanenv && /work/stanenv/bin/pip install pystan arviz pandas scipy; "
    "then --stan-python /work/stanenv/bin/python or RLSSM_STAN_PYTHON (see benchmarks/README.md)"
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=tuple(COMPARISONS), default=None, help="one comparison (default: both)")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--tune", type=int, default=1000, help="warm-up iterations per chain, both sides")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=1, help="seed of both samplers")
    p.add_argument("--overhead-iters", type=int, default=10,
                   help="warm-up and draws per chain of the tiny run that measures the fixed overhead")
    p.add_argument("--parity-points", type=int, default=5, help="random parameter sets of the log-likelihood check")
    p.add_argument("--host-devices", type=int, default=0,
                   help="rlssm: split the CPU into N XLA host devices (chains in parallel); 0: JAX's default")
    p.add_argument("--stan-python", default=os.environ.get("RLSSM_STAN_PYTHON"),
                   help="interpreter with pystan 3 (default $RLSSM_STAN_PYTHON); absent: Stan is skipped")
    p.add_argument("--hbayesdm-src", default=os.environ.get("HBAYESDM_SRC"),
                   help="unpacked hbayesdm 1.1.1 source distribution (default $HBAYESDM_SRC)")
    p.add_argument("--work-dir", default=None, help="keep data, draws and the children's logs here")
    p.add_argument("--report", default=None, help="also write the tables (markdown) to this file")
    # A fit in a fresh process: internal, the parent starts these.
    p.add_argument("--child", choices=("stan", "rlssm"), default=None, help=argparse.SUPPRESS)
    p.add_argument("--job", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("chains", "tune", "draws", "overhead_iters"):
        if getattr(args, name) < (0 if name == "tune" else 1):
            p.error(f"--{name.replace('_', '-')} must be {'non-negative' if name == 'tune' else 'positive'}, "
                    f"got {getattr(args, name)}")
    if args.parity_points < 0:
        p.error(f"--parity-points must be non-negative, got {args.parity_points}")
    return args


# ----------------------------------------------------------------------------- children
# A child reads one job (JSON), fits, and writes its result (JSON) and the group
# parameters' draws (npz, each array (chain, draw)) next to it.


def stan_child(job: dict) -> None:
    """Build a Stan program with pystan 3, evaluate the parity points, sample.

    Needs ``stan`` and ``numpy`` only (this runs in the Stan environment).
    """
    from importlib.metadata import version

    import stan

    chains, draws = job["chains"], job["draws"]
    data = json.loads(Path(job["stan_data"]).read_text())
    t0 = time.perf_counter()
    post = stan.build(Path(job["program"]).read_text(), data=data, random_seed=job["seed"])
    build_s = time.perf_counter() - t0
    # The log density at each point less the prior terms: the likelihood alone. `~`
    # statements drop constants, so the priors contribute their kernels only.
    loglik = [
        post.log_prob(post.unconstrain_pars(point["values"]), adjust_transform=False) - point["prior_kernel"]
        for point in job["parity"]
    ]
    depth = {"max_depth": job["max_tree_depth"]} if job["max_tree_depth"] else {}
    t0 = time.perf_counter()
    fit = post.sample(num_chains=chains, num_warmup=job["tune"], num_samples=draws, **depth)
    sample_s = time.perf_counter() - t0

    def by_chain(flat) -> np.ndarray:
        # pystan stores draw s of chain c at position s * chains + c of the last axis.
        flat = np.asarray(flat, dtype=float)
        return np.moveaxis(flat.reshape(flat.shape[:-1] + (draws, chains)), (-1, -2), (0, 1))

    group = {}
    for var in job["group"]:
        values = by_chain(fit[var])  # (chain, draw, k)
        for k in range(values.shape[-1]):
            group[f"{var}[{k + 1}]"] = values[..., k]
    np.savez(job["draws_file"], **group)
    result = {
        "versions": f"pystan {version('pystan')}, httpstan {version('httpstan')}",
        "build_s": build_s,
        "sample_s": sample_s,
        "draw_leapfrogs": int(np.asarray(fit["n_leapfrog__"]).sum()),
        "divergent": int(np.asarray(fit["divergent__"]).sum()),
        "loglik": loglik,
        "subject_means": {v: np.asarray(fit[v], dtype=float).mean(-1).tolist() for v in job["subject"]},
    }
    Path(job["result"]).write_text(json.dumps(result))


def rlssm_model(name: str):
    """The rlssm side of a comparison."""
    import rlssm

    if name == "rlddm":
        return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM())
    return rlssm.RLSSM(
        rlssm.RescorlaWagner(initial_value=0.0), rlssm.Softmax(n_options=2), rlssm.Values(),
        choices=(1, 2), bounds={"beta": (0.0, 5.0)},
    )


def rlssm_child(job: dict) -> None:
    """``Hierarchical(model, data).sample(...)`` as a user calls it, timed from the build."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(HERE))
    from _common import add_xla_flags

    add_xla_flags(job["host_devices"])
    import jax
    import pandas as pd

    import rlssm
    from rlssm.fitting import Hierarchical

    model = rlssm_model(job["model"])
    data = pd.read_csv(job["data"])
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = Hierarchical(model, data)
    build_s = time.perf_counter() - t0
    depth = {"max_tree_depth": job["max_tree_depth"]} if job["max_tree_depth"] else {}
    t0 = time.perf_counter()
    idata = fit.sample(
        chains=job["chains"], tune=job["tune"], draws=job["draws"], seed=job["seed"],
        progressbar=False, log_likelihood=False, **depth,
    )
    sample_s = time.perf_counter() - t0
    posterior, stats = idata["posterior"], idata["sample_stats"]
    group = {}
    for var in fit.group_vars:
        values = np.asarray(posterior[var].values, dtype=float)
        flat = values.reshape(values.shape[:2] + (-1,))
        for k in range(flat.shape[-1]):
            group[var if flat.shape[-1] == 1 else f"{var}[{k + 1}]"] = flat[..., k]
    np.savez(job["draws_file"], **group)
    result = {
        "versions": f"rlssm {rlssm.__version__}, jax {jax.__version__}, {len(jax.devices())} JAX device(s)",
        "import_s": import_s,
        "build_s": build_s,
        "sample_s": sample_s,
        "draw_leapfrogs": int(np.asarray(stats["n_steps"]).sum()),
        "divergent": int(np.asarray(stats["diverging"]).sum()),
        "participants": [str(p) for p in fit.participants],
        "subject_means": {k: v.mean(axis=(0, 1)).tolist() for k, v in fit.participant_draws(idata).items()},
    }
    Path(job["result"]).write_text(json.dumps(result))


# ----------------------------------------------------------------------------- data


def rlddm_data():
    """20 participants x 200 trials of a two-armed Gaussian bandit (means 0.3, 0.7, sd 0.15),
    simulated from ``RLSSM(DualRateRW(), DDM())``; participants' values drawn around fixed
    group values and clipped to plausible ranges."""
    import rlssm

    n = 20
    rng = np.random.default_rng(11)
    params = {
        "rl_alpha": np.clip(rng.normal(0.55, 0.1, n), 0.05, 0.95),
        "rl_alpha_neg": np.clip(rng.normal(0.3, 0.08, n), 0.05, 0.95),
        "scaler": np.clip(rng.normal(3.0, 0.5, n), 0.5, None),
        "a": np.clip(rng.normal(1.4, 0.15, n), 0.6, None),
        "z": np.clip(rng.normal(0.5, 0.05, n), 0.3, 0.7),
        "t": np.clip(rng.normal(0.3, 0.05, n), 0.15, None),
    }
    env = rlssm.GaussianBandit(means=(0.3, 0.7), sd=0.15)
    return rlssm_model("rlddm").simulate(params, env, n_participants=n, n_trials=200, seed=5)


def bandit2arm_data(src: Path):
    """hBayesDM's example data in rlssm's format (``choice`` -> ``response``, ``outcome`` ->
    ``feedback``)."""
    import rlssm

    return rlssm.load_hbayesdm(src / HBAYESDM_DATA)


def hbayesdm_root(folder: str | None) -> Path | None:
    """The folder holding ``hbayesdm/common``: ``folder`` or the one unpacked inside it."""
    if not folder:
        return None
    base = Path(folder)
    for root in (base, *sorted(base.glob("hbayesdm-*"))):
        if (root / HBAYESDM_STAN).is_file() and (root / HBAYESDM_DATA).is_file():
            return root
    return None


def hbayesdm_program(src: Path) -> str:
    """hBayesDM's ``bandit2arm_delta`` in current Stan: ``#include`` lines dropped,
    ``TYPE name[dims];`` declarations written ``array[dims] TYPE name;`` (the old syntax
    was removed in Stan 2.33), the generated quantities (last block) cut off."""
    import re

    code = (src / HBAYESDM_STAN).read_text()
    code = re.sub(r"^\s*#include.*$", "", code, flags=re.M)
    declaration = re.compile(r"^(\s*)((?:int|real)(?:<[^>]*>)?)\s+(\w+)\s*\[([^\]]+)\]\s*;", flags=re.M)
    code = declaration.sub(r"\1array[\4] \2 \3;", code)
    return code[: code.index("generated quantities")]


def per_participant(data):
    """Rows grouped by participant (sorted labels), each sorted by ``trial_id``."""
    ids = sorted(data["participant_id"].unique())
    return ids, [data[data["participant_id"] == p].sort_values("trial_id", kind="stable") for p in ids]


def padded(frames, column: str, fill, dtype) -> list:
    """``column`` of each participant's rows as an (N, T) list, padded with ``fill``."""
    out = np.full((len(frames), max(len(f) for f in frames)), fill, dtype=dtype)
    for i, f in enumerate(frames):
        out[i, : len(f)] = f[column].to_numpy(dtype=dtype)
    return out.tolist()


def stan_data(name: str, data) -> dict:
    """The Stan program's data block from rlssm's data frame."""
    ids, frames = per_participant(data)
    if any(f[["response", "feedback"]].isna().any().any() for f in frames):
        raise SystemExit(f"{name}: the Stan programs take no missed trials; the data have some")
    common = {"N": len(ids), "T": max(len(f) for f in frames), "Tsubj": [len(f) for f in frames]}
    if name == "rlddm":
        return common | {
            "resp": padded(frames, "response", 0, int),
            "rt": padded(frames, "rt", 1.0, float),
            "fb": padded(frames, "feedback", 0.0, float),
            "minrt": [float(f["rt"].min()) for f in frames],
        }
    return common | {"choice": padded(frames, "response", -1, int), "outcome": padded(frames, "feedback", 0.0, float)}


# ----------------------------------------------------------------------------- parity


def inv_phi_approx(y: np.ndarray) -> np.ndarray:
    """``x`` with ``Phi_approx(x) = inv_logit(0.07056 x^3 + 1.5976 x) = y``: the real root of a
    cubic with positive slope (Cardano), polished by Newton steps."""
    c3, c1 = 0.07056, 1.5976
    target = np.log(y) - np.log1p(-y)
    p, q = c1 / c3, target / c3  # x^3 + p x - q = 0
    root = np.sqrt(q**2 / 4 + p**3 / 27)
    x = np.cbrt(q / 2 + root) + np.cbrt(q / 2 - root)
    for _ in range(3):
        x = x - (c3 * x**3 + c1 * x - target) / (3 * c3 * x**2 + c1)
    return x


def parity_points(name: str, data, n_points: int, seed: int) -> list[dict]:
    """Random per-participant parameters: rlssm's values, and Stan's parameter block at the
    same values (group locations 0, spreads 1, so each participant's raw value is the link
    of their value) with the prior kernels it adds to the log density."""
    from scipy.special import logit

    ids, frames = per_participant(data)
    n = len(ids)
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n_points):
        if name == "rlddm":
            minrt = np.array([f["rt"].min() for f in frames])
            values = {
                "rl_alpha": rng.uniform(0.1, 0.9, n), "rl_alpha_neg": rng.uniform(0.1, 0.9, n),
                "scaler": rng.uniform(0.5, 5.0, n), "a": rng.uniform(0.6, 2.0, n),
                "z": rng.uniform(0.3, 0.7, n), "t": minrt * rng.uniform(0.2, 0.95, n),
            }
            links = {"rl_alpha": logit, "rl_alpha_neg": logit, "scaler": np.log, "a": np.log, "z": logit,
                     "t": lambda t: logit(t / minrt)}
            raw = [links[k](values[k]) for k in RLDDM_NAMES]
            stan_values = {"mu": [0.0] * 6, "sigma": [1.0] * 6, "raw": [r.tolist() for r in raw]}
            # mu ~ normal(0, 1.5) at 0: 0; sigma ~ normal(0, 1) at 1: -1/2 each; raw ~ std_normal.
            kernel = -0.5 * 6 - 0.5 * sum(float((r**2).sum()) for r in raw)
        else:
            values = {"rl_alpha": rng.uniform(0.05, 0.95, n), "beta": rng.uniform(0.2, 4.8, n)}
            a_pr, tau_pr = inv_phi_approx(values["rl_alpha"]), inv_phi_approx(values["beta"] / 5)
            stan_values = {"mu_pr": [0.0, 0.0], "sigma": [1.0, 1.0], "A_pr": a_pr.tolist(), "tau_pr": tau_pr.tolist()}
            # mu_pr ~ normal(0, 1) at 0: 0; sigma ~ normal(0, 0.2) at 1: -12.5 each.
            kernel = -0.5 * 2 / 0.2**2 - 0.5 * float((a_pr**2).sum() + (tau_pr**2).sum())
        points.append({"rlssm": values, "values": stan_values, "prior_kernel": kernel})
    return points


# ----------------------------------------------------------------------------- running


def stan_python_problem(python: str | None) -> str | None:
    """Why ``python`` cannot run the Stan side, or None."""
    if not python:
        return "no --stan-python given and RLSSM_STAN_PYTHON is not set"
    try:
        done = subprocess.run([python, "-c", "import stan, numpy"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{python} cannot be run: {err}"
    if done.returncode:
        return f"{python} cannot import pystan 3 (`import stan`): {done.stderr.strip().splitlines()[-1:]}"
    return None


def run_child(python: str, side: str, job: dict, folder: Path, tag: str) -> dict:
    """Run one fit in a fresh process; its output goes to ``<tag>.log``."""
    job = dict(job, result=str(folder / f"{tag}.json"), draws_file=str(folder / f"{tag}.npz"))
    job_file = folder / f"{tag}.job.json"
    job_file.write_text(json.dumps(job))
    log = folder / f"{tag}.log"
    t0 = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(
            [python, str(Path(__file__).resolve()), "--child", side, "--job", str(job_file)],
            stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent,
        )
    if done.returncode:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise RuntimeError(f"the {side} fit {tag} failed (exit {done.returncode}); end of {log}:\n{tail}")
    result = json.loads(Path(job["result"]).read_text())
    result["process_s"] = time.perf_counter() - t0
    with np.load(job["draws_file"]) as npz:
        result["group"] = {k: npz[k] for k in npz.files}
    return result


def diagnostics(result: dict, wall_s: float) -> dict:
    """Min bulk ESS and max R-hat over the group parameters, and the rates built on them."""
    import arviz as az

    group = result["group"]
    ess = {k: float(az.ess(v, method="bulk")) for k, v in group.items()}
    chains = next(iter(group.values())).shape[0]
    rhat = {k: float(az.rhat(v)) for k, v in group.items()} if chains > 1 else {}
    min_var = min(ess, key=ess.get)
    out = {
        "wall_s": wall_s,
        "min_ess": ess[min_var],
        "min_ess_var": min_var,
        "ess_per_s": ess[min_var] / wall_s,
        "leapfrogs": result["draw_leapfrogs"],
        "ess_per_1000_lf": 1000 * ess[min_var] / result["draw_leapfrogs"],
        "divergent": result["divergent"],
        "max_rhat": max(rhat.values()) if rhat else math.nan,
        "max_rhat_var": max(rhat, key=rhat.get) if rhat else "(one chain)",
    }
    return out


def compare(name: str, args, stan_python: str | None, folder: Path, report) -> None:
    """Both sides of one comparison, then its table."""
    title, stan_group, subject_names = COMPARISONS[name]
    if name == "rlddm":
        data, program = rlddm_data(), RLDDM_STAN
    else:
        src = hbayesdm_root(args.hbayesdm_src)
        if src is None:
            report(f"## {title}\n\nSkipped: hBayesDM's source not found (--hbayesdm-src / HBAYESDM_SRC = "
                   f"{args.hbayesdm_src!r}); `pip download --no-deps hbayesdm==1.1.1` and unpack it.\n")
            return
        data, program = bandit2arm_data(src), hbayesdm_program(src)
    folder = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    data_file = folder / "data.csv"
    data.to_csv(data_file, index=False)
    n_part = data["participant_id"].nunique()
    points = parity_points(name, data, args.parity_points, args.seed)
    model = rlssm_model(name)
    rlssm_ll = [float(model.loglik(data, p["rlssm"]).sum()) for p in points]

    sizes = {"chains": args.chains, "tune": args.tune, "draws": args.draws, "seed": args.seed, "max_tree_depth": None}
    # Trajectories of one leapfrog step: the tiny run's few gradients cost next to nothing,
    # so its time is the build, the compilation and the start of a fit.
    tiny = dict(sizes, tune=args.overhead_iters, draws=args.overhead_iters, max_tree_depth=1)
    stan, stan_tiny = None, None
    if stan_python:
        (folder / "program.stan").write_text(program)
        (folder / "stan_data.json").write_text(json.dumps(stan_data(name, data)))
        job = {
            "program": str(folder / "program.stan"), "stan_data": str(folder / "stan_data.json"),
            "group": list(stan_group), "subject": list(subject_names),
            "parity": [{k: p[k] for k in ("values", "prior_kernel")} for p in points],
        }
        print(f"[{name}] Stan: {args.chains} x ({args.tune} + {args.draws}) ...", flush=True)
        stan = run_child(stan_python, "stan", job | sizes, folder, "stan")
        print(f"[{name}] Stan: tiny run ...", flush=True)
        stan_tiny = run_child(stan_python, "stan", job | tiny | {"parity": []}, folder, "stan_tiny")
    job = {"model": name, "data": str(data_file), "host_devices": args.host_devices}
    print(f"[{name}] rlssm: tiny run ...", flush=True)
    ours_tiny = run_child(sys.executable, "rlssm", job | tiny, folder, "rlssm_tiny")
    print(f"[{name}] rlssm: {args.chains} x ({args.tune} + {args.draws}) ...", flush=True)
    ours = run_child(sys.executable, "rlssm", job | sizes, folder, "rlssm")

    r = diagnostics(ours, ours["build_s"] + ours["sample_s"])
    r["overhead_s"] = ours_tiny["build_s"] + ours_tiny["sample_s"]
    s = None
    if stan:
        s = diagnostics(stan, stan["sample_s"])
        s["overhead_s"] = stan_tiny["build_s"] + stan_tiny["sample_s"]
    for d in (r, s):
        if d:
            d["per_draw"] = d["leapfrogs"] / (args.chains * args.draws)

    report(f"## {title}: {args.chains} chains x ({args.tune} + {args.draws})\n")
    report(f"data: {n_part} participants x {len(data) // n_part} trials; rlssm: {ours['versions']}"
           + (f"; Stan: {stan['versions']}" if stan else ""))
    if stan:
        report(f"Stan's program build: {stan['build_s']:.1f} s in the first run (C++ compile unless httpstan "
               f"had it cached), {stan_tiny['build_s']:.1f} s in the tiny run; not in Stan's wall time.")
    report(f"rlssm's imports (not counted): {ours['import_s']:.1f} s; fit build "
           f"{ours['build_s']:.1f} s + sampling (compilation included) {ours['sample_s']:.1f} s.\n")
    rows = []

    def row(label: str, key: str, fmt: str, ratio: bool = True, detail: str | None = None) -> None:
        def cell(d):
            if d is None:
                return "skipped"
            text = fmt.format(d[key])
            return text + (f" ({d[detail]})" if detail else "")

        q = f"{r[key] / s[key]:.2f}" if ratio and s and s[key] else "-"
        rows.append([label, cell(s), cell(r), q])

    tiny_label = f"{args.chains} x ({args.overhead_iters} + {args.overhead_iters}), tree depth 1"
    row("wall time, s (Stan: sampling; rlssm: build + compile + sampling)", "wall_s", "{:.1f}")
    row(f"fixed overhead, s (build + compile + start: a {tiny_label} run)", "overhead_s", "{:.1f}")
    row("leapfrog steps in the draws", "leapfrogs", "{:,}")
    row("leapfrog steps per draw", "per_draw", "{:.1f}")
    row("min bulk ESS, group parameters", "min_ess", "{:.0f}", detail="min_ess_var")
    row("ESS per 1,000 draw leapfrogs", "ess_per_1000_lf", "{:.2f}")
    row("min ESS / s", "ess_per_s", "{:.3f}")
    row("divergent draws", "divergent", "{:d}", ratio=False)
    row("max R-hat, group parameters", "max_rhat", "{:.3f}", ratio=False, detail="max_rhat_var")
    report.table(["", "Stan (pystan 3)", "rlssm", "rlssm / Stan"], rows)

    if stan:
        diff = [abs(a - b) for a, b in zip(rlssm_ll, stan["loglik"])]
        report(f"log-likelihood at {len(points)} random per-participant points: rlssm "
               f"{', '.join(f'{v:.9f}' for v in rlssm_ll)}; Stan {', '.join(f'{v:.9f}' for v in stan['loglik'])}; "
               f"max |difference| {max(diff, default=math.nan):.2g}, relative "
               f"{max((d / abs(v) for d, v in zip(diff, rlssm_ll)), default=math.nan):.2g}")
        order = [ours["participants"].index(str(p)) for p in sorted(data["participant_id"].unique())]
        gaps = {
            ours_name: float(np.max(np.abs(np.asarray(stan["subject_means"][stan_name])
                                           - np.asarray(ours["subject_means"][ours_name])[order])))
            for stan_name, ours_name in subject_names.items()
        }
        report("participants' posterior means, max |Stan - rlssm|: "
               + ", ".join(f"{k} {v:.3f}" for k, v in gaps.items()))
    else:
        report(f"log-likelihood at {len(points)} random points (rlssm only): "
               + ", ".join(f"{v:.9f}" for v in rlssm_ll))
    report("ratios: wall time and overhead < 1, ESS rates > 1 favour rlssm.")
    if min(args.draws, args.tune) < 1000:
        report("NOTE: shorter than 1000 + 1000: ESS and R-hat are rough; compare the full run.")
    report()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        job = json.loads(Path(args.job).read_text())
        (stan_child if args.child == "stan" else rlssm_child)(job)
        return 0
    sys.path.insert(0, str(HERE))
    from _common import Report, machine_note

    report = Report()
    report("# rlssm against Stan: hierarchical fits of the same models\n")
    report(machine_note())
    problem = stan_python_problem(args.stan_python)
    if problem:
        report(f"\nStan skipped: {problem}.\n({SETUP_HINT})")
    layout = (f"{args.host_devices} XLA host devices (one chain per device where there are enough)"
              if args.host_devices else "JAX's default, one CPU device (chains vectorised)")
    report(f"rlssm's chains: {layout}; Stan's: one process each (httpstan's pool, as many at once as "
           f"CPUs). Seed {args.seed}.\n")
    keep = args.work_dir is not None
    folder = Path(args.work_dir) if keep else Path(tempfile.mkdtemp(prefix="rlssm_vs_stan_"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        for name in (args.only,) if args.only else tuple(COMPARISONS):
            compare(name, args, None if problem else args.stan_python, folder, report)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    report(f"total {time.perf_counter() - t0:.0f} s")
    if args.report:
        Path(args.report).write_text("\n".join(report.lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
