"""Validation and preparation of trial data: one layer for likelihood, simulator and HSSM.

Data is a ``pandas.DataFrame`` with one row per trial in any row order (see the data
format page of the docs). `validate` checks it eagerly and raises
[`DataError`][rlssm.DataError] naming the column, participant, row and value;
`prepare` turns it into a [`TrialLayout`][rlssm.data.TrialLayout]: participants x trials
arrays, padded and masked, sorted by ``trial_id``, plus the index that maps each row of
the input back to its place.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from ._errors import DataError
from ._spec import Domain

SLOW_MEDIAN_RT = 20.0
"""Seconds: a larger median rt is most likely in milliseconds, and rlssm warns."""

REQUIRED = ("participant_id", "trial_id", "response", "rt")
OPTIONAL = ("block", "state")


def _where(data: pd.DataFrame, mask: np.ndarray, column: str, what: str) -> DataError:
    """A DataError about the first row in ``mask``, counting the others."""
    positions = np.flatnonzero(mask)
    first = positions[0]
    label = data.index[first]
    # Rows are named by position; the index label is added when it differs.
    row = f"row {first}" if label == first else f"row {first} (index label {label!r})"
    pid = _plain(data["participant_id"].iloc[first]) if "participant_id" in data.columns else "?"
    value = _plain(data[column].iloc[first])
    more = f" ({len(positions) - 1} more rows like it)" if len(positions) > 1 else ""
    return DataError(f"column {column!r}, participant {pid!r}, {row}: value {value!r}; {what}{more}")


def _one_type(data: pd.DataFrame, column: str, what: str) -> None:
    """`DataError` where the labels of ``column`` mix value types (numbers of any
    kind count as one)."""
    kinds = {
        "number" if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) else type(x).__name__
        for x in data[column].tolist()
    }
    if len(kinds) > 1:
        raise DataError(
            f"column {column!r} mixes value types {sorted(kinds)} (e.g. 1 and '1'); they "
            f"would sort unpredictably and could name one {what} twice: use one type"
        )


def _plain(x: object) -> object:
    """numpy scalars as Python values, so messages read ``2`` rather than ``np.int64(2)``."""
    return x.item() if isinstance(x, np.generic) else x


def _numeric(data: pd.DataFrame, column: str) -> np.ndarray:
    if pd.api.types.is_timedelta64_dtype(data[column]) or pd.api.types.is_datetime64_any_dtype(data[column]):
        raise DataError(
            f"column {column!r} holds {data[column].dtype} values; expected plain numbers "
            f"(seconds for rt): convert with data[{column!r}].dt.total_seconds()"
        )
    try:
        # na_value: pandas' nullable dtypes (convert_dtypes(), pd.NA) become NaN.
        return cast(pd.Series, pd.to_numeric(data[column], errors="raise")).to_numpy(
            dtype=float, na_value=np.nan
        )
    except (ValueError, TypeError) as err:
        coerced = cast(pd.Series, pd.to_numeric(data[column], errors="coerce"))
        bad = coerced.isna() & data[column].notna()
        raise _where(data, np.asarray(bad), column, "expected a number") from err


def _response_codes(data: pd.DataFrame, choices: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """Option index of each row (-1 where missed) and the missed mask."""
    resp = data["response"]
    missed = resp.isna().to_numpy()
    option = np.full(len(data), -1, dtype=np.int64)
    matched = np.zeros(len(data), dtype=bool)
    for k, c in enumerate(choices):
        hit = (resp == c).fillna(False).to_numpy(dtype=bool) & ~missed
        option[hit] = k
        matched |= hit
    bad = ~matched & ~missed
    if bad.any():
        raise _where(
            data, bad, "response",
            f"expected one of the model's choices {tuple(choices)!r} (NaN for a missed response); "
            "rlssm does not recode responses: pass choices=... to RLSSM to declare the coding",
        )
    return option, missed


def validate(
    data: object,
    choices: Sequence[Hashable] = (0, 1),
    fields: Sequence[str] = ("feedback",),
    with_rt: bool = True,
) -> None:
    """Check ``data`` against the data format; raise `DataError` at the first problem.

    Parameters
    ----------
    data
        The trial data.
    choices
        The response values in option order.
    fields
        Further columns the model reads (the learning rule's ``fields``).
    with_rt
        False for a choice-only model (see [`prepare`][rlssm.data.prepare]).
    """
    prepare(data, choices, fields, with_rt=with_rt)


@dataclass(frozen=True, eq=False)
class TrialLayout:
    """Data arranged as participants x trials (``P x T``), padded and masked.

    Attributes
    ----------
    participants
        Sorted participant labels; participant ``i`` is ``participants[i]``.
    n_rows
        Number of rows of the input data.
    option
        ``(P, T)`` chosen option index (0 on missed and padded trials).
    rt
        ``(P, T)`` response times (1.0 on missed and padded trials, where the value
        is masked out).
    observed
        ``(P, T)`` True where a response was given.
    valid
        ``(P, T)`` True where a trial exists (observed or missed).
    reset
        ``(P, T)`` True where values start again from their initial state (first trial
        of a participant and of each block).
    state
        ``(P, T)`` state index (0 without a ``state`` column).
    n_states
        Number of distinct states.
    fields
        ``name -> (P, T)`` float array of each extra field (0.0 on missed and padded).
    row_position
        ``(N,)`` flat position ``p * T + k`` of every input row, in input order.
    row_participant
        ``(N,)`` participant index of every input row.
    """

    participants: tuple[Hashable, ...]
    n_rows: int
    option: np.ndarray
    rt: np.ndarray
    observed: np.ndarray
    valid: np.ndarray
    reset: np.ndarray
    state: np.ndarray
    n_states: int
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    row_position: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    row_participant: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    states: tuple[Hashable, ...] = ()
    has_block: bool = False
    has_state: bool = False

    @property
    def n_participants(self) -> int:
        """Number of participants ``P``."""
        return len(self.participants)

    @property
    def n_trials(self) -> int:
        """Padded number of trials ``T`` (the largest participant's)."""
        return int(self.option.shape[1])

    def to_rows(self, grid: np.ndarray) -> np.ndarray:
        """Take a ``(P, T, ...)`` array back to input row order ``(N, ...)``."""
        flat = grid.reshape((-1,) + grid.shape[2:])
        return flat[self.row_position]


def prepare(
    data: object,
    choices: Sequence[Hashable] = (0, 1),
    fields: Sequence[str] = ("feedback",),
    cues: Sequence[str] = (),
    with_rt: bool = True,
    domains: Mapping[str, str] | None = None,
) -> TrialLayout:
    """Validate ``data`` and arrange it as a [`TrialLayout`][rlssm.data.TrialLayout].

    ``fields`` may be NaN on missed trials (they are outcomes of a response) and are 0.0
    there in the layout; those also in ``cues`` are known before the choice, must be
    finite on every row, missed trials included, and keep their values. ``domains``
    (``column -> interval`` string, e.g. ``{"set_size": "(0, inf)"}``: a learning
    rule's ``field_domains``) bounds the values of those columns where they are given.

    With ``with_rt=False`` (a choice-only model, e.g. [`Softmax`][rlssm.Softmax]) the
    ``rt`` column is optional and ignored: a missed trial is one with a NaN response,
    whatever its rt; an rt that is given must still be a positive number of seconds
    (or NaN), so that a mislabelled column is not read silently. The layout's rt is 1.0
    everywhere.

    Raises
    ------
    DataError
        Naming the column, participant, row and value at fault.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas.DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise DataError("data has no rows")
    if len(set(choices)) != len(choices) or len(choices) < 2:
        raise DataError(f"choices must list at least two distinct response values, got {choices!r}")
    required = REQUIRED if with_rt else tuple(c for c in REQUIRED if c != "rt")
    missing = [c for c in (*required, *fields) if c not in data.columns]
    if missing:
        raise DataError(
            f"data lacks the column(s) {missing}; expected {list(required) + list(fields)} "
            f"(found {list(data.columns)}). The seed tutorial's file names its trial column "
            "'trial': rename it with data.rename(columns={'trial': 'trial_id'})"
            if "trial_id" in missing and "trial" in data.columns
            else f"data lacks the column(s) {missing}; expected {list(required) + list(fields)} "
            f"(found {list(data.columns)})"
        )
    pid_na = data["participant_id"].isna().to_numpy()
    if pid_na.any():
        raise _where(data, pid_na, "participant_id", "expected a participant identifier, not NaN")

    trial = _numeric(data, "trial_id")
    bad = ~np.isfinite(trial) | (trial != np.round(trial))
    if bad.any():
        raise _where(data, bad, "trial_id", "expected an integer trial index")
    trial_int = trial.astype(np.int64)

    option, missed = _response_codes(data, choices)

    rt = _numeric(data, "rt") if "rt" in data.columns else np.full(len(data), np.nan)
    if np.isinf(rt).any():
        raise _where(data, np.isinf(rt), "rt", "expected a finite response time in seconds")
    rt_nan = np.isnan(rt)
    if with_rt:
        if (rt_nan & ~missed).any():
            raise _where(data, rt_nan & ~missed, "rt",
                         "rt is NaN but response is not: a missed trial has both NaN")
        if (missed & ~rt_nan).any():
            raise _where(data, missed & ~rt_nan, "response",
                         "response is NaN but rt is not: a missed trial has both NaN")
    nonpos = ~rt_nan & (rt <= 0)
    if nonpos.any():
        raise _where(data, nonpos, "rt", "expected a positive response time in seconds")
    if with_rt and (~rt_nan).any() and np.median(rt[~rt_nan]) > SLOW_MEDIAN_RT:
        import os

        import equinox
        import jaxtyping as jaxtyping_module  # not "jaxtyping": its import hook uses that name here

        # The warning points at the user's line: the first frame outside rlssm and the
        # wrappers around its methods (equinox's; jaxtyping's and beartype's when type
        # checks are on), whatever the path.
        warnings.warn(
            f"column 'rt': the median response time is {np.median(rt[~rt_nan]):.4g} s; rlssm reads rt "
            "in seconds (milliseconds? divide by 1000; `rlssm check` lists what else to look at)",
            UserWarning,
            skip_file_prefixes=(
                os.path.dirname(os.path.abspath(__file__)) + os.sep,
                os.path.dirname(os.path.abspath(equinox.__file__)) + os.sep,
                os.path.dirname(os.path.abspath(jaxtyping_module.__file__)) + os.sep,
                "<@beartype",
            ),
        )
    if not with_rt:
        # A choice-only model reads no rt: a placeholder the decision model ignores.
        rt = np.ones(len(data))

    field_values: dict[str, np.ndarray] = {}
    for name in fields:
        x = _numeric(data, name)
        if np.isinf(x).any():
            raise _where(data, np.isinf(x), name, f"expected a finite {name}")
        if domains and name in domains:
            domain = Domain.parse(domains[name])
            outside = ~np.isnan(x) & ~domain.contains(x)
            if outside.any():
                raise _where(data, outside, name, f"expected a {name} in {domain}, where the model reads it")
        if name in cues:
            if np.isnan(x).any():
                raise _where(data, np.isnan(x), name,
                             f"{name} is known before the choice: it must be given on every trial, "
                             "missed ones included")
            field_values[name] = x
            continue
        if (np.isnan(x) & ~missed).any():
            raise _where(data, np.isnan(x) & ~missed, name,
                         f"{name} is NaN on an answered trial (NaN is allowed only on missed trials)")
        field_values[name] = np.where(missed, 0.0, x)

    for name in OPTIONAL:
        if name in data.columns:
            na = data[name].isna().to_numpy()
            if na.any():
                raise _where(data, na, name, f"expected a {name} label, not NaN")

    # Labels of one type each: 1 and "1" would be two participants (states, blocks),
    # and mixed types sort unpredictably.
    for name, what in (("participant_id", "participant"), ("state", "state"), ("block", "block")):
        if name in data.columns:
            _one_type(data, name, what)
    # Participants: sorted labels (API: per-participant arrays follow sorted order).
    pid_codes, participants = pd.factorize(data["participant_id"], sort=True)
    n_part = len(participants)

    dup = pd.DataFrame({"p": pid_codes, "t": trial_int}).duplicated(keep=False).to_numpy()
    if dup.any():
        raise _where(data, dup, "trial_id", "trial_id is duplicated within this participant")

    # Trial order within participant from trial_id, never from row order.
    order = np.lexsort((trial_int, pid_codes))
    counts = np.bincount(pid_codes, minlength=n_part)
    n_trials = int(counts.max())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sorted_p = pid_codes[order]
    rank = np.arange(len(order)) - starts[sorted_p]
    position_sorted = sorted_p * n_trials + rank
    row_position = np.empty(len(data), dtype=np.int64)
    row_position[order] = position_sorted

    def grid(values: np.ndarray, fill: float | int | bool, dtype: type) -> np.ndarray:
        out = np.full(n_part * n_trials, fill, dtype=dtype)
        out[row_position] = values
        return out.reshape(n_part, n_trials)

    valid = grid(np.ones(len(data), bool), False, bool)
    observed = grid(~missed, False, bool)
    option_grid = grid(np.where(missed, 0, option), 0, np.int64)
    rt_grid = grid(np.where(missed, 1.0, rt), 1.0, np.float64)
    fields_grid = {k: grid(v, 0.0, np.float64) for k, v in field_values.items()}

    reset = np.zeros((n_part, n_trials), dtype=bool)
    reset[:, 0] = True
    has_block = "block" in data.columns
    if has_block:
        bcodes = pd.factorize(data["block"])[0]
        b = grid(bcodes, -1, np.int64)
        reset[:, 1:] |= (b[:, 1:] != b[:, :-1]) & valid[:, 1:]
    has_state = "state" in data.columns
    if has_state:
        scodes, states = pd.factorize(data["state"], sort=True)
        state_grid = grid(scodes, 0, np.int64)
        states_t = tuple(states)
    else:
        state_grid = np.zeros((n_part, n_trials), dtype=np.int64)
        states_t = ()

    return TrialLayout(
        participants=tuple(participants),
        n_rows=len(data),
        option=option_grid,
        rt=rt_grid,
        observed=observed,
        valid=valid,
        reset=reset,
        state=state_grid,
        n_states=max(len(states_t), 1),
        fields=fields_grid,
        row_position=row_position,
        row_participant=pid_codes.astype(np.int64),
        states=states_t,
        has_block=has_block,
        has_state=has_state,
    )


def response_column(choices: Sequence[Hashable], option: np.ndarray, missed: np.ndarray) -> np.ndarray:
    """Option indices as the data's response values (``choices[option]``); NaN where missed.

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
