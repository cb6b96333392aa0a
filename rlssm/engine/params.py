"""Parameter layout resolution: the one place that decides what a parameter value means.

A parameter may be given as a scalar (shared by all trials), one value per participant
(a ``pandas.Series`` indexed by ``participant_id``, or an array in sorted
``participant_id`` order), or one value per row of the data; with posterior draws each
of these gains a leading draw axis. [`resolve`][rlssm.engine.resolve] turns a user's
``params`` mapping into [`Resolved`][rlssm.engine.Resolved] values (a *unit*: scalar,
participant or row, and an array), raising [`DataError`][rlssm.DataError] with one set
of messages for every path: likelihood, simulators, predictive checks, range checks,
sharding, the HSSM bridge and the hierarchical fit.
[`to_grid`][rlssm.engine.to_grid] and [`to_rows`][rlssm.engine.to_rows] then lay a
resolved value out on the ``(P, T)`` grid or in row order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._errors import DataError
from .._types import Array
from .gather import gather_rows
from .trials import Trials

__all__ = [
    "Resolved",
    "Unit",
    "add_draw_axis",
    "as_numbers",
    "check_names",
    "draw_arrays",
    "n_draws_of",
    "one_draw",
    "resolve",
    "series_by_label",
    "to_grid",
    "to_rows",
]

Unit = Literal["scalar", "participant", "row"]
"""What the last axis of a resolved parameter runs over (``scalar``: nothing)."""


class Resolved(NamedTuple):
    """A parameter value with its layout.

    Attributes
    ----------
    unit
        ``"scalar"``, ``"participant"`` or ``"row"``.
    value
        Without draws: shape ``()``, ``(P,)`` or ``(N,)`` by ``unit``. With draws:
        ``(D, 1)``, ``(D, P)`` or ``(D, N)``, where ``D`` is 1 for a value shared by
        every draw.
    """

    unit: Unit
    value: Any


def as_numbers(name: str, value: object) -> np.ndarray:
    """``value`` as a float array; `DataError` for non-numbers, NaN or inf."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise DataError(f"params[{name!r}]: expected numbers, got {value!r}") from err
    bad = ~np.isfinite(arr)
    if bad.any():
        where = int(np.flatnonzero(bad.reshape(-1))[0])
        raise DataError(
            f"params[{name!r}] holds a non-finite value {arr.reshape(-1)[where].item()!r} at position {where}"
        )
    return arr


def check_names(params: object, names: Sequence[str]) -> None:
    """``params`` is a mapping with exactly the parameters ``names``."""
    if not isinstance(params, Mapping):
        raise DataError(f"params must be a mapping of parameter name to value, got {type(params).__name__}")
    missing = [n for n in names if n not in params]
    if missing:
        raise DataError(f"params lacks {missing}; the model's parameters are {tuple(names)}")
    unknown = [n for n in params if n not in names]
    if unknown:
        raise DataError(f"params has unknown names {unknown}; the model's parameters are {tuple(names)}")


def series_by_label(name: str, value: pd.Series, labels: Sequence[Hashable]) -> np.ndarray:
    """A Series indexed by participant label, as an array in ``labels`` order."""
    index = set(value.index)
    absent = [p for p in labels if p not in index]
    extra = [p for p in value.index if p not in set(labels)]
    if absent or extra or not value.index.is_unique:
        raise DataError(
            f"params[{name!r}] is a Series that must be indexed by participant_id with one "
            f"value per participant: missing {absent[:5]}, unknown {extra[:5]}"
            + ("" if value.index.is_unique else ", duplicated labels")
        )
    return as_numbers(name, value.loc[list(labels)].to_numpy())


def _unit_of(name: str, shape: tuple[int, ...], n_part: int, n_rows: int | None, lead: str) -> Unit:
    """The unit of the last axis of an array of ``shape``."""
    size = shape[-1]
    if n_rows is not None and size == n_part == n_rows:
        raise DataError(
            f"params[{name!r}] has length {n_part}, which is both the number of "
            "participants and of rows: pass a pandas.Series indexed by participant_id "
            "for per-participant values"
        )
    if size == n_part:
        return "participant"
    if n_rows is not None and size == n_rows:
        return "row"
    rows = "" if n_rows is None else f" or {lead}{n_rows} values (one per row of data)"
    raise DataError(
        f"params[{name!r}] has shape {tuple(shape)}; expected a scalar, "
        f"{lead}{n_part} values (one per participant, sorted participant_id order){rows}"
    )


def resolve(
    params: Mapping[str, Any],
    names: Sequence[str],
    participants: Sequence[Hashable],
    n_rows: int | None = None,
    *,
    draws: bool = False,
    per_row: bool = True,
) -> dict[str, Resolved]:
    """Resolve every parameter in ``names``: its unit and its value.

    Parameters
    ----------
    params
        ``name -> value`` for exactly the names in ``names``. A value is a scalar, a
        ``pandas.Series`` indexed by participant label, or an array whose last axis
        runs over participants (sorted order) or rows of the data. NumPy values are
        checked for NaN and inf here; JAX arrays (tracers under ``jit``) are taken as
        they are.
    names
        The model's parameters.
    participants
        The participant labels, sorted (the order of per-participant arrays).
    n_rows
        Number of rows of the data; ``None`` where there are no rows (closed-loop
        simulation).
    draws
        Values carry a leading draw axis: ``(D,)`` or ``(D, 1)`` is one value per draw, ``(D, P)``
        or ``(D, N)`` one per draw and participant or row; scalars and Series are
        shared by all draws. All draw axes must agree.
    per_row
        Whether per-row values are accepted.

    Returns
    -------
    dict
        ``name -> Resolved``. Without draws the values keep the caller's array type
        (NumPy or JAX); with draws they are NumPy arrays of shape ``(D or 1, units)``.

    Raises
    ------
    DataError
        A missing or unknown name, a non-finite value, a Series with the wrong labels,
        a length that is neither the number of participants nor of rows (or both, for
        an unlabelled array), per-row values where they are not accepted, or draw axes
        that disagree.
    """
    check_names(params, names)
    n_part = len(participants)
    rows_allowed = n_rows if per_row else None
    out: dict[str, Resolved] = {}
    n_draws: int | None = None
    for name in names:
        value = params[name]
        if isinstance(value, pd.Series):
            arr = series_by_label(name, value, participants)
            out[name] = Resolved("participant", arr[None, :] if draws else arr)
            continue
        if isinstance(value, jax.Array) and not draws:
            arr = value  # may be a tracer: shapes only
        else:
            arr = as_numbers(name, value)
        if not draws:
            if arr.size == 1:
                out[name] = Resolved("scalar", arr.reshape(()))
                continue
            if arr.ndim != 1:
                raise DataError(
                    f"params[{name!r}] has shape {tuple(arr.shape)}; expected a scalar or a 1-D "
                    f"array ({n_part} values, one per participant"
                    + ("" if rows_allowed is None else f", or {n_rows}, one per row of data")
                    + ")"
                )
            out[name] = Resolved(_checked_unit(name, tuple(arr.shape), n_part, n_rows, per_row, ""), arr)
            continue
        arr = np.asarray(arr)
        if arr.ndim == 0:
            out[name] = Resolved("scalar", arr.reshape(1, 1))
            continue
        if arr.ndim > 2:
            raise DataError(
                f"params[{name!r}] has shape {arr.shape}; expected a scalar, (n_draws,) or "
                f"(n_draws, units) values"
            )
        if n_draws is not None and arr.shape[0] != n_draws:
            raise DataError(f"params[{name!r}] has {arr.shape[0]} draws but other parameters have {n_draws}")
        n_draws = arr.shape[0]
        if arr.ndim == 1 or arr.shape[1] == 1:
            # (D,) or (D, 1): one value per draw, shared by all units.
            out[name] = Resolved("scalar", arr.reshape(-1, 1))
        else:
            lead = "(n_draws, ...) with "
            out[name] = Resolved(_checked_unit(name, tuple(arr.shape), n_part, n_rows, per_row, lead), arr)
    return out


def _checked_unit(
    name: str, shape: tuple[int, ...], n_part: int, n_rows: int | None, per_row: bool, lead: str
) -> Unit:
    size = shape[-1]
    if not per_row and n_rows is not None and size == n_rows != n_part:
        raise DataError(
            f"params[{name!r}] has one value per row of data ({n_rows}); this path takes only "
            f"scalars or one value per participant ({n_part}, sorted participant_id order)"
        )
    return _unit_of(name, shape, n_part, n_rows if per_row else None, lead)


def n_draws_of(resolved: Mapping[str, Resolved]) -> int:
    """The number of draws of values resolved with ``draws=True`` (1 if all are shared)."""
    return max((int(np.shape(r.value)[0]) for r in resolved.values()), default=1)


def draw_arrays(resolved: Mapping[str, Resolved]) -> tuple[dict[str, np.ndarray], dict[str, Unit]]:
    """Values resolved with ``draws=True`` as ``(D, units)`` arrays (shared ones
    broadcast to every draw), and their units: the arguments of a ``jax.vmap`` over
    draws, whose body rebuilds each draw's parameters with `one_draw`."""
    d = n_draws_of(resolved)
    arrays = {n: np.broadcast_to(r.value, (d, np.shape(r.value)[1])) for n, r in resolved.items()}
    return arrays, {n: r.unit for n, r in resolved.items()}


def add_draw_axis(resolved: Mapping[str, Resolved]) -> dict[str, Resolved]:
    """Values resolved without draws, as one shared draw (the layout of ``draws=True``)."""
    return {n: Resolved(r.unit, np.asarray(r.value).reshape(1, -1)) for n, r in resolved.items()}


def one_draw(arrays: Mapping[str, Any], units: Mapping[str, Unit]) -> dict[str, Resolved]:
    """One draw's parameters (rows of `draw_arrays`' arrays) as `Resolved` values."""
    return {
        n: Resolved(units[n], x.reshape(()) if units[n] == "scalar" else x) for n, x in arrays.items()
    }


def to_grid(param: Resolved, trials: Trials, dtype: Any) -> Array:
    """A resolved value (without draws) on the ``(P, T)`` grid, of float ``dtype``.

    Per-row values are moved with [`gather_rows`][rlssm.engine.gather_rows] (whose
    gradient is a gather too); padding cells read row 0's value, which nothing reads back.
    """
    shape = trials.shape
    x = jnp.asarray(param.value, dtype=dtype)
    if param.unit == "scalar":
        return jnp.broadcast_to(x.reshape(()), shape)
    if param.unit == "participant":
        return jnp.broadcast_to(x.reshape(shape[0], 1), shape)
    every_row = jnp.ones(trials.rows.position.shape, dtype=bool)
    flat = gather_rows(x, trials.grid.row.reshape(-1), trials.rows.position, every_row)
    return flat.reshape(shape)


def to_rows(param: Resolved, trials: Trials, dtype: Any) -> Array:
    """A resolved value (without draws) in row order, ``(N,)`` of float ``dtype``."""
    x = jnp.asarray(param.value, dtype=dtype)
    if param.unit == "scalar":
        return jnp.broadcast_to(x.reshape(()), (trials.n_rows,))
    if param.unit == "participant":
        return x.reshape(-1)[trials.rows.participant]
    return x
