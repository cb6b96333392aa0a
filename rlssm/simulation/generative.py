"""Simulation from an [`RLSSM`][rlssm.RLSSM]: closed loop and one step ahead.

Two ways to simulate data from a model:

Generative (closed loop), [`simulate`][rlssm.simulation.simulate] and
[`simulate_draws`][rlssm.simulation.simulate_draws]
    Each trial: the current values go through the mapping to decision parameters, the
    decision model samples ``(rt, choice)``, the environment answers the chosen option
    with feedback, and the learning rule updates the values. Choices and feedback are
    the model's own: the history is simulated.

Conditional (one step ahead), [`simulate_conditional`][rlssm.simulation.simulate_conditional]
    The *observed* history (responses and feedback of ``data``) drives the values,
    exactly as in the likelihood; at each observed trial a fresh ``(rt, response)`` is
    drawn given those values. The output aligns with the rows of ``data``. This is
    what HSSM's posterior predictive draws use.

Missed trials
-------------
A sampler that never reaches a boundary within its horizon reports ``rt = inf``
(see [`AbstractDecisionModel.sample`][rlssm.AbstractDecisionModel.sample]). The
simulators record such a trial as *missed*, as in the data format: ``response``,
``rt``, ``feedback`` and ``correct`` are NaN and the values are not updated. In
conditional simulation, trials missed in ``data`` stay missed in the output.

Randomness is JAX's: an integer ``seed`` becomes ``jax.random.key(seed)``, so the same
seed gives the same data (on the same platform and precision).
"""


from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax

from .._precision import float_dtype, precision_scope
from .._types import Array, PRNGKeyArray
from ..data import response_column
from ..engine import (
    DERIVED_FIELDS,
    Composition,
    Readout,
    add_draw_axis,
    check_computed,
    check_values,
    cue_inputs,
    decision_params,
    draw_arrays,
    initial_state,
    option_index,
    readout,
    resolve,
    rule_params,
    update_state,
)
from ..environments import AbstractEnvironment

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["simulate", "simulate_draws"]


# ---------------------------------------------------------------------- checks
def check_loop(comp: Composition, choices: tuple, env: AbstractEnvironment) -> None:
    """Can ``env`` drive the components in a closed loop?"""
    if not isinstance(env, AbstractEnvironment):
        raise TypeError(f"env must be an rlssm.AbstractEnvironment, got {type(env).__name__}")
    if env.n_options != comp.n_options:
        raise ValueError(
            f"{type(env).__name__} has {env.n_options} options but the model has "
            f"{comp.n_options} (choices={choices!r})"
        )
    rule, mapping = comp.learning_rule, comp.mapping
    cues = [f for f in rule.cues if f not in DERIVED_FIELDS]
    if cues:
        raise ValueError(
            f"{type(rule).__name__} reads the data field(s) {cues} before each choice, which a "
            "closed-loop simulation cannot produce; use simulate_conditional with data that "
            "holds those columns"
        )
    other = [f for f in rule.fields if f not in (*env.fields, *DERIVED_FIELDS)]
    if other:
        raise ValueError(
            f"{type(rule).__name__} reads the data field(s) {other}, which a closed-loop "
            f"simulation in {type(env).__name__} cannot produce (it produces {env.fields}); "
            "use simulate_conditional with data that holds those columns"
        )
    if [f for f in mapping.fields if f not in DERIVED_FIELDS]:
        raise ValueError(
            f"{type(mapping).__name__} reads the data field(s) {list(mapping.fields)} before each "
            "choice, which a closed-loop simulation cannot produce; use simulate_conditional "
            "with data that holds those columns"
        )


def check_size(name: str, n: object) -> int:
    """``n`` as a positive integer, else ``ValueError`` naming it."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


# ---------------------------------------------------------------------- closed loop
class LoopOutput(eqx.Module):
    """Per-trial outputs of the closed loop, each ``(trials, batch)``."""

    rt: Array
    option: Array
    fields: dict[str, Array]
    missed: Array
    correct: Array
    computed: dict[str, Array]


@eqx.filter_jit
def closed_loop(
    comp: Composition, env: AbstractEnvironment, params: dict[str, Array], key: PRNGKeyArray, n_trials: int
) -> LoopOutput:
    """Scan the closed loop over trials for a batch of simulated participants.

    ``params`` holds ``(batch,)`` arrays (model names). The per-participant parts
    (mapping, outcome, update) are vmapped inside the scan step, but the decision
    sampler is called once per trial on the whole batch: samplers built on a
    while-loop (Angle) then test a single, unbatched loop condition instead of a
    vmapped one.
    """
    decision = comp.decision_model
    dtype = next(iter(params.values())).dtype
    batch = next(iter(params.values())).shape[0]
    rl = rule_params(comp, params)

    def step(state: Any, x: tuple[Array, PRNGKeyArray]):
        trial, key = x
        key_decision, key_env = jax.random.split(key)
        index = jnp.broadcast_to(trial.astype(dtype), (batch,))
        seen: Readout = readout(comp, state, cue_inputs(comp, {"trial_index": index}, rl), batch_dims=1)
        dparams = decision_params(comp, seen, {"trial_index": index}, params, batch_dims=1)
        rt, choice = decision.sample(key_decision, **dparams)
        missed = jnp.isposinf(rt)  # undecided; NaN rt is a choice-only draw
        option = jnp.where(missed, 0, option_index(choice, decision.choices))
        env_keys = jax.random.split(key_env, batch)
        produced = jax.vmap(env.outcome, in_axes=(0, None, 0))(env_keys, trial, option)
        produced = {k: v.astype(dtype) for k, v in produced.items()}
        # A missed trial teaches nothing.
        update = lambda s, o, obs, f, p: update_state(comp, s, o, obs, f, p)  # noqa: E731
        state = jax.vmap(update)(state, option, ~missed, produced | {"trial_index": index}, rl)
        correct = option == env.best_option(trial)
        computed = {k: dparams[k] for k in comp.computed}  # for the domain check
        return state, LoopOutput(rt, option, produced, missed, correct, computed)

    init = jax.vmap(lambda p: initial_state(comp, dtype, p))(rl)
    xs = (jnp.arange(n_trials, dtype=jnp.int32), jax.random.split(key, n_trials))
    _, out = lax.scan(step, init, xs)
    return out


def run_generative(
    model: "RLSSM",
    params: Mapping[str, Any],
    env: AbstractEnvironment,
    n_participants: int,
    n_trials: int,
    seed: int,
    draws: bool,
) -> pd.DataFrame:
    """`simulate` (``draws=False``) and `simulate_draws` (``draws=True``)."""
    comp = model.composition
    check_loop(comp, model.choices, env)
    n_participants = check_size("n_participants", n_participants)
    n_trials = check_size("n_trials", n_trials)
    labels = tuple(range(n_participants))
    resolved = resolve(params, comp.param_names, labels, draws=draws, per_row=False)
    check_values(comp, resolved, labels, draws=draws)
    if not draws:
        resolved = add_draw_axis(resolved)
    arrays, _ = draw_arrays(resolved)
    n_draws = next(iter(arrays.values())).shape[0]
    shape = (n_draws, n_participants)
    dtype = float_dtype(model.precision)
    with precision_scope(model.precision):
        flat = {k: jnp.asarray(np.broadcast_to(v, shape).reshape(-1), dtype=dtype) for k, v in arrays.items()}
        out = closed_loop(comp, env, flat, jax.random.key(seed), n_trials)
        # (trials, draws * participants) -> rows ordered draw, participant, trial.
        missed = np.asarray(out.missed).T.reshape(-1)
        option = np.asarray(out.option).T.reshape(-1)
        grids = {"rt": out.rt, **out.fields, "correct": out.correct}
        flat_out = {k: np.asarray(v).T.reshape(-1).astype(np.float64) for k, v in grids.items()}
        # (trials, draws * participants) -> (draws, participants, trials)
        computed = {k: np.asarray(v).T.reshape(*shape, n_trials) for k, v in out.computed.items()}
    if computed:

        def describe(index: tuple[int, ...]) -> str:
            d, p, k = index
            return (f"draw {d}, " if draws else "") + f"participant {p}, trial {k}"

        check_computed(comp, computed, np.ones((*shape, n_trials), dtype=bool), describe)
    n_rows = n_draws * n_participants * n_trials
    columns: dict[str, np.ndarray] = {}
    if draws:
        columns["draw"] = np.repeat(np.arange(n_draws), n_participants * n_trials)
    columns["participant_id"] = np.tile(np.repeat(np.arange(n_participants), n_trials), n_draws)
    columns["trial_id"] = np.tile(np.arange(n_trials), n_draws * n_participants)
    columns["response"] = response_column(model.choices, option, missed)
    columns |= {k: np.where(missed, np.nan, v) for k, v in flat_out.items() if k != "correct"}
    columns["correct"] = np.where(missed, np.nan, flat_out["correct"])
    return pd.DataFrame(columns, index=pd.RangeIndex(n_rows))


def simulate(
    model: "RLSSM",
    params: Mapping[str, Any],
    env: AbstractEnvironment,
    n_participants: int,
    n_trials: int,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate the closed loop: values -> decision -> (rt, choice) -> feedback -> update.

    Parameters
    ----------
    model
        The model; its learning rule may read only the fields ``env`` produces
        (``env.fields``: ``feedback``, and ``feedback_unchosen`` for a bandit with
        ``complete_feedback=True``).
    params
        Every name in ``model.param_names`` mapped to a scalar, a 1-D array of
        ``n_participants`` values, or a ``pandas.Series`` indexed by ``0 .. n-1``.
        Values may lie outside the default bounds but not outside the components'
        domains (see [`Domain`][rlssm.engine.Domain]).
    env
        The task, with ``model.n_options`` options.
    n_participants, n_trials
        Size of the simulated data set (every participant has ``n_trials`` trials).
    seed
        Seed of ``jax.random.key``; the same seed gives the same data.

    Returns
    -------
    pandas.DataFrame
        One row per trial, ordered by participant then trial: ``participant_id``
        (``0 .. n-1``), ``trial_id`` (``0 .. n_trials-1``), ``response`` (a value of
        ``model.choices``: float for numeric codings, object otherwise), ``rt``,
        one column per name in ``env.fields`` (``feedback``, ...) and ``correct``
        (1.0 where the chosen option was ``env.best_option(trial)``, else 0.0). Trials
        where the sampler never decided (``rt = inf``) are missed: NaN in response, rt,
        the env's fields and correct, and no update.

    Raises
    ------
    DataError
        If ``params`` lacks or has unknown names, wrong shapes, non-finite values or
        values outside a component's domain, or if the mapping computes a decision
        parameter outside the decision model's domain.
    ValueError
        If ``env`` does not match the model or the learning rule needs fields
        ``env`` does not produce.
    """
    return run_generative(model, params, env, n_participants, n_trials, seed, draws=False)


def simulate_draws(
    model: "RLSSM",
    params_draws: Mapping[str, Any],
    env: AbstractEnvironment,
    n_participants: int,
    n_trials: int,
    seed: int = 0,
) -> pd.DataFrame:
    """[`simulate`][rlssm.simulation.simulate] for many parameter draws at once (one jit).

    The generative posterior predictive: every draw simulates its own
    ``n_participants x n_trials`` data set, all draws in one batched closed loop.

    Parameters
    ----------
    model, env, n_participants, n_trials, seed
        As in [`simulate`][rlssm.simulation.simulate].
    params_draws
        Every name in ``model.param_names`` mapped to an array with a leading draw axis:
        ``(n_draws,)`` (one value per draw) or ``(n_draws, n_participants)``; a scalar
        or a ``pandas.Series`` indexed by ``0 .. n-1`` is shared by all draws. All
        arrays must agree on ``n_draws``.

    Returns
    -------
    pandas.DataFrame
        The columns of `simulate` preceded by ``draw`` (``0 .. n_draws-1``); rows
        ordered by draw, participant, trial.
    """
    return run_generative(model, params_draws, env, n_participants, n_trials, seed, draws=True)
