"""Simulation from an [`RLSSM`][rlssm.RLSSM]: closed loop and one step ahead.

Two ways to simulate data from a model:

Generative (closed loop), [`simulate`][rlssm.simulate.simulate] and
[`simulate_draws`][rlssm.simulate.simulate_draws]
    Each trial: the current values go through the mapping to decision parameters, the
    decision model samples ``(rt, choice)``, the environment answers the chosen option
    with feedback, and the learning rule updates the values. Choices and feedback are
    the model's own: the history is simulated.

Conditional (one step ahead), [`simulate_conditional`][rlssm.simulate.simulate_conditional]
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

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax

from ._errors import DataError
from ._precision import float_dtype, precision_scope
from ._types import Array, Float, Int, Key, PRNGKeyArray
from .data import TrialLayout
from ._params import as_numbers as _as_numbers
from ._params import check_names as _check_names
from ._params import series_by_label as _series_by_label
from .environments import AbstractEnvironment
from .model import RL_PREFIX, RLSSM, _trials, _Trials

# Inputs of a learning rule that a bandit environment produces.
_ENV_FIELDS = ("feedback",)


# ---------------------------------------------------------------------- checks
def _check_loop(model: RLSSM, env: AbstractEnvironment) -> None:
    """Can ``env`` drive ``model``'s learning rule in a closed loop?"""
    if not isinstance(env, AbstractEnvironment):
        raise TypeError(f"env must be an rlssm.AbstractEnvironment, got {type(env).__name__}")
    if env.n_options != model.n_options:
        raise ValueError(
            f"{type(env).__name__} has {env.n_options} options but the model has "
            f"{model.n_options} (choices={model.choices!r})"
        )
    rule = model.learning_rule
    other = [f for f in rule.fields if f not in _ENV_FIELDS]
    if other:
        raise ValueError(
            f"{type(rule).__name__} reads the data field(s) {other}, which a closed-loop "
            f"simulation cannot produce (an environment provides only {_ENV_FIELDS}); "
            "use simulate_conditional with data that holds those columns"
        )


def _check_size(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _generative_params(
    model: RLSSM, params: Mapping[str, Any], n_participants: int, draws: bool
) -> tuple[dict[str, np.ndarray], int]:
    """Every parameter as a ``(D, P)`` float array; ``D = 1`` unless ``draws``."""
    names = model.param_names
    _check_names(params, names)
    labels = tuple(range(n_participants))
    resolved: dict[str, np.ndarray] = {}
    n_draws: int | None = None
    for name in names:
        value = params[name]
        if isinstance(value, pd.Series):
            # Labelled per-participant values, shared by all draws.
            resolved[name] = _series_by_label(name, value, labels)[None, :]
            continue
        arr = _as_numbers(name, value)
        if arr.ndim == 0:
            resolved[name] = arr.reshape(1, 1)
        elif not draws:
            if arr.shape != (n_participants,):
                raise DataError(
                    f"params[{name!r}] has shape {arr.shape}; expected a scalar or one value "
                    f"per participant ({n_participants},)"
                )
            resolved[name] = arr[None, :]
        else:
            if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] != n_participants):
                raise DataError(
                    f"params[{name!r}] has shape {arr.shape}; expected a scalar, (n_draws,) or "
                    f"(n_draws, {n_participants}) values"
                )
            if n_draws is not None and arr.shape[0] != n_draws:
                raise DataError(
                    f"params[{name!r}] has {arr.shape[0]} draws but other parameters have {n_draws}"
                )
            n_draws = arr.shape[0]
            resolved[name] = arr if arr.ndim == 2 else arr[:, None]
    n_draws = n_draws or 1
    shape = (n_draws, n_participants)
    return {k: np.broadcast_to(v, shape) for k, v in resolved.items()}, n_draws


# ---------------------------------------------------------------------- closed loop
class _LoopOutput(eqx.Module):
    """Per-trial outputs of the closed loop, each ``(trials, batch)``."""

    rt: Array
    option: Array
    feedback: Array
    missed: Array
    correct: Array


def _option_index(choice: Array, coding: Sequence[int]) -> Array:
    """Position of each decision-model response in its coding ``choices`` (int32)."""
    codes = jnp.asarray(coding, dtype=jnp.int32)
    hits = choice.astype(jnp.int32)[..., None] == codes
    return jnp.argmax(hits, axis=-1).astype(jnp.int32)


@eqx.filter_jit
def _closed_loop(
    model: RLSSM, env: AbstractEnvironment, params: dict[str, Array], key: PRNGKeyArray, n_trials: int
) -> _LoopOutput:
    """Scan the closed loop over trials for a batch of simulated participants.

    ``params`` holds ``(batch,)`` arrays. The per-participant parts (mapping, reward,
    update) are vmapped inside the scan step, but the decision sampler is called once
    per trial on the whole batch: samplers built on a while-loop (Angle) then test a
    single, unbatched loop condition instead of a vmapped one.
    """
    rule, mapping, decision = model.learning_rule, model.mapping, model.decision_model
    dtype = float_dtype(model.precision)
    batch = next(iter(params.values())).shape[0]
    rl = {n: params[RL_PREFIX + n] for n in rule.params}
    mp = {n: params[n] for n in mapping.params}
    fixed = {n: params[n] for n in decision.param_names if n not in mapping.outputs}
    uses_feedback = "feedback" in rule.fields

    def update(values, option, feedback, rl_p):
        inputs = {"feedback": feedback} if uses_feedback else {}
        return rule.update(values, option, **inputs, **rl_p)

    def step(values: Array, x: tuple[Array, PRNGKeyArray]):
        trial, key = x
        key_decision, key_env = jax.random.split(key)
        dparams = fixed | jax.vmap(mapping)(values, **mp)
        rt, choice = decision.sample(key_decision, **dparams)
        missed = ~jnp.isfinite(rt)
        option = jnp.where(missed, 0, _option_index(choice, decision.choices))
        env_keys = jax.random.split(key_env, batch)
        feedback = jax.vmap(env.reward, in_axes=(0, None, 0))(env_keys, trial, option).astype(dtype)
        new = jax.vmap(update)(values, option, feedback, rl)
        # A missed trial teaches nothing.
        values = jnp.where(missed[:, None], values, new)
        correct = option == env.best_option(trial)
        return values, _LoopOutput(rt, option, feedback, missed, correct)

    init = jnp.broadcast_to(rule.init(model.n_options, dtype), (batch, model.n_options))
    xs = (jnp.arange(n_trials, dtype=jnp.int32), jax.random.split(key, n_trials))
    _, out = lax.scan(step, init, xs)
    return out


def _response_column(choices: Sequence[Hashable], option: np.ndarray, missed: np.ndarray) -> np.ndarray:
    """Option indices as the model's response values; NaN where missed.

    Numeric codings give a float column (NaN-able, as the data format wants), others an
    object column.
    """
    numeric = all(isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool)
                  for c in choices)
    table = np.asarray(choices, dtype=float if numeric else object)
    out = table[np.where(missed, 0, option)]
    if numeric:
        return np.where(missed, np.nan, out)
    out = out.copy()
    out[missed] = np.nan
    return out


def _run_generative(
    model: RLSSM,
    params: Mapping[str, Any],
    env: AbstractEnvironment,
    n_participants: int,
    n_trials: int,
    seed: int,
    draws: bool,
) -> pd.DataFrame:
    _check_loop(model, env)
    n_participants = _check_size("n_participants", n_participants)
    n_trials = _check_size("n_trials", n_trials)
    grid, n_draws = _generative_params(model, params, n_participants, draws)
    dtype = float_dtype(model.precision)
    with precision_scope(model.precision):
        flat = {k: jnp.asarray(v.reshape(-1), dtype=dtype) for k, v in grid.items()}
        out = _closed_loop(model, env, flat, jax.random.key(seed), n_trials)
        # (trials, draws * participants) -> rows ordered draw, participant, trial.
        arrays = {k: np.asarray(getattr(out, k)).T for k in ("rt", "option", "feedback", "missed", "correct")}
    missed = arrays["missed"].reshape(-1)
    nan_if_missed = lambda x: np.where(missed, np.nan, x.reshape(-1).astype(np.float64))  # noqa: E731
    n_rows = n_draws * n_participants * n_trials
    columns: dict[str, np.ndarray] = {}
    if draws:
        columns["draw"] = np.repeat(np.arange(n_draws), n_participants * n_trials)
    columns["participant_id"] = np.tile(np.repeat(np.arange(n_participants), n_trials), n_draws)
    columns["trial_id"] = np.tile(np.arange(n_trials), n_draws * n_participants)
    columns["response"] = _response_column(model.choices, arrays["option"].reshape(-1), missed)
    columns["rt"] = nan_if_missed(arrays["rt"])
    columns["feedback"] = nan_if_missed(arrays["feedback"])
    columns["correct"] = nan_if_missed(arrays["correct"])
    return pd.DataFrame(columns, index=pd.RangeIndex(n_rows))


def simulate(
    model: RLSSM,
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
        The model; its learning rule may read only ``feedback`` (what an environment
        produces).
    params
        Every name in ``model.param_names`` mapped to a scalar, a 1-D array of
        ``n_participants`` values, or a ``pandas.Series`` indexed by ``0 .. n-1``.
        Values are used as given (no bounds check), so they must be valid for the
        decision model's sampler.
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
        ``feedback`` and ``correct`` (1.0 where the chosen option was
        ``env.best_option(trial)``, else 0.0). Trials where the sampler never decided
        (``rt = inf``) are missed: NaN in response, rt, feedback and correct, and no
        update.

    Raises
    ------
    DataError
        If ``params`` lacks or has unknown names, wrong shapes, or non-finite values.
    ValueError
        If ``env`` does not match the model or the learning rule needs fields other
        than ``feedback``.
    """
    return _run_generative(model, params, env, n_participants, n_trials, seed, draws=False)


def simulate_draws(
    model: RLSSM,
    params_draws: Mapping[str, Any],
    env: AbstractEnvironment,
    n_participants: int,
    n_trials: int,
    seed: int = 0,
) -> pd.DataFrame:
    """[`simulate`][rlssm.simulate.simulate] for many parameter draws at once (one jit).

    The generative posterior predictive: every draw simulates its own
    ``n_participants x n_trials`` data set, all draws in one batched closed loop.

    Parameters
    ----------
    model, env, n_participants, n_trials, seed
        As in [`simulate`][rlssm.simulate.simulate].
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
    return _run_generative(model, params_draws, env, n_participants, n_trials, seed, draws=True)


# ---------------------------------------------------------------------- conditional
@eqx.filter_jit
def _conditional(
    model: RLSSM, trials: _Trials, rows: dict[str, Array], keys: Key[Array, " draws"], n_states: int
) -> tuple[Array, Array]:
    """One-step-ahead draws for ``(D, N)`` row parameters: ``(D, N)`` rt and option."""
    decision = model.decision_model

    def one_draw(p: dict[str, Array], key: PRNGKeyArray) -> tuple[Array, Array]:
        # Padding cells read row 0's parameters: valid values, never read back.
        grid = {k: v[trials.grid_row] for k, v in p.items()}
        values = model._trial_values(trials, grid, n_states)
        dparams = model._decision_params(values, grid)
        # The values do not depend on the draws, so all trials sample in one batch
        # (flattened: a sampler need only handle 1-D parameters).
        shape = trials.option.shape
        rt, choice = decision.sample(key, **{k: v.reshape(-1) for k, v in dparams.items()})
        rt, choice = rt.reshape(shape), choice.reshape(shape)
        option = _option_index(choice, decision.choices)
        missed = ~trials.observed | ~jnp.isfinite(rt)
        rt = jnp.where(missed, jnp.nan, rt)
        option = jnp.where(missed, -1, option)
        return rt.reshape(-1)[trials.row_position], option.reshape(-1)[trials.row_position]

    return jax.vmap(one_draw)(rows, keys)


def _as_key(key: PRNGKeyArray | int) -> PRNGKeyArray:
    if isinstance(key, jax.Array):
        return key
    return jax.random.key(int(key))


def sample_conditional_rows(
    model: RLSSM,
    data: pd.DataFrame | TrialLayout,
    params_rows: Mapping[str, Any],
    key: PRNGKeyArray | int,
) -> tuple[Float[np.ndarray, "*draws rows"], Int[np.ndarray, "*draws rows"]]:
    """One-step-ahead ``(rt, option)`` for every row of ``data``: the array interface.

    Values follow the observed history of ``data`` (as in the likelihood); each
    observed row gets a fresh draw from the decision model given them.

    Parameters
    ----------
    model
        The model.
    data
        The observed data, or its [`TrialLayout`][rlssm.data.TrialLayout] from
        ``model.prepare(data)`` (to avoid preparing it again).
    params_rows
        Every name in ``model.param_names`` mapped to a scalar, an ``(N,)`` array (one
        value per row of ``data``, in its order) or a ``(D, N)`` array (``D`` draws).
        If any value has a draw axis, all arrays with one must agree on ``D``.
    key
        A JAX PRNG key (or an integer seed).

    Returns
    -------
    tuple of numpy arrays
        ``rt`` (float, the model's precision) and ``option`` (int32 option index,
        ``0 .. n_options-1``; map with ``model.choices``), each ``(N,)``, or ``(D, N)``
        with a draw axis. Rows missed in ``data``, and draws where the sampler never
        decided, are ``rt = NaN`` and ``option = -1``.
    """
    layout = data if isinstance(data, TrialLayout) else model.prepare(data)
    names = model.param_names
    _check_names(params_rows, names)
    n = layout.n_rows
    arrays = {k: _as_numbers(k, params_rows[k]) for k in names}
    n_draws: int | None = None
    for name, arr in arrays.items():
        if arr.ndim == 0:
            continue
        if arr.ndim > 2 or arr.shape[-1] != n:
            raise DataError(
                f"params_rows[{name!r}] has shape {arr.shape}; expected a scalar, ({n},) "
                f"or (n_draws, {n}) values (one per row of data)"
            )
        if arr.ndim == 2:
            if n_draws is not None and arr.shape[0] != n_draws:
                raise DataError(
                    f"params_rows[{name!r}] has {arr.shape[0]} draws but other parameters have {n_draws}"
                )
            n_draws = arr.shape[0]
    d = n_draws or 1
    dtype = float_dtype(model.precision)
    with precision_scope(model.precision):
        trials = _trials(layout, model.learning_rule.fields, dtype)
        rows = {k: jnp.asarray(np.broadcast_to(v, (d, n)), dtype=dtype) for k, v in arrays.items()}
        keys = jax.random.split(_as_key(key), d)
        rt, option = _conditional(model, trials, rows, keys, layout.n_states)
        rt, option = np.asarray(rt), np.asarray(option)
    if n_draws is None:
        return rt[0], option[0]
    return rt, option


def _conditional_params(
    model: RLSSM, params: Mapping[str, Any], layout: TrialLayout, n_draws: int | None
) -> dict[str, np.ndarray]:
    """Every parameter as per-row values: ``(N,)``, or ``(D, N)`` / scalar with draws."""
    names = model.param_names
    _check_names(params, names)
    n_part, n_rows = layout.n_participants, layout.n_rows
    by_row = layout.row_participant
    out: dict[str, np.ndarray] = {}

    def per_unit(name: str, arr: np.ndarray) -> np.ndarray:
        """The last axis as participants or rows, taken to rows."""
        size = arr.shape[-1]
        if size == n_part and n_part == n_rows:
            raise DataError(
                f"params[{name!r}] has length {n_part}, which is both the number of "
                "participants and of rows: pass a pandas.Series indexed by participant_id "
                "for per-participant values"
            )
        if size == n_part:
            return arr[..., by_row]
        if size == n_rows:
            return arr
        lead = "" if arr.ndim == 1 else f"({arr.shape[0]}, ...) "
        raise DataError(
            f"params[{name!r}] has shape {arr.shape}; expected {lead}{n_part} values (one per "
            f"participant, sorted participant_id order) or {n_rows} (one per row of data)"
        )

    for name in names:
        value = params[name]
        if isinstance(value, pd.Series):
            # Labelled per-participant values (shared by all draws).
            out[name] = _series_by_label(name, value, layout.participants)[by_row]
            continue
        arr = _as_numbers(name, value)
        if arr.size == 1 and (n_draws is None or arr.ndim == 0):
            out[name] = arr.reshape(())
        elif n_draws is None:
            if arr.ndim != 1:
                raise DataError(f"params[{name!r}] has shape {arr.shape}; expected a scalar or a 1-D array")
            out[name] = per_unit(name, arr)
        else:
            if arr.shape[0] != n_draws or arr.ndim > 2:
                raise DataError(
                    f"params[{name!r}] has shape {arr.shape}; with n_draws={n_draws} expected a "
                    f"scalar, ({n_draws},), ({n_draws}, {n_part}) or ({n_draws}, {n_rows})"
                )
            out[name] = arr[:, None] * np.ones(n_rows) if arr.ndim == 1 else per_unit(name, arr)
    if n_draws is not None:
        # Give the row function an explicit draw axis even when everything is shared.
        out = {k: np.broadcast_to(v, (n_draws, n_rows)) for k, v in out.items()}
    return out


def simulate_conditional(
    model: RLSSM,
    data: pd.DataFrame,
    params: Mapping[str, Any],
    seed: int = 0,
    n_draws: int | None = None,
) -> pd.DataFrame:
    """One-step-ahead simulation along the observed history of ``data``.

    The values before each trial are those the likelihood uses (the observed responses
    and feedback drive the learning rule); at every observed trial a fresh
    ``(rt, response)`` is drawn from the decision model given them.

    Parameters
    ----------
    model
        The model.
    data
        Observed data in the data format (any row order).
    params
        Every name in ``model.param_names`` mapped to a scalar, a per-participant
        array or Series (sorted ``participant_id`` order), or a per-row array, as in
        [`RLSSM.loglik`][rlssm.RLSSM.loglik]. With ``n_draws``, arrays carry a leading
        draw axis: ``(n_draws,)``, ``(n_draws, n_participants)`` or
        ``(n_draws, len(data))``; scalars and Series are shared by all draws.
    seed
        Seed of ``jax.random.key``.
    n_draws
        Number of parameter draws (``None``: a single set of parameters, no ``draw``
        column).

    Returns
    -------
    pandas.DataFrame
        Aligned with the rows of ``data`` (same index, same order): ``participant_id``,
        ``trial_id``, ``response`` (a value of ``model.choices``), ``rt`` and
        ``feedback`` (the observed one). With ``n_draws``, a leading ``draw`` column
        and ``n_draws * len(data)`` rows, draw by draw, each block aligned with
        ``data`` (the index repeats ``data``'s). Trials missed in ``data`` and draws
        where the sampler never decided have NaN response and rt.
    """
    if n_draws is not None:
        n_draws = _check_size("n_draws", n_draws)
    layout = model.prepare(data)
    rows = _conditional_params(model, params, layout, n_draws)
    rt, option = sample_conditional_rows(model, layout, rows, jax.random.key(seed))
    d = 1 if n_draws is None else n_draws
    rt, option = rt.reshape(d, -1), option.reshape(d, -1)
    missed = option.reshape(-1) < 0
    columns: dict[str, Any] = {}
    if n_draws is not None:
        columns["draw"] = np.repeat(np.arange(d), len(data))
    columns["participant_id"] = np.tile(data["participant_id"].to_numpy(), d)
    columns["trial_id"] = np.tile(data["trial_id"].to_numpy(), d)
    columns["response"] = _response_column(model.choices, option.reshape(-1), missed)
    columns["rt"] = rt.reshape(-1).astype(np.float64)
    feedback = (
        np.asarray(pd.to_numeric(data["feedback"]), dtype=float)
        if "feedback" in data.columns
        else np.full(len(data), np.nan)
    )
    columns["feedback"] = np.tile(feedback, d)
    index = data.index if n_draws is None else data.index[np.tile(np.arange(len(data)), d)]
    return pd.DataFrame(columns, index=index)
