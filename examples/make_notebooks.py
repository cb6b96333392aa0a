"""Write the example notebooks (outputs stripped) from the cell sources below.

Run from anywhere: ``python examples/make_notebooks.py``. Edit the cells here, not in
the ``.ipynb`` files, then regenerate. ``tests/test_examples.py`` executes the
notebooks at a small size (``RLSSM_EXAMPLES_SMALL=1``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip("\n"))


# A first code cell shared by the notebooks: quiet third-party chatter, sizes, data folder.
SETUP = '''
import logging
import os
import time
import warnings
from pathlib import Path

# HSSM, bambi and PyMC are chatty about deprecations; the notebook stays readable.
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning, module=r"(bambi|pymc|pytensor|hssm)")
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import hssm
import rlssm
import rlssm.cli  # submodules used below: fitting defaults, plots, the CLI's helpers
import rlssm.fitting
import rlssm.plots

logging.getLogger("hssm").setLevel(logging.WARNING)  # after importing hssm, which sets INFO
%matplotlib inline
# (rlssm.plots selects matplotlib's Agg backend when imported; this restores inline figures.)

# RLSSM_EXAMPLES_SMALL=1: tiny data, one short chain (what the test suite runs).
SMALL = os.environ.get("RLSSM_EXAMPLES_SMALL", "0") == "1"
# The seed tutorial's data (and the published angle LAN) live outside the repository.
DATA_DIR = Path(os.environ.get("RLSSM_TEST_DATA", "../../shared/data"))
print(f"rlssm {rlssm.__version__}, hssm {hssm.__version__}; small run: {SMALL}; data: {DATA_DIR}")
'''


# ====================================================================== 1. seed workflow
def seed_workflow():
    cells = [
        md(
            """
            # The seed workflow: a custom RLSSM without editing HSSM

            HSSM's tutorial *Introducing a custom RLSSM into HSSM* fits a reinforcement-learning
            sequential-sampling model (RLSSM) to a simulated two-armed bandit data set: a
            Rescorla-Wagner rule with **two learning rates** (one for positive, one for negative
            prediction errors) turns choices and feedback into trial-wise values, the value
            difference scaled by `scaler` becomes the drift `v`, and the **angle model**
            (a diffusion with linearly collapsing bounds) gives the likelihood of every
            (response time, choice).

            To get there, the tutorial edits HSSM's own source (`hssm/likelihoods/rldm.py`) in
            six places. This notebook does the same analysis with `rlssm`, where the learning
            rule is **one subclass in one cell**, and everything else is derived:

            1. load the seed data;
            2. write the dual-rate rule by subclassing `rlssm.AbstractLearningRule`, and check
               it against the library's `rlssm.DualRateRW`;
            3. compose it with the exact angle likelihood (`rlssm.Angle`), and with HSSM's
               angle LAN (`rlssm.AngleLAN`) when its weights are at hand;
            4. evaluate the log-likelihood at the tutorial's test point;
            5. fit the hierarchical model with HSSM (NUTS in numpyro);
            6. compare the group parameters with the generating values and look at
               participant-level recovery.

            Set `RLSSM_EXAMPLES_SMALL=1` for a quick run (a few participants, one short chain);
            unset, it fits the full data set (20 participants x 200 trials).
            """
        ),
        code(SETUP),
        code(
            """
            if SMALL:
                N_PARTICIPANTS, N_TRIALS = 4, 60
                CHAINS, TUNE, DRAWS = 1, 30, 30
            else:
                N_PARTICIPANTS, N_TRIALS = 20, 200
                CHAINS, TUNE, DRAWS = 2, 500, 500
            """
        ),
        md(
            """
            ## 1. The data

            The seed file is a pickled dictionary: the trials, the design (`meta_data`) and the
            generating parameters, at the group level (`params_true_group`) and per participant
            (`params_true_subj`). Like the tutorial, we rename the column `trial` to
            `trial_id`, the name rlssm reads the trial order from. (The file's index restarts at 0
            for every participant; we reset it so that every row has its own label.)
            """
        ),
        code(
            """
            seed = np.load(DATA_DIR / "rldm_data.npy", allow_pickle=True).item()
            data = seed["data"].rename(columns={"trial": "trial_id"}).reset_index(drop=True)
            print(seed["meta_data"])
            data.head()
            """
        ),
        md(
            """
            `response` is 0 or 1 (the chosen arm), `feedback` the reward it paid (arm 0 pays
            about 0.2, arm 1 about 0.8) and `correct` marks choices of the better arm.

            ## 2. The learning rule: one class

            The tutorial's six steps, and where each of them went:

            | HSSM tutorial: edit HSSM's `rldm.py` | rlssm |
            |---|---|
            | 1. add an entry to `rlssm_model_config_list` (name, `n_params`, `n_extra_fields`, `list_params`, `extra_fields`, LAN) | `params` and `fields` on the class; `RLSSM` derives `param_names`, `bounds`, `extra_fields` |
            | 2. point `MODEL_NAME` at the new entry | `rlssm.RLSSM(MyDualRate(), ...)`: models are objects, several can coexist |
            | 3. write `{model}_logp_inner_func` (per-participant slicing with `dynamic_slice`, the update loop, the LAN input matrix) | `update(...)` for **one trial of one participant**; rlssm scans, vmaps, pads, masks and builds the decision model's input |
            | 4. re-point `rldm_logp_inner_func_vmapped` at it | derived |
            | 5. fix the positional unpacking of `dist_params` in `logp` | parameters reach `update` by name |
            | 6. check the VJP's slicing | the gradient is JAX's, wrapped in a PyTensor Op by `to_hssm` |

            The rule declares its parameters (`params`, bounds per name; the model lists them
            with the prefix `rl_`), the data columns it reads (`fields`) and its initial value,
            and implements `update`: the values after one trial, given the values before it,
            the chosen option's index, that trial's feedback and the parameters.
            Written with `jax.numpy`, it is traced and compiled once; `jnp.where` stands in for
            an `if` on a value.
            """
        ),
        code(
            """
            import jax.numpy as jnp


            class MyDualRate(rlssm.AbstractLearningRule):
                \"\"\"Rescorla-Wagner with one rate for positive and one for negative prediction errors.\"\"\"

                initial_value: float = 0.5                               # every option starts here
                params = {"alpha": (0.0, 1.0), "alpha_neg": (0.0, 1.0)}  # -> rl_alpha, rl_alpha_neg
                fields = ("feedback",)                                   # data columns update reads

                def update(self, values, choice, feedback, alpha, alpha_neg):
                    delta = feedback - values[choice]
                    rate = jnp.where(delta > 0, alpha, alpha_neg)
                    return values.at[choice].add(rate * delta)
            """
        ),
        md(
            """
            ## 3. Compose the model

            A model is a learning rule, a mapping (default `rlssm.DriftScaling`:
            `v = scaler * (Q[1] - Q[0])`) and a decision model. `rlssm.Angle()` is the exact
            angle likelihood (no neural network). `choices=(0, 1)` (the default) says that
            response 0 is option 0 (the lower boundary) and response 1 option 1 (the upper
            boundary).
            """
        ),
        code(
            """
            model = rlssm.RLSSM(MyDualRate(), rlssm.Angle())
            print("parameters:  ", model.param_names)
            print("extra fields:", model.extra_fields)
            print("choices:     ", model.choices)
            pd.DataFrame(model.bounds, index=["lower", "upper"])
            """
        ),
        md(
            """
            ## 4. The log-likelihood at the tutorial's test point

            The tutorial evaluates its Op at `rl_alpha = rl_alpha_neg = 0.6, scaler = 3.2,
            a = 1.2, z = 0.1, t = 0.1, theta = 0.1` on all 4000 trials. `model.loglik` returns
            one value per row of `data`, in its order.

            Our class should agree with the library's `rlssm.DualRateRW` everywhere. At the test
            point both rates are equal, so we also check a point where they differ.
            """
        ),
        code(
            """
            SEED_POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.6, scaler=3.2, a=1.2, z=0.1, t=0.1, theta=0.1)
            OTHER_POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.3, scaler=3.2, a=1.2, z=0.3, t=0.3, theta=0.2)

            library = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
            for point in (SEED_POINT, OTHER_POINT):
                mine, theirs = model.loglik(data, point), library.loglik(data, point)
                np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)
                print(f"MyDualRate {mine.sum():.4f}   rlssm.DualRateRW {theirs.sum():.4f}")
            """
        ),
        md(
            """
            ### The same point through HSSM's angle LAN

            The tutorial's likelihood is HSSM's published angle LAN (`angle.onnx`).
            `rlssm.AngleLAN` reads that network into plain JAX; we pass the file explicitly
            (rlssm never downloads it here). If the file is not in the data folder, this step
            is skipped.

            At the test point the LAN gives **-6618.5671** (float64). The tutorial printed
            -6879.1526: it fed the data's raw 0/1 responses to a network trained on -1/+1, so a
            lower-boundary response reached it as `0`. rlssm maps option indices to the decision
            model's own coding (`Angle.choices == (-1, 1)`), so the coding cannot slip.
            The exact `Angle` likelihood differs from the LAN at this point mostly because
            `z = 0.1` is at the edge of the network's training range.
            """
        ),
        code(
            """
            lan_path = DATA_DIR / "angle.onnx"
            if lan_path.is_file():
                lan_model = rlssm.RLSSM(MyDualRate(), rlssm.AngleLAN(path=lan_path), precision="float64")
                lan_total = lan_model.loglik(data, SEED_POINT).sum()
                print(f"AngleLAN: {lan_total:.4f}")
                assert abs(lan_total - (-6618.5671)) < 1e-3
            else:
                print(f"no {lan_path}: skipping the LAN comparison")
            print(f"Angle (exact): {model.loglik(data, SEED_POINT).sum():.4f}")
            """
        ),
        md(
            """
            `model.values` shows what the model computed on every row: the value of each option
            *before* the trial's update, and the decision parameters (the drift `v` included).
            """
        ),
        code(
            """
            model.values(data, OTHER_POINT).join(data[["participant_id", "trial_id", "response", "feedback"]]).head()
            """
        ),
        md(
            """
            ## 5. Fit the hierarchical model

            `rlssm.fitting.default_include(model, data)` gives every parameter an intercept
            and a participant random effect, `p ~ 1 + (1|participant_id)`, with a normal prior
            truncated to the parameter's bounds, and starts the non-decision time below the
            fastest response time. `model.to_hssm` returns an ordinary `hssm.HSSM` whose
            likelihood is the model's Op (with its gradient), bound to the data;
            `rlssm.fitting.sample` runs HSSM's NUTS (numpyro) and keeps the pointwise
            log-likelihood.

            In the small run we fit the first few participants and trials only, with one short
            chain: the numbers then only show that the pipeline works.
            """
        ),
        code(
            """
            fit_data = data[(data["participant_id"] < N_PARTICIPANTS) & (data["trial_id"] < N_TRIALS)]
            fit_data = fit_data.reset_index(drop=True)
            hm = model.to_hssm(fit_data, include=rlssm.fitting.default_include(model, fit_data))
            hm
            """
        ),
        code(
            """
            start = time.perf_counter()
            idata = rlssm.fitting.sample(hm, chains=CHAINS, tune=TUNE, draws=DRAWS, seed=1,
                                         progressbar=not SMALL)
            print(f"sampling took {time.perf_counter() - start:.0f} s")
            log_lik = idata["log_likelihood"]["rt,response"]
            assert log_lik.shape == (CHAINS, DRAWS, len(fit_data))  # one value per row of fit_data
            """
        ),
        md(
            """
            ## 6. Group parameters against the truth

            `rlssm.fitting.group_names` finds the group-level means in the posterior (HSSM
            calls them `<name>_Intercept`); `rlssm.plots.group_summary` gives their mean,
            90% interval, R-hat and bulk ESS. The data were generated with a *single* learning
            rate, so the truth for `rl_alpha_neg` is `rl_alpha`'s.
            """
        ),
        code(
            """
            true_group = seed["params_true_group"]
            truth = {name: true_group[("rl_alpha" if name == "rl_alpha_neg" else name) + "_mean"]
                     for name in model.param_names}

            names = rlssm.fitting.group_names(model, idata)        # parameter -> posterior variable
            table = rlssm.plots.group_summary(idata, list(names.values()))
            table.index = list(names)
            table.insert(0, "truth", pd.Series(truth))
            table["covered"] = (table["lower"] <= table["truth"]) & (table["truth"] <= table["upper"])
            table.round(3)
            """
        ),
        code(
            """
            fig = rlssm.plots.plot_posterior_vs_truth(table, truth)
            plt.show()
            """
        ),
        md(
            """
            ## 7. Participant-level recovery

            `rlssm.cli.participant_estimates` summarises each participant's own parameters
            (intercept plus random effect) in sorted `participant_id` order, which is the order
            of `params_true_subj`.
            """
        ),
        code(
            """
            est, lower, upper = rlssm.cli.participant_estimates(model, hm, idata)
            true_subj = {k: np.asarray(v)[:N_PARTICIPANTS] for k, v in seed["params_true_subj"].items()}
            true_subj["rl_alpha_neg"] = true_subj["rl_alpha"]
            fig = rlssm.plots.plot_recovery(true_subj, est, lower, upper)
            plt.show()
            """
        ),
        md(
            """
            ## What we did not have to write

            No model-configuration dictionary, no parameter counts or positional indices, no
            balanced-panel reshape, no Op or VJP, no dummy simulator: the subclass above carries
            the whole model-specific part. The same object also simulates
            (`model.simulate`) and gives posterior predictive checks
            (`model.posterior_predictive`), as the next notebook, `custom_rule_ppc.ipynb`,
            shows.
            """
        ),
    ]
    return cells


# ====================================================================== 2. custom rule + PPC
def custom_rule_ppc():
    cells = [
        md(
            """
            # A new learning rule: simulate, fit, check

            This notebook writes a learning rule that rlssm does not ship, a Rescorla-Wagner
            rule with **forgetting**, and takes it through a full modelling cycle:

            1. define the rule (one class) and sanity-check it;
            2. simulate a reversal-learning data set from it with `model.simulate`;
            3. fit it with HSSM;
            4. run posterior predictive checks: **generative** (fresh choices and feedback in
               the task) and **conditional** (the observed history replayed, one trial ahead),
               with learning curves;
            5. check that HSSM's own `hm.sample_posterior_predictive` works on the model too.
            """
        ),
        code(SETUP),
        code(
            """
            if SMALL:
                N_PARTICIPANTS, N_TRIALS = 5, 60
                CHAINS, TUNE, DRAWS, N_PPC = 1, 30, 30, 20
            else:
                N_PARTICIPANTS, N_TRIALS = 20, 200
                CHAINS, TUNE, DRAWS, N_PPC = 2, 500, 500, 100
            HIERARCHICAL = not SMALL   # the small run fits one set of parameters for everyone
            """
        ),
        md(
            """
            ## 1. The rule

            After each trial the chosen option learns from its prediction error, as in
            Rescorla-Wagner; every **unchosen** option drifts back toward the initial value at
            rate `forget`:

            $$Q_c \\leftarrow Q_c + \\alpha\\,(r - Q_c), \\qquad
              Q_u \\leftarrow Q_u + \\varphi\\,(Q_0 - Q_u) \\quad (u \\neq c).$$

            Values in, values out: the rule sees one participant's values before the trial, the
            chosen option's index, the trial's feedback and its parameters. Forgetting makes a
            learner quicker to re-sample an option it has not tried for a while, which matters
            after a reversal.
            """
        ),
        code(
            """
            import jax.numpy as jnp


            class ForgetfulRW(rlssm.AbstractLearningRule):
                \"\"\"Rescorla-Wagner; unchosen values decay toward the initial value.\"\"\"

                initial_value: float = 0.5
                params = {"alpha": (0.0, 1.0), "forget": (0.0, 1.0)}   # -> rl_alpha, rl_forget
                fields = ("feedback",)

                def update(self, values, choice, feedback, alpha, forget):
                    forgotten = values + forget * (self.initial_value - values)   # every option...
                    learned = values[choice] + alpha * (feedback - values[choice])
                    return forgotten.at[choice].set(learned)                      # ...but the chosen one
            """
        ),
        md(
            """
            We compose it with the analytic drift diffusion model, `rlssm.DDM()` (parameters
            `v, a, z, t`), through the default mapping `v = scaler * (Q[1] - Q[0])`.
            Swapping the decision model is one argument; the rule does not change.

            The DDM's own bounds for `a` and `t` are open-ended, `(0, inf)`. We narrow them to
            plausible ranges with `bounds=`; the fitting defaults (priors, the start value of
            the non-decision time) are derived from these bounds.
            """
        ),
        code(
            """
            model = rlssm.RLSSM(ForgetfulRW(), rlssm.DDM(), bounds={"a": (0.3, 3.0), "t": (0.0, 2.0)})
            print(model.param_names)
            model.bounds
            """
        ),
        md(
            """
            ## 2. Simulate a reversal-learning task

            `rlssm.GaussianBandit` pays `Normal(means[arm], sd)`; `reversals` lists the trials
            at which the two arms swap their payoffs. `model.simulate` runs the closed loop
            (values -> drift -> (rt, choice) -> feedback -> update) for every participant.
            Parameters may be scalars (shared) or one value per participant.
            """
        ),
        code(
            """
            env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1, reversals=(N_TRIALS // 2,))

            rng = np.random.default_rng(7)
            true_params = {
                "rl_alpha": rng.uniform(0.3, 0.6, N_PARTICIPANTS),
                "rl_forget": rng.uniform(0.05, 0.25, N_PARTICIPANTS),
                "scaler": rng.uniform(3.0, 5.0, N_PARTICIPANTS),
                "a": rng.uniform(1.0, 1.4, N_PARTICIPANTS),
                "z": 0.5,
                "t": rng.uniform(0.25, 0.35, N_PARTICIPANTS),
            }
            sim = model.simulate(true_params, env, n_participants=N_PARTICIPANTS, n_trials=N_TRIALS, seed=0)
            sim.head()
            """
        ),
        code(
            """
            fig = rlssm.plots.plot_learning_curves(sim, n_bins=10)
            fig.axes[0].axvline(4.5, color="grey", ls="--", lw=1)   # the reversal (between bins 4 and 5)
            plt.show()
            """
        ),
        md(
            """
            A participant's values and drift, with the reversal halfway through:
            """
        ),
        code(
            """
            participant_0 = {k: (np.asarray(v)[0] if np.ndim(v) else v) for k, v in true_params.items()}
            fig = rlssm.plots.plot_participant_values(model, sim[sim.participant_id == 0], participant_0, participant=0)
            plt.show()
            """
        ),
        md(
            """
            Two quick checks of the rule. With `forget = 0` it is plain Rescorla-Wagner; and
            the likelihood is an ordinary per-row array.
            """
        ),
        code(
            """
            rw = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), bounds={"a": (0.3, 3.0), "t": (0.0, 2.0)})
            point = dict(rl_alpha=0.4, rl_forget=0.0, scaler=4.0, a=1.2, z=0.5, t=0.2)
            rw_point = {k: v for k, v in point.items() if k != "rl_forget"}
            np.testing.assert_allclose(model.loglik(sim, point), rw.loglik(sim, rw_point), rtol=1e-10)
            ll = model.loglik(sim, dict(point, rl_forget=0.1))
            print(ll.shape, f"{ll.sum():.2f}")
            """
        ),
        md(
            """
            ## 3. Fit

            The full run fits the hierarchical model (`p ~ 1 + (1|participant_id)` for every
            parameter); the small run pools all participants (`hierarchical=False`) to keep it
            short. Everything below works the same for both.
            """
        ),
        code(
            """
            include = rlssm.fitting.default_include(model, sim, hierarchical=HIERARCHICAL)
            hm = model.to_hssm(sim, include=include)
            start = time.perf_counter()
            idata = rlssm.fitting.sample(hm, chains=CHAINS, tune=TUNE, draws=DRAWS, seed=3,
                                         progressbar=not SMALL)
            print(f"sampling took {time.perf_counter() - start:.0f} s")

            names = rlssm.fitting.group_names(model, idata)
            table = rlssm.plots.group_summary(idata, list(names.values()))
            table.index = list(names)
            table.insert(0, "mean of truth", [np.mean(true_params[k]) for k in table.index])
            table.round(3)
            """
        ),
        md(
            """
            ## 4. Posterior predictive checks

            **Generative**: every posterior draw plays the task afresh in `env` (its own
            choices, its own feedback, the same reversal). This asks whether the fitted model
            *behaves* like the participants: how fast it learns, how it recovers after the
            reversal, how its response times are distributed.
            """
        ),
        code(
            """
            ppc_gen = model.posterior_predictive(hm, idata, mode="generative", env=env, n_draws=N_PPC, seed=1)
            print(ppc_gen.shape)
            ppc_gen.head()
            """
        ),
        code(
            """
            fig = rlssm.plots.plot_learning_curves(sim, ppc_gen, n_bins=10)
            fig.suptitle("Generative PPC", y=1.02)
            plt.show()
            """
        ),
        md(
            """
            **Conditional** (one step ahead): the observed choices and feedback drive the
            values, exactly as in the likelihood, and each observed trial gets a fresh
            `(rt, response)`. The draws align with the rows of the data, so trial-level
            comparisons are direct.
            """
        ),
        code(
            """
            ppc_cond = model.posterior_predictive(hm, idata, mode="conditional", n_draws=N_PPC, seed=2)
            fig = rlssm.plots.plot_learning_curves(sim, ppc_cond, n_bins=10)
            fig.suptitle("Conditional PPC", y=1.02)
            plt.show()

            observed = sim.groupby("participant_id").agg(p_upper=("response", "mean"), mean_rt=("rt", "mean"))
            predicted = ppc_cond.groupby("participant_id").agg(p_upper=("response", "mean"), mean_rt=("rt", "mean"))
            observed.join(predicted, rsuffix=" (predicted)").round(3)
            """
        ),
        md(
            """
            ## 5. HSSM's own predictive sampling

            The `hssm.HSSM` from `to_hssm` carries rlssm's simulator, so HSSM's
            `sample_posterior_predictive` works as for any HSSM model (conditional mode, so
            its `__obs__` axis is the rows of `sim`).
            """
        ),
        code(
            """
            hm.sample_posterior_predictive(idata, draws=5)
            pp = idata["posterior_predictive"]["rt,response"]
            print(dict(pp.sizes))
            assert pp.sizes["__obs__"] == len(sim)
            pp_rt = pp.values[..., 0]
            print(f"mean rt: observed {sim['rt'].mean():.3f} s, HSSM's predictive draws {np.nanmean(pp_rt):.3f} s")
            """
        ),
    ]
    return cells


# ====================================================================== 3. ragged blocks
def ragged_blocks():
    cells = [
        md(
            """
            # Messy data: ragged participants, blocks, states, missed responses

            Real experiments rarely give a tidy participants x trials panel. This notebook
            builds a data set with everything that tends to go wrong, checks it, fits it and
            compares two models at the participant level:

            * participants with **different numbers of trials**, labelled by strings;
            * **two blocks** per participant (values reset at the start of each block);
            * two **stimulus pairs** (`state`): values are learned separately for each pair,
              and trials of the two pairs are interleaved;
            * a few **missed responses** (`rt` and `response` NaN): no likelihood, no update;
            * rows in no particular order (the trial order comes from `trial_id`).

            Then: a validation report (`rlssm check`), what a `DataError` looks like, a fit
            whose pointwise log-likelihood lines up with the rows, and a comparison of
            `RescorlaWagner` against `DualRateRW` with PSIS-LOO **over participants**.
            """
        ),
        code(SETUP),
        code(
            """
            import arviz as az
            import xarray as xr

            # arviz warns about Pareto k on every loo; the per-participant table below shows k itself.
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)

            if SMALL:
                N_PARTICIPANTS, STREAM = 5, (12, 20)     # trials per block and pair: min, max
                CHAINS, TUNE, DRAWS = 1, 30, 30
            else:
                N_PARTICIPANTS, STREAM = 16, (30, 50)
                CHAINS, TUNE, DRAWS = 2, 500, 500
            """
        ),
        md(
            """
            ## 1. A messy data set

            We simulate from a dual-rate model with the exact angle likelihood. Because values
            reset at every block and are kept separately per stimulus pair, each
            (block, pair) stream is an independent learning episode: we simulate the streams
            with `model.simulate`, give each participant its own stream lengths, interleave the
            two pairs within a block, and insert a few missed trials (which neither add to the
            likelihood nor update values, so inserting them is exact).
            """
        ),
        code(
            """
            truth_model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
            truth = dict(rl_alpha=0.55, rl_alpha_neg=0.2, scaler=3.0, a=1.3, z=0.5, t=0.3, theta=0.2)
            pairs = {"AB": rlssm.GaussianBandit(means=(0.25, 0.75), sd=0.1),
                     "CD": rlssm.GaussianBandit(means=(0.4, 0.6), sd=0.1)}
            labels = [f"sub-{i:02d}" for i in range(1, N_PARTICIPANTS + 1)]
            rng = np.random.default_rng(11)

            # One simulated learning episode per (block, pair), for every participant.
            streams = {(block, pair): truth_model.simulate(truth, env, n_participants=N_PARTICIPANTS,
                                                           n_trials=STREAM[1], seed=10 * block + k)
                       for block in (1, 2) for k, (pair, env) in enumerate(pairs.items())}


            def one_block(p, block):
                \"\"\"Participant p's trials of one block: both pairs interleaved, a few misses.\"\"\"
                episodes = []
                for pair in pairs:
                    n = rng.integers(STREAM[0], STREAM[1] + 1)               # ragged lengths
                    one = streams[(block, pair)]
                    episodes.append(one[one.participant_id == p].iloc[:n].assign(state=pair))
                # Interleave at random, keeping each pair's own trial order.
                slots = rng.permutation(np.repeat([0, 1], [len(e) for e in episodes]))
                episodes = [e.assign(slot=np.flatnonzero(slots == k)) for k, e in enumerate(episodes)]
                # Missed trials (no response, no feedback, no learning) at random places.
                n_missed = rng.integers(0, 3)
                missed = pd.DataFrame({"state": rng.choice(list(pairs), n_missed),
                                       "slot": rng.uniform(0, len(slots), n_missed)})
                trials = pd.concat([*episodes, missed]).sort_values("slot").drop(columns="slot")
                return trials.assign(block=block)


            frames = []
            for p, label in enumerate(labels):
                both = pd.concat([one_block(p, 1), one_block(p, 2)], ignore_index=True)
                frames.append(both.assign(participant_id=label, trial_id=np.arange(len(both))))

            columns = ["participant_id", "block", "state", "trial_id", "response", "rt", "feedback", "correct"]
            data = (pd.concat(frames)[columns]
                    .sample(frac=1.0, random_state=0)                      # rows in no particular order
                    .reset_index(drop=True))
            data.head(8)
            """
        ),
        code(
            """
            data.groupby("participant_id").agg(trials=("trial_id", "size"), missed=("rt", lambda x: x.isna().sum()),
                                               blocks=("block", "nunique"), states=("state", "nunique"))
            """
        ),
        md(
            """
            ## 2. Check the data

            `rlssm check DATA.csv` prints a validation report; in Python it is
            `rlssm.cli.check_report(data, model)`. It raises a `DataError` for invalid data.
            """
        ),
        code(
            """
            rw = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Angle())
            dual = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
            print("\\n".join(rlssm.cli.check_report(data, dual)))
            print("extra fields this data gives the model:", dual.extra_fields_for(data))
            """
        ),
        md(
            """
            What invalid data looks like. A `DataError` (a `ValueError`) names the column,
            the participant, the row and the value; nothing is recoded or dropped silently.
            """
        ),
        code(
            """
            first = data.index[(data["participant_id"] == labels[0]) & data["rt"].notna()]
            broken = {name: data.copy() for name in
                      ("a response outside choices=(0, 1)", "an rt without a response", "a duplicated trial_id")}
            broken["a response outside choices=(0, 1)"].loc[first[3], "response"] = 2.0
            broken["an rt without a response"].loc[first[5], "response"] = np.nan
            broken["a duplicated trial_id"].loc[first[7], "trial_id"] = data.loc[first[8], "trial_id"]
            for what, bad in broken.items():
                try:
                    rlssm.cli.check_report(bad, dual)
                except rlssm.DataError as err:
                    print(f"{what}:\\n  DataError: {err}\\n")
                else:
                    raise AssertionError(f"{what} was accepted")
            """
        ),
        md(
            """
            ## 3. Fit, and the pointwise log-likelihood

            `to_hssm` hands HSSM the data as given (missed rows carry placeholders HSSM accepts;
            the Op never reads them). The comparison below treats participants as the units, so
            we fit **pooled** models here (one set of parameters shared by everyone; see the
            note at the end for hierarchical models).
            """
        ),
        code(
            """
            fits = {}
            for name, model in {"RescorlaWagner": rw, "DualRateRW": dual}.items():
                hm = model.to_hssm(data, include=rlssm.fitting.default_include(model, data, hierarchical=False))
                start = time.perf_counter()
                idata = rlssm.fitting.sample(hm, chains=CHAINS, tune=TUNE, draws=DRAWS, seed=5,
                                             progressbar=not SMALL)
                print(f"{name}: sampling took {time.perf_counter() - start:.0f} s")
                fits[name] = (model, hm, idata)
            """
        ),
        md(
            """
            The log-likelihood group has one value per posterior draw and **row of `data`**
            (HSSM's `__obs__` axis, in the data's row order, shuffled as it is). Missed rows add
            exactly 0. To check the alignment, we recompute one draw with `model.loglik`
            (which also returns rows in the data's order).
            """
        ),
        code(
            """
            model, hm, idata = fits["DualRateRW"]
            ll = idata["log_likelihood"]["rt,response"]                  # (chain, draw, __obs__)
            missed = data["rt"].isna().to_numpy()
            print(dict(ll.sizes), f"missed rows: {missed.sum()}")
            assert (ll.values[..., missed] == 0.0).all()
            assert (ll.values[..., ~missed] != 0.0).all()

            draw = {name: float(idata["posterior"][name].values[0, -1]) for name in model.param_names}
            again = model.loglik(data, draw)
            np.testing.assert_allclose(ll.values[0, -1], again, rtol=1e-6, atol=1e-8)
            pd.DataFrame({"participant_id": data["participant_id"], "trial_id": data["trial_id"],
                          "rt": data["rt"], "HSSM log-lik": ll.values[0, -1], "model.loglik": again}).head(8)
            """
        ),
        md(
            """
            ## 4. Model comparison over participants

            ### Why not trial-level LOO?

            PSIS-LOO approximates leaving out one *observation* and predicting it from the
            rest. That presumes the observations are exchangeable pieces of the likelihood:
            remove one, and the others are unaffected. Learning data break this. Trial `k`'s
            likelihood depends on the values built from trials `1..k-1`, and trial `k`'s choice
            and feedback shape every later trial's values. "Leaving out" trial `k` while its
            response still drives the later values is not a held-out prediction at all, and
            leaving its response out of the history changes the prediction of all later trials.
            The per-trial terms are sequentially dependent, not conditionally independent
            pieces, so trial-level LOO neither answers a meaningful predictive question nor
            satisfies the assumptions behind its standard errors.

            The natural exchangeable unit is the **participant**: given the (shared or
            population) parameters, participants are independent. Leaving one participant out
            asks "how well does the model predict a *new participant's whole sequence*?". So we
            sum the pointwise log-likelihood over each participant's rows and run PSIS-LOO over
            participants. (For questions about predicting the future of a sequence,
            leave-future-out cross-validation is the tool.)
            """
        ),
        code(
            """
            def participant_loglik(idata, data):
                \"\"\"A DataTree whose log-likelihood is summed per participant (obs dim: participant_id).\"\"\"
                ll = idata["log_likelihood"]["rt,response"]
                who = xr.DataArray(data["participant_id"].to_numpy(), dims="__obs__", name="participant_id")
                per = ll.groupby(who).sum()                                # (chain, draw, participant_id)
                return xr.DataTree.from_dict({
                    "posterior": idata["posterior"].to_dataset(),
                    "log_likelihood": xr.Dataset({"participant": per}),
                })


            trees = {name: participant_loglik(idata, data) for name, (_, _, idata) in fits.items()}
            print(dict(trees["DualRateRW"]["log_likelihood"]["participant"].sizes))
            loos = {name: az.loo(tree, pointwise=True) for name, tree in trees.items()}
            assert loos["DualRateRW"].elpd_i.dims == ("participant_id",)   # one term per participant
            loos["DualRateRW"]
            """
        ),
        code(
            """
            comparison = az.compare(trees)
            comparison
            """
        ),
        md(
            """
            `rlssm.fitting` packages these steps (`participant_log_likelihood`,
            `participant_loo`, `compare_participants`); it gives the same numbers.
            """
        ),
        code(
            """
            library = rlssm.fitting.compare_participants({name: idata for name, (_, _, idata) in fits.items()}, data)
            np.testing.assert_allclose(library.loc[comparison.index, "elpd"], comparison["elpd"])
            library[["rank", "elpd", "se", "elpd_diff", "dse", "weight"]]
            """
        ),
        md(
            """
            Per participant: who favours which model, and how reliable each importance-sampling
            estimate is. A Pareto k above arviz's threshold (0.7 for large posterior samples,
            lower for short chains like the small run's) means that participant's LOO estimate
            should be checked by refitting without them.
            """
        ),
        code(
            """
            per_participant = pd.DataFrame({
                "elpd RescorlaWagner": loos["RescorlaWagner"].elpd_i.to_series(),
                "elpd DualRateRW": loos["DualRateRW"].elpd_i.to_series(),
                "pareto k (DualRateRW)": loos["DualRateRW"].pareto_k.to_series(),
            })
            per_participant["difference"] = per_participant["elpd DualRateRW"] - per_participant["elpd RescorlaWagner"]
            per_participant.round(2)
            """
        ),
        md(
            """
            ### Hierarchical models

            With participant random effects, leaving a participant out also removes the data
            that informed *their own* parameters. PSIS then has to reweight draws from a
            posterior in which those parameters are pinned down by the very data left out,
            and the Pareto k values are typically high. Either integrate the participant's
            parameters out (the marginal likelihood of a new participant under the population
            distribution) or use K-fold cross-validation over participants, refitting the
            model K times (`model.to_hssm(data[~fold], ...)`).
            """
        ),
    ]
    return cells


# ====================================================================== 4. three-armed bandit
def three_armed():
    cells = [
        md(
            """
            # A three-armed bandit: a racing diffusion and a softmax, side by side

            Two-boundary models (DDM, angle) have two options. With more, each option gets its
            own accumulator: in the **racing diffusion model** (`rlssm.RDM`; Tillman, Van Zandt
            & Logan 2020) one Wald accumulator per option races to a common threshold, and the
            first to arrive gives both the choice and the response time. Its likelihood is
            exact. The most fitted RL model of all uses choices alone: a **softmax** over the
            values (`rlssm.Softmax`).

            This notebook simulates a three-armed bandit from an RL + RDM model, fits the
            hierarchical model to choices and response times, fits a softmax to the same
            choices (response times dropped), and compares what each recovers. Both are the same
            few lines: a learning rule, a mapping that gives one input per option, a decision
            model built with `n_options=3`.
            """
        ),
        code(SETUP),
        code(
            """
            if SMALL:
                N_PARTICIPANTS, N_TRIALS = 3, 40
                CHAINS, TUNE, DRAWS = 1, 25, 25
            else:
                N_PARTICIPANTS, N_TRIALS = 15, 150
                CHAINS, TUNE, DRAWS = 2, 500, 500
            """
        ),
        md(
            """
            ## 1. Two models of the same task

            `RaceScaling` gives accumulator *k* the drift `v_k = scaler * Q[k]` (ssm-simulators'
            RL race contract); `Values` passes the values on, and the softmax multiplies them by
            the inverse temperature `beta`. Options are coded `0, 1, 2` in the data.
            """
        ),
        code(
            """
            choices = (0, 1, 2)
            rdm_model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.RDM(n_options=3), rlssm.RaceScaling(), choices=choices)
            softmax_model = rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.Softmax(n_options=3), rlssm.Values(),
                                        choices=choices)
            print("RDM:    ", rdm_model.param_names)
            print("softmax:", softmax_model.param_names)
            """
        ),
        md(
            """
            ## 2. Simulate

            Arms pay Gaussian rewards with means 0.2, 0.5 and 0.8; each participant has their own
            learning rate and drift scale around the group values.
            """
        ),
        code(
            """
            env = rlssm.GaussianBandit(means=(0.2, 0.5, 0.8), sd=0.1)
            rng = np.random.default_rng(3)
            group = dict(rl_alpha=0.3, scaler=3.0, A=0.4, B=0.8, t=0.25)
            truth = {name: np.full(N_PARTICIPANTS, value) for name, value in group.items()}
            truth["rl_alpha"] = np.clip(rng.normal(0.3, 0.05, N_PARTICIPANTS), 0.05, 0.95)
            truth["scaler"] = rng.normal(3.0, 0.3, N_PARTICIPANTS)
            data = rdm_model.simulate(truth, env, n_participants=N_PARTICIPANTS, n_trials=N_TRIALS, seed=4)
            print(data.response.value_counts(normalize=True).sort_index().round(3).to_dict())
            data.head()
            """
        ),
        md(
            """
            The softmax model reads choices only: the same data without the `rt` column is valid
            for it (a choice-only model needs no response times).
            """
        ),
        code(
            """
            choice_data = data.drop(columns=["rt"])
            ll = softmax_model.loglik(choice_data, {"rl_alpha": 0.3, "beta": 5.0})
            assert np.isfinite(ll).all() and ll.shape == (len(data),)
            print(f"softmax log-likelihood at rl_alpha=0.3, beta=5: {ll.sum():.2f}")
            """
        ),
        md(
            """
            ## 3. Fit both hierarchically

            `rlssm.fitting.Hierarchical` builds the non-centred PyMC model with bounded links
            for any rlssm model; the race's non-decision time `t` is held below each
            participant's fastest response.
            """
        ),
        code(
            """
            fits, posteriors = {}, {}
            for name, model, frame in (("RDM", rdm_model, data), ("softmax", softmax_model, choice_data)):
                fits[name] = rlssm.fitting.Hierarchical(model, frame)
                start = time.perf_counter()
                posteriors[name] = fits[name].sample(chains=CHAINS, tune=TUNE, draws=DRAWS, seed=1)
                print(f"{name}: {time.perf_counter() - start:.0f} s")
            """
        ),
        code(
            """
            tables = {}
            for name, model in (("RDM", rdm_model), ("softmax", softmax_model)):
                names = rlssm.fitting.group_names(model, posteriors[name])
                table = rlssm.plots.group_summary(posteriors[name], list(names.values()))
                table.index = list(names)
                tables[name] = table
                print(name)
                print(table.round(3).to_string(), end="\\n\\n")
            """
        ),
        md(
            """
            Both recover the learning rate; the RDM's interval is narrower because response times
            carry information about the values too (a harder choice is also a slower one). The
            softmax's `beta` and the race's `scaler` are different quantities: each is the
            sensitivity to value differences of its own decision process.
            """
        ),
        code(
            """
            for name in ("RDM", "softmax"):
                row = tables[name].loc["rl_alpha"]
                print(f"{name:8s} rl_alpha: {row['mean']:.3f} [{row['lower']:.3f}, {row['upper']:.3f}]  "
                      f"(width {row['upper'] - row['lower']:.3f}; truth mean {truth['rl_alpha'].mean():.3f})")
            """
        ),
        md(
            """
            ## 4. Posterior predictive checks

            Fresh choices and feedback from the bandit under posterior draws (generative mode):
            choice proportions per option for both models, and the race's RT quantiles per
            option.
            """
        ),
        code(
            """
            n_draws = min(30, CHAINS * DRAWS)
            ppc = {name: model.posterior_predictive(fits[name], posteriors[name], mode="generative", env=env,
                                                    n_draws=n_draws, seed=2)
                   for name, model in (("RDM", rdm_model), ("softmax", softmax_model))}
            for name in ppc:
                fig = rlssm.plots.plot_choice_proportions(data, ppc[name], choices=choices, n_bins=5)
                fig.axes[0].set_title(f"{name}: choice proportions (bands: predictive 90%)")
            fig = rlssm.plots.plot_rt_quantiles_by_option(data, ppc["RDM"], choices=choices, n_bins=3)
            """
        ),
    ]
    return cells

# ====================================================================== 5. real data
def real_data_prl():
    cells = [
        md(
            """
            # Real data: reversal learning with response times, and fast guesses

            Every other notebook fits simulated data. This one fits real recordings:
            hBayesDM's probabilistic reversal-learning example (`prl_multipleB_exampleData.txt`,
            shipped with the `hbayesdm` source distribution; Ahn, Haines & Zhang 2017,
            *Computational Psychiatry* 1, 24-57): 3 participants x 3 blocks x 200 trials, two
            options, outcomes +25 / -25, the better option reversing within blocks, and response
            times in milliseconds.

            Real recordings hold responses the decision process did not produce. Here the fastest
            responses are 9, 14 and 16 ms, and one participant gives 70 responses faster than
            0.2 s. A diffusion model's density is 0 below the non-decision time `t`, so without a
            lapse process those guesses hold every participant's `t` below them. `rlssm.Lapse`
            mixes a lapse process into any decision model: with probability `p_outlier` the
            response time comes from a lapse density and the option is chosen at random.

            The *Real data* page of the docs reports the full-size fits made by
            `benchmarks/real_prl.py`.
            """
        ),
        code(SETUP),
        code(
            """
            if SMALL:  # the first block of each participant, one short chain
                CHAINS, TUNE, DRAWS, PPC_DRAWS = 1, 20, 30, 10  # PSIS-LOO needs 30 draws
            else:
                CHAINS, TUNE, DRAWS, PPC_DRAWS = 2, 500, 500, 100
            PATH = DATA_DIR / "prl_multipleB_exampleData.txt"
            """
        ),
        md(
            """
            ## 1. Screen the file, then load it

            `rlssm.screening.screen` (what `rlssm check` prints) names what a fit should not
            ignore. On the file as published it recognises hBayesDM's columns and asks for the
            loader; `rlssm.load_hbayesdm` reads them into rlssm's format (milliseconds to
            seconds, trials numbered across blocks, `block` kept so that values start again in
            each block).
            """
        ),
        code(
            """
            raw = pd.read_csv(PATH, sep="\\t")
            for finding in rlssm.screening.screen(raw):
                print(finding)
            data = rlssm.load_hbayesdm(PATH)
            # hBayesDM's reversal-learning models learn from the outcome's sign.
            data["feedback"] = np.sign(data["feedback"])
            if SMALL:
                data = data[data["block"] == data["block"].min()].reset_index(drop=True)
            print()
            for finding in rlssm.screening.screen(data):
                print(finding)
            data.head()
            """
        ),
        md(
            """
            ## 2. Three models of the same responses

            A dual-rate Rescorla-Wagner rule (values start at 0 in each block) and a DDM with
            `v = scaler * (Q[2] - Q[1])`; options are coded 1 and 2 in the file. The three
            models differ in their lapses only:

            * none;
            * HSSM's default lapse density, uniform on [0, 20] s;
            * fast guesses (Ollman's fast-guess model): uniform on [0, 0.3] s.

            Learning is the same in all three: the observed choice and feedback update the
            values on every trial, lapse or not.
            """
        ),
        code(
            """
            from rlssm.decision import UniformRT

            rule = rlssm.DualRateRW(initial_value=0.0)
            wide = {"p_outlier": (0.0, 0.5)}
            models = {
                "no lapse": rlssm.RLSSM(rule, rlssm.DDM(), choices=(1, 2)),
                "lapse U(0, 20)": rlssm.RLSSM(rule, rlssm.Lapse(rlssm.DDM()), choices=(1, 2), bounds=wide),
                "fast guesses": rlssm.RLSSM(rule, rlssm.Lapse(rlssm.DDM(), rt=UniformRT(0.0, 0.3)),
                                            choices=(1, 2), bounds=wide),
            }
            for name, model in models.items():
                print(f"{name:15s}", model.param_names)
            """
        ),
        md(
            """
            ## 3. Fit each hierarchically

            Without a lapse, building the fit warns: it names each participant's implausibly fast
            responses and the remedies.
            """
        ),
        code(
            """
            fits, posteriors = {}, {}
            for name, model in models.items():
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", UserWarning)
                    fits[name] = rlssm.fitting.Hierarchical(model, data)
                for w in caught:
                    if "implausibly fast" in str(w.message):
                        print(f"{name}: {str(w.message)[:300]} ...")
                start = time.perf_counter()
                posteriors[name] = fits[name].sample(chains=CHAINS, tune=TUNE, draws=DRAWS, seed=1,
                                                     progressbar=False)
                divergent = int(posteriors[name]["sample_stats"]["diverging"].sum())
                print(f"{name}: {time.perf_counter() - start:.0f} s, {divergent} divergent draws")
            """
        ),
        md(
            """
            ## 4. The non-decision time and the lapse probability, by participant
            """
        ),
        code(
            """
            rows = []
            for name, fit in fits.items():
                draws = fit.participant_draws(posteriors[name])
                for i, who in enumerate(fit.participants):
                    row = {"model": name, "participant": who, "t": draws["t"][:, :, i].mean()}
                    if "p_outlier" in draws:
                        row["p_outlier"] = draws["p_outlier"][:, :, i].mean()
                    rows.append(row)
            pd.DataFrame(rows).round(3)
            """
        ),
        md(
            """
            ## 5. Predictive checks against the data

            Conditional mode: each trial simulated from the participant's observed history.
            Response-time quantiles by participant, and the switch rate on the trials after each
            reversal (the better option of a trial is the chosen one where `choice.ACC` is 1).
            """
        ),
        code(
            """
            from rlssm.simulation import rt_quantile_check, switch_rate_check, trials_since_reversal

            better = np.where(data["choice.ACC"] == 1, data["response"], 3 - data["response"])
            since = trials_since_reversal(data.assign(correct_option=better))
            for name, model in models.items():
                ppc = model.posterior_predictive(fits[name], posteriors[name], mode="conditional",
                                                 n_draws=PPC_DRAWS, seed=2)
                rtq = rt_quantile_check(data, ppc)
                switch = switch_rate_check(data, ppc, since, after=5)
                print(f"{name}: rt quantiles inside their 90% intervals: {int(rtq['inside'].sum())}/{len(rtq)}; "
                      f"switch rates after reversals inside: {int(switch['inside'].sum())}/{len(switch)}")
            rtq.round(3)
            """
        ),
        md(
            """
            ## 6. Compare the models (PSIS-LOO over trials)

            All three are densities over (response time, option), so their pointwise
            log-likelihoods compare directly.
            """
        ),
        code(
            """
            import arviz as az

            loo = {}
            for name, fit in fits.items():
                ll = fit.pointwise_log_likelihood(posteriors[name])["loglik"].values
                loo[name] = az.from_dict({"posterior": {"x": np.zeros(ll.shape[:2])}, "log_likelihood": {"loglik": ll}})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = az.compare(loo)
            table
            """
        ),
    ]
    return cells


NOTEBOOKS = {
    "seed_workflow.ipynb": seed_workflow,
    "custom_rule_ppc.ipynb": custom_rule_ppc,
    "ragged_blocks.ipynb": ragged_blocks,
    "three_armed_bandit.ipynb": three_armed,
    "real_data_prl.ipynb": real_data_prl,
}


def main() -> None:
    for name, build in NOTEBOOKS.items():
        nb = new_notebook(cells=build(), metadata={"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO})
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
