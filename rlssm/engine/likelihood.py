"""The log-likelihood of trials: grid path and row path, both on the one per-trial step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._precision import float_dtype, precision_scope, scoped_call
from .._types import Array, Float, Precision
from ..data import TrialLayout
from .composition import Composition
from .domains import check_computed, check_values
from .gather import gather_rows
from .params import Resolved, check_names, resolve, series_by_label, to_grid, to_rows
from .step import Readout, cue_inputs, decision_params, readout, rule_params, scan_states
from .trials import Trials

__all__ = ["GridResult", "decide_grid", "evaluate", "is_plain", "logp_grid", "logp_rows", "make_logp_fn"]


class GridResult(eqx.Module):
    """What the grid path computes, each ``(P, T, ...)``."""

    logp: Array
    """Log-likelihood of each cell (0.0 on missed and padding cells)."""
    states: Any
    """The rule's state before each trial's update."""
    values: Array
    """The values that drove each trial's decision (``values_of``), ``(P, T, options)``."""
    params: dict[str, Array]
    """Every decision parameter of each cell (computed ones included)."""


def _coded(comp: Composition, option: Array, dtype: Any) -> Array:
    """Option indices as responses in the decision model's own coding."""
    return jnp.asarray(comp.decision_model.choices, dtype=dtype)[option]


def decide_grid(
    comp: Composition, trials: Trials, params: Mapping[str, Resolved], n_states: int
) -> tuple[Any, Readout, dict[str, Array]]:
    """The rule's state before each trial, what the decision saw of it, and every
    decision parameter, on the grid.

    Every parameter is laid out on the ``(P, T)`` grid (padding cells read row 0's
    values: valid, never read back). Used by `logp_grid`, the conditional simulator and
    the range checks.
    """
    grid = trials.grid
    cells = {n: to_grid(r, trials, grid.rt.dtype) for n, r in params.items()}
    rl = rule_params(comp, cells)
    states = scan_states(comp, grid, rl, n_states)
    seen = readout(comp, states, cue_inputs(comp, grid.fields, rl), batch_dims=2)
    return states, seen, decision_params(comp, seen, grid.fields, cells, batch_dims=2)


def logp_grid(
    comp: Composition, trials: Trials, params: Mapping[str, Resolved], n_states: int
) -> GridResult:
    """Log-likelihood on the ``(P, T)`` grid, with the states and decision parameters.

    The decision model runs over all cells. Used where per-cell results are wanted
    (``RLSSM.values``, ``RLSSM.loglik``, sharding).
    """
    grid = trials.grid
    states, seen, dparams = decide_grid(comp, trials, params, n_states)
    ll = comp.decision_model.logp(grid.rt, _coded(comp, grid.option, grid.rt.dtype), **dparams)
    rl = [to_grid(params[n], trials, grid.rt.dtype) for n in comp.rl_names]
    ll = nan_where_nan(ll, [*rl, *dparams.values()])
    # A missed trial adds nothing; padding cells are never read back.
    ll = jnp.where(grid.observed, ll, jnp.zeros((), ll.dtype))
    return GridResult(ll, states, seen.values, dparams)


def logp_rows(
    comp: Composition,
    trials: Trials,
    params: Mapping[str, Resolved],
    n_states: int,
    plain: bool = False,
) -> Array:
    """Log-likelihood of every row of the data, ``(N,)`` in its order.

    Only the learning rule's parameters go to the ``(P, T)`` grid for the scan; the
    rest of the model runs in row order, so per-row parameters need no gather (and
    their gradients no scatter) and the output needs no reordering. ``plain`` as in
    [`scan_states`][rlssm.engine.scan_states].
    """
    grid, rows = trials.grid, trials.rows
    dtype = rows.rt.dtype
    rl = rule_params(comp, {n: to_grid(params[n], trials, dtype) for n in comp.rl_names})
    states = scan_states(comp, grid, rl, n_states, plain)
    seen = readout(comp, states, cue_inputs(comp, grid.fields, rl), batch_dims=2)
    # Grid cells -> rows: a gather whose transpose is a gather (see gather_rows).
    cell = grid.row.reshape(-1)
    n_cells = cell.shape[0]
    real = rows.position[cell] == jnp.arange(n_cells, dtype=rows.position.dtype)  # not padding

    def to_row_order(x: Array) -> Array:
        flat = x.reshape(n_cells, *x.shape[2:])
        return gather_rows(flat, rows.position, cell, real)

    seen = Readout(to_row_order(seen.values), {k: to_row_order(v) for k, v in seen.parts.items()})
    others = {n: to_rows(params[n], trials, dtype) for n in comp.param_names if n not in comp.rl_names}
    dparams = decision_params(comp, seen, rows.fields, others, batch_dims=1)
    ll = comp.decision_model.logp(rows.rt, _coded(comp, rows.option, dtype), **dparams)
    rl = [to_rows(params[n], trials, dtype) for n in comp.rl_names]
    ll = nan_where_nan(ll, [*rl, *dparams.values()])
    return jnp.where(rows.observed, ll, jnp.zeros((), ll.dtype))


def nan_where_nan(ll: Array, params: list[Array]) -> Array:
    """``ll`` with NaN wherever a parameter of the trial is NaN.

    A decision model's region tests are False for NaN, so a NaN parameter could
    otherwise read as its finite floor (with NaN gradients), and a learning rule's NaN
    parameter leaves the first trial's values untouched. No eager check runs under
    ``jit``: NaN is what reaches the sampler.
    """
    bad = jnp.zeros(ll.shape, dtype=bool)
    for x in params:
        bad = bad | jnp.isnan(x)
    return jnp.where(bad, jnp.asarray(jnp.nan, ll.dtype), ll)



def is_plain(layout: TrialLayout) -> bool:
    """One state, no block changes after the first trial, no missed trial: the scan's
    fast path applies (see [`scan_states`][rlssm.engine.scan_states])."""
    return bool(
        layout.n_states == 1 and not layout.reset[:, 1:].any() and layout.observed.sum() == layout.n_rows
    )


def make_logp_fn(
    comp: Composition, layout: TrialLayout, precision: Precision, per_row: bool = True
) -> Callable[[Mapping[str, Any]], Float[Array, " rows"]]:
    """``f(params) -> (N,)`` log-likelihood of every row, jit- and grad-able.

    Parameters are resolved by [`resolve`][rlssm.engine.resolve] at each call (a Series
    by its participant labels; JAX arrays and tracers by their shapes); the computation
    runs under the float policy ``precision`` (see ``rlssm._precision.scoped_call``).
    With ``per_row=False`` only scalars and per-participant values are taken, so a
    1-D array is per participant even when there are as many participants as rows.
    """
    dtype = float_dtype(precision)
    with precision_scope(precision):
        trials = Trials.from_layout(layout, comp.trial_fields, dtype, row_fields=comp.mapping.fields)
    plain = is_plain(layout)
    names = comp.param_names

    def rows(_: None, arrays: dict[str, Array]) -> Array:
        resolved = resolve(arrays, names, layout.participants, layout.n_rows, per_row=per_row)
        return logp_rows(comp, trials, resolved, layout.n_states, plain)

    call = scoped_call(rows, precision)

    def f(params: Mapping[str, Any]) -> Float[Array, " rows"]:
        check_names(params, names)
        # Labels are honoured here, outside any trace: a Series becomes an array in
        # sorted participant order (the unit resolve then infers from its length).
        arrays = {
            n: series_by_label(n, v, layout.participants) if isinstance(v, pd.Series) else v
            for n, v in params.items()
        }
        return call(None, arrays)

    return f


@eqx.filter_jit
def _grid_jit(comp: Composition, trials: Trials, params: dict[str, Resolved], n_states: int) -> GridResult:
    return logp_grid(comp, trials, params, n_states)


def evaluate(
    comp: Composition, layout: TrialLayout, params: Mapping[str, Any], precision: Precision
) -> GridResult:
    """The grid path for one eager set of parameters, as NumPy arrays.

    Parameters are checked eagerly (`DataError` for names, shapes, labels, NaN or inf,
    and values outside a component's domain, computed decision parameters included:
    see [`Domain`][rlssm.engine.Domain]).
    """
    resolved = resolve(params, comp.param_names, layout.participants, layout.n_rows)
    check_values(comp, resolved, layout.participants, layout.row_participant, precision=precision)
    dtype = float_dtype(precision)
    with precision_scope(precision):
        trials = Trials.from_layout(layout, comp.trial_fields, dtype)
        out = _grid_jit(comp, trials, resolved, layout.n_states)
        out = jax.tree.map(np.asarray, out)
    if comp.computed:
        # Grid cell (p, k) -> its row of the data, for the message.
        row_of = np.full(layout.option.size, -1, dtype=np.int64)
        row_of[np.asarray(layout.row_position)] = np.arange(layout.n_rows)
        n_trials = layout.n_trials

        def describe(index: tuple[int, ...]) -> str:
            p, k = index
            return f"row {int(row_of[p * n_trials + k])}, participant {layout.participants[p]!r}"

        check_computed(comp, out.params, np.asarray(layout.observed), describe, out.values)
    return out
