"""Conditional (one step ahead) simulation along an observed history.

The *observed* history (responses and fields of the data) drives the learning rule
exactly as in the likelihood; at each observed trial a fresh ``(rt, response)`` is drawn
given the rule's state before the trial. The output aligns with the rows of the data:
this is what HSSM's posterior predictive draws use. Trials missed in the data stay
missed; a draw where the sampler never decided (``rt = inf``) is missed too.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._errors import DataError
from .._precision import float_dtype, precision_scope
from .._types import Array, Float, Int, Key, PRNGKeyArray
from ..data import TrialLayout, response_column
from ..engine import (
    Composition,
    Resolved,
    Trials,
    Unit,
    add_draw_axis,
    as_numbers,
    check_names,
    check_values,
    decide_grid,
    draw_arrays,
    one_draw,
    option_index,
    resolve,
)
from .generative import check_size

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["sample_conditional_rows", "simulate_conditional"]


@eqx.filter_jit
def conditional_draws(
    comp: Composition,
    trials: Trials,
    arrays: dict[str, Array],
    units: dict[str, Unit],
    keys: Key[Array, " draws"],
    n_states: int,
) -> tuple[Array, Array]:
    """One-step-ahead draws, ``(D, N)`` rt and option, for ``(D, units)`` parameters."""
    decision = comp.decision_model
    grid, rows = trials.grid, trials.rows

    def draw(arrs: dict[str, Array], key: PRNGKeyArray) -> tuple[Array, Array]:
        _, _, dparams = decide_grid(comp, trials, one_draw(arrs, units), n_states)
        # The states do not depend on the draws, so all trials sample in one batch
        # (flattened: a sampler need only handle 1-D parameters).
        shape = grid.option.shape
        rt, choice = decision.sample(key, **{k: v.reshape(-1) for k, v in dparams.items()})
        rt, choice = rt.reshape(shape), choice.reshape(shape)
        option = option_index(choice, decision.choices)
        missed = ~grid.observed | jnp.isposinf(rt)  # NaN rt: a choice-only draw
        rt = jnp.where(missed, jnp.nan, rt)
        option = jnp.where(missed, -1, option)
        return rt.reshape(-1)[rows.position], option.reshape(-1)[rows.position]

    return jax.vmap(draw)(arrays, keys)


def as_key(key: PRNGKeyArray | int) -> PRNGKeyArray:
    """A JAX key, from a key or an integer seed."""
    if isinstance(key, jax.Array):
        return key
    return jax.random.key(int(key))


def run_conditional(
    model: "RLSSM", layout: TrialLayout, resolved: Mapping[str, Resolved], key: PRNGKeyArray
) -> tuple[np.ndarray, np.ndarray]:
    """``(D, N)`` rt and option for parameters resolved with a draw axis."""
    arrays, units = draw_arrays(resolved)
    d = next(iter(arrays.values())).shape[0]
    dtype = float_dtype(model.precision)
    comp = model.composition
    with precision_scope(model.precision):
        trials = Trials.from_layout(layout, comp.trial_fields, dtype)
        jarrays = {k: jnp.asarray(v, dtype=dtype) for k, v in arrays.items()}
        rt, option = conditional_draws(comp, trials, jarrays, units, jax.random.split(key, d), layout.n_states)
        return np.asarray(rt), np.asarray(option)


def sample_conditional_rows(
    model: "RLSSM",
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
    check_names(params_rows, names)
    n = layout.n_rows
    resolved: dict[str, Resolved] = {}
    n_draws: int | None = None
    for name in names:
        arr = as_numbers(name, params_rows[name])
        if arr.ndim == 0:
            resolved[name] = Resolved("scalar", arr.reshape(1, 1))
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
        # Explicitly per row: no unit inference (a row count may equal the participants').
        resolved[name] = Resolved("row", arr.reshape(-1, n))
    check_values(model.composition, resolved, layout.participants, layout.row_participant, draws=True)
    rt, option = run_conditional(model, layout, resolved, as_key(key))
    if n_draws is None:
        return rt[0], option[0]
    return rt, option


def simulate_conditional(
    model: "RLSSM",
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
        n_draws = check_size("n_draws", n_draws)
    layout = model.prepare(data)
    draws = n_draws is not None
    resolved = resolve(params, model.param_names, layout.participants, layout.n_rows, draws=draws)
    check_values(model.composition, resolved, layout.participants, layout.row_participant, draws=draws)
    if draws:
        bad = [n for n, r in resolved.items() if np.shape(r.value)[0] not in (1, n_draws)]
        if bad:
            raise DataError(
                f"params[{bad[0]!r}] has {np.shape(resolved[bad[0]].value)[0]} draws; with "
                f"n_draws={n_draws} expected a scalar, ({n_draws},), ({n_draws}, "
                f"{layout.n_participants}) or ({n_draws}, {layout.n_rows})"
            )
        # Every draw gets its own key even when all parameters are shared.
        resolved = {k: Resolved(r.unit, np.broadcast_to(r.value, (n_draws, np.shape(r.value)[1])))
                    for k, r in resolved.items()}
    else:
        resolved = add_draw_axis(resolved)
    rt, option = run_conditional(model, layout, resolved, jax.random.key(seed))
    d = 1 if n_draws is None else n_draws
    rt, option = rt.reshape(d, -1), option.reshape(d, -1)
    missed = option.reshape(-1) < 0
    columns: dict[str, Any] = {}
    if n_draws is not None:
        columns["draw"] = np.repeat(np.arange(d), len(data))
    columns["participant_id"] = np.tile(data["participant_id"].to_numpy(), d)
    columns["trial_id"] = np.tile(data["trial_id"].to_numpy(), d)
    columns["response"] = response_column(model.choices, option.reshape(-1), missed)
    columns["rt"] = rt.reshape(-1).astype(np.float64)
    feedback = (
        np.asarray(pd.to_numeric(data["feedback"]), dtype=float)
        if "feedback" in data.columns
        else np.full(len(data), np.nan)
    )
    columns["feedback"] = np.tile(feedback, d)
    index = data.index if n_draws is None else data.index[np.tile(np.arange(len(data)), d)]
    return pd.DataFrame(columns, index=index)
