"""Readers of the field's published data formats into rlssm's data format.

- [`load_hbayesdm`][rlssm.io.load_hbayesdm]: hBayesDM's task files (tab-separated text,
  one row per trial: ``subjID``, ``choice``, ``outcome``, ...; response times, where a
  task has them, in milliseconds).
- [`from_hssm`][rlssm.io.from_hssm]: HSSM's data frames (``rt``, ``response``,
  ``participant_id``; missing responses coded ``rt = -999``).
- [`read_table`][rlssm.io.read_table] and [`detect_format`][rlssm.io.detect_format]:
  what ``rlssm check`` uses to read a file of any of these formats.

Each returns rlssm's format (see the Data page of the docs), or raises
[`DataError`][rlssm.DataError] naming the missing or faulty column. Nothing is recoded
silently: response values are kept (declare them with ``RLSSM(..., choices=...)``), and
each result says what was converted in ``result.attrs["rlssm_source"]`` (one line).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from ._errors import DataError
from .data import SLOW_MEDIAN_RT

__all__ = ["HSSM_MISSING_RT", "detect_format", "from_hssm", "load_hbayesdm", "read_table"]

HSSM_MISSING_RT = -999.0
"""HSSM's code for a missing response time (``missing_data=True``, ``deadline``)."""

# hBayesDM's column names, matched as hBayesDM matches them (case and underscores
# ignored; dots too, for the ``choice.RT`` of the reversal-learning file).
_HB_SUBJECT = "subjid"
_HB_TRIAL = ("trial", "trialnum", "trialnumber")
_HB_RT = ("choicert", "rt")

PathOrFrame = str | os.PathLike | pd.DataFrame


def _normal(name: object) -> str:
    return str(name).replace("_", "").replace(".", "").lower()


def _column(frame: pd.DataFrame, keys: Sequence[str]) -> str | None:
    """The one column of ``frame`` whose normalised name is the first of ``keys`` found."""
    for key in keys:
        hits = [c for c in frame.columns if _normal(c) == key]
        if len(hits) > 1:
            raise DataError(f"columns {hits} are the same column to hBayesDM (case, '_' and '.' ignored): keep one")
        if hits:
            return str(hits[0])
    return None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a text table, tab-separated if its first line has a tab, comma-separated otherwise.

    hBayesDM's files are tab-separated, rlssm's and HSSM's are CSV; the separator is read
    from the header line, so that the file's name does not matter.
    """
    return pd.read_csv(path, sep=_separator(_first_line(path)))


def _first_line(path: str | os.PathLike) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n")


def _separator(header: str) -> str:
    return "\t" if "\t" in header else ","


def detect_format(data: PathOrFrame) -> Literal["rlssm", "hbayesdm"]:
    """``"hbayesdm"`` for hBayesDM's columns (``subjID`` and ``choice``, no
    ``participant_id``), else ``"rlssm"``.

    HSSM's frames are not detected (they share ``rt``, ``response`` and
    ``participant_id`` with rlssm's): convert them with [`from_hssm`][rlssm.io.from_hssm].
    """
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
    else:
        columns = list(_header(data))
    normal = {_normal(c) for c in columns}
    if "participant_id" not in columns and _HB_SUBJECT in normal and "choice" in normal:
        return "hbayesdm"
    return "rlssm"


def _header(path: str | os.PathLike) -> list[str]:
    """The column names of a text table, read as [`read_table`][rlssm.io.read_table] reads them."""
    header = _first_line(path)
    return [c.strip().strip('"') for c in header.split(_separator(header))]


def _frame(source: PathOrFrame, what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, (str, os.PathLike)):
        return read_table(source)
    raise DataError(f"{what} reads a file path or a pandas.DataFrame, got {type(source).__name__}")


def _integers(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = cast(pd.Series, pd.to_numeric(frame[column], errors="coerce")).to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"column {column!r}, row {row}: value {_plain(frame[column].iloc[row])!r}; expected an integer trial number"
        )
    return values.astype(np.int64)


def _missing(frame: pd.DataFrame, needed: Sequence[str], hint: str = "") -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"data lacks the column(s) {missing}; found {[str(c) for c in frame.columns]}{hint}")


def load_hbayesdm(
    source: PathOrFrame,
    *,
    response: str = "choice",
    feedback: str | None = None,
    rt: str | None = None,
    rt_unit: Literal["ms", "s"] = "ms",
) -> pd.DataFrame:
    """Read an hBayesDM task file (or its data frame) into rlssm's format.

    ```python
    data = rlssm.load_hbayesdm("prl_multipleB_exampleData.txt")
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), choices=(1, 2))
    model.loglik(data, params)
    ```

    Columns are matched as hBayesDM matches them, ignoring case and underscores (and
    dots: ``choice.RT``):

    | hBayesDM | rlssm |
    |---|---|
    | ``subjID`` | ``participant_id`` |
    | ``choice`` (or the column named by ``response``) | ``response``, values kept as they are (hBayesDM codes options 1, 2, ...: declare ``RLSSM(..., choices=(1, 2))``) |
    | ``outcome``; else ``gain`` and ``loss``; else ``reward`` (or the column named by ``feedback``) | ``feedback``: the outcome as recorded; ``gain - abs(loss)`` (hBayesDM's convention for its gain/loss tasks) |
    | ``choice.RT`` or ``RT`` (or the column named by ``rt``), where present | ``rt`` in seconds: divided by 1000 with ``rt_unit="ms"`` |
    | ``block``, where present | ``block``, kept: values reset at each block |
    | ``trial`` (``trialNum``, ``trial_number``), where present | ``trial_id``: trials numbered ``0, 1, ...`` across blocks, in the order of block, then ``trial``; without a trial column, in row order |

    The other columns are kept as they are (the trial column as ``trial``, numbered
    within blocks, as in the file). Rows keep the file's order. Without a response-time
    column the result suits choice-only models (`rlssm.Softmax`) only. hBayesDM's
    reversal-learning models read the sign of ``outcome``; rlssm's feedback is the
    outcome as recorded (``data["feedback"] = np.sign(data["feedback"])`` gives hBayesDM's).
    Rows with a missing choice are kept as they are (hBayesDM drops them): rlssm reads a
    missed trial as one with ``rt`` and ``response`` NaN.

    Parameters
    ----------
    source
        The path of a task file (tab-separated, or comma-separated if its header has
        no tab), or the file read as a ``pandas.DataFrame``.
    response
        The column of the chosen option.
    feedback
        The column of the reward; by default ``outcome``, else ``gain`` and ``loss``,
        else ``reward``.
    rt
        The column of response times; by default ``choice.RT`` or ``RT`` where present.
    rt_unit
        The unit of the response-time column: ``"ms"`` (hBayesDM's files with response
        times, e.g. ``prl_multipleB``) or ``"s"`` (its ``choiceRT`` files).

    Returns
    -------
    pandas.DataFrame
        ``participant_id``, ``trial_id``, ``response``, ``rt`` (where present),
        ``feedback``, ``block`` (where present), then the file's other columns.

    Raises
    ------
    DataError
        A missing column (named, with the columns found); a trial number that is not an
        integer, or repeated within a participant's block; response times whose median
        contradicts ``rt_unit`` (below 20 as milliseconds, above 20 as seconds).

    """
    frame = _frame(source, "load_hbayesdm")
    found = [str(c) for c in frame.columns]
    subject = _column(frame, (_HB_SUBJECT,))
    if subject is None:
        raise DataError(f"hBayesDM data lacks the column 'subjID' (the participant); found {found}")
    chosen = _column(frame, (_normal(response),))
    if chosen is None:
        raise DataError(f"hBayesDM data lacks the column {response!r} (the chosen option); found {found}; "
                        "name another with response=...")
    used = [subject, chosen]

    if feedback is not None:
        reward_column = _column(frame, (_normal(feedback),))
        if reward_column is None:
            raise DataError(f"hBayesDM data lacks the column {feedback!r} named by feedback=...; found {found}")
        reward = frame[reward_column]
        reward_text = f"{reward_column} -> feedback"
        used.append(reward_column)
    else:
        reward_column = _column(frame, ("outcome",))
        gain, loss = _column(frame, ("gain",)), _column(frame, ("loss",))
        if reward_column is not None:
            reward = frame[reward_column]
            reward_text = f"{reward_column} -> feedback"
            used.append(reward_column)
        elif gain is not None and loss is not None:
            reward = _numeric(frame, gain) - np.abs(_numeric(frame, loss))
            reward_text = f"{gain} - |{loss}| -> feedback"
        elif (reward_column := _column(frame, ("reward",))) is not None:
            reward = frame[reward_column]
            reward_text = f"{reward_column} -> feedback"
            used.append(reward_column)
        else:
            raise DataError(f"hBayesDM data lacks the column 'outcome' (or 'gain' and 'loss', or 'reward') "
                            f"that holds the feedback; found {found}; name it with feedback=...")

    if rt is not None:
        rt_column = _column(frame, (_normal(rt),))
        if rt_column is None:
            raise DataError(f"hBayesDM data lacks the column {rt!r} named by rt=...; found {found}")
    else:
        rt_column = _column(frame, _HB_RT)
    rt_values: np.ndarray | None = None
    rt_text = ""
    if rt_column is not None:
        raw = _numeric(frame, rt_column)
        given = raw[np.isfinite(raw) & (raw > 0)]
        median = float(np.median(given)) if len(given) else float("nan")
        if rt_unit == "ms" and median < SLOW_MEDIAN_RT:
            raise DataError(f"column {rt_column!r}: the median response time is {median:.4g}, which as "
                            "milliseconds would be implausibly fast: these look like seconds; pass rt_unit='s' "
                            "(rlssm check --rt-unit s)")
        if rt_unit == "s" and median > SLOW_MEDIAN_RT:
            raise DataError(f"column {rt_column!r}: the median response time is {median:.4g}, which as seconds "
                            "is implausibly slow: these look like milliseconds; pass rt_unit='ms' "
                            "(rlssm check --rt-unit ms)")
        rt_values = raw / 1000.0 if rt_unit == "ms" else raw
        rt_text = (f", {rt_column} in milliseconds -> rt in seconds (/ 1000)" if rt_unit == "ms"
                   else f", {rt_column} -> rt (seconds)")
        used.append(rt_column)

    block_column = _column(frame, ("block",))
    trial_column = _column(frame, _HB_TRIAL)
    participant = cast(pd.Series, frame[subject])
    if participant.isna().to_numpy().any():
        row = int(np.flatnonzero(participant.isna().to_numpy())[0])
        raise DataError(f"column {subject!r}, row {row}: value nan; expected a participant identifier")
    trial_id = _number_trials(frame, participant, block_column, trial_column)
    order_text = (f"{trial_column} numbered across blocks -> trial_id" if trial_column and block_column
                  else f"{trial_column} -> trial_id (from 0)" if trial_column
                  else "row order -> trial_id")

    out = pd.DataFrame({
        "participant_id": participant.to_numpy(),
        "trial_id": trial_id,
        "response": frame[chosen].to_numpy(),
    })
    if rt_values is not None:
        out["rt"] = rt_values
    out["feedback"] = np.asarray(reward)
    if block_column is not None:
        out["block"] = frame[block_column].to_numpy()
        used.append(block_column)
    for name in frame.columns:
        if name in used:
            continue
        kept = "trial" if name == trial_column else str(name)
        if kept in out.columns:
            raise DataError(f"hBayesDM data has a column {name!r} that would overwrite rlssm's {kept!r}: rename it")
        out[kept] = frame[name].to_numpy()
    source_name = Path(source).name if isinstance(source, (str, os.PathLike)) else "a data frame"
    out.attrs["rlssm_source"] = (
        f"hBayesDM data ({source_name}): {subject} -> participant_id, {chosen} -> response, "
        f"{reward_text}{rt_text}, {order_text}"
    )
    return out


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = cast(pd.Series, pd.to_numeric(frame[column], errors="coerce")).to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(values) & frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"column {column!r}, row {row}: value {_plain(frame[column].iloc[row])!r}; expected a number")
    return values


def _number_trials(
    frame: pd.DataFrame, participant: pd.Series, block_column: str | None, trial_column: str | None
) -> np.ndarray:
    """Trials numbered ``0, 1, ...`` within each participant: by block (numeric blocks by
    value, others in order of appearance), then trial number; in row order without a
    trial column."""
    pid = pd.factorize(participant)[0]
    row = np.arange(len(frame))
    trial = _integers(frame, trial_column) if trial_column is not None else row
    block = np.zeros(len(frame), dtype=np.int64)
    if block_column is not None:
        labels = frame[block_column]
        if labels.isna().to_numpy().any():
            first = int(np.flatnonzero(labels.isna().to_numpy())[0])
            raise DataError(f"column {block_column!r}, row {first}: value nan; expected a block label")
        if trial_column is not None:
            block = pd.factorize(labels, sort=pd.api.types.is_numeric_dtype(labels))[0]
    if trial_column is not None:
        dup = pd.DataFrame({"p": pid, "b": block, "t": trial}).duplicated(keep=False).to_numpy()
        if dup.any():
            first = int(np.flatnonzero(dup)[0])
            where = f", block {_plain(frame[block_column].iloc[first])!r}" if block_column is not None else ""
            raise DataError(
                f"column {trial_column!r}, participant {_plain(participant.iloc[first])!r}{where}, row {first}: "
                f"trial {int(trial[first])} appears more than once; expected each trial once per participant"
                + (" and block" if block_column is not None else "")
            )
    # np.lexsort sorts by the last key first: participant, block, trial, then row order.
    order = np.lexsort((row, trial, block, pid))
    counts = np.bincount(pid)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    trial_id = np.empty(len(frame), dtype=np.int64)
    trial_id[order] = row - starts[pid[order]]
    return trial_id


def _plain(x: object) -> object:
    return x.item() if isinstance(x, np.generic) else x


def from_hssm(
    frame: pd.DataFrame,
    *,
    participant: str = "participant_id",
    feedback: str | None = "feedback",
    missing_rt: float | None = HSSM_MISSING_RT,
) -> pd.DataFrame:
    """Convert an HSSM data frame to rlssm's format.

    HSSM's data frames hold ``rt`` (seconds), ``response`` (``-1``/``1`` or ``0``/``1``;
    ``0 .. N-1`` for its N-option models) and ``participant_id``; its RL models add
    ``feedback`` and read each participant's trials in row order. The conversion:

    - ``participant`` -> ``participant_id`` (``participant="subj_idx"`` for HDDM-style frames);
    - ``trial_id`` kept where the frame has it; otherwise each participant's rows are
      numbered ``0, 1, ...`` in row order (HSSM's RL models read trials in row order);
    - rows with ``rt == missing_rt`` (HSSM's ``-999`` for missing data and deadlines)
      become missed trials: ``rt`` and ``response`` NaN;
    - ``response`` values are kept: declare them with ``RLSSM(..., choices=(-1, 1))``
      (or ``(0, 1)``); for the two-boundary models the last choice is the upper boundary,
      as in HSSM;
    - ``feedback`` (or the column named by ``feedback``) -> ``feedback``; ``feedback=None``
      for data without one (a model whose learning rule reads other columns).

    Other columns are kept. Rows keep the frame's order.

    Parameters
    ----------
    frame
        HSSM's data.
    participant
        The participant column.
    feedback
        The reward column, or ``None``.
    missing_rt
        HSSM's missing-data code for ``rt``, or ``None`` to convert none.

    Returns
    -------
    pandas.DataFrame
        ``participant_id``, ``trial_id``, ``response``, ``rt``, ``feedback`` (unless
        ``feedback=None``), then the frame's other columns.

    Raises
    ------
    DataError
        A missing column (named, with the columns found), or a response that is not a number.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"from_hssm reads a pandas.DataFrame, got {type(frame).__name__}")
    hint = ""
    if participant not in frame.columns and "subj_idx" in frame.columns:
        hint = "; the participant column of this frame looks like 'subj_idx': pass participant='subj_idx'"
    elif participant not in frame.columns:
        hint = ("; HSSM's frames of one participant have none: add it with "
                "frame.assign(participant_id=0)")
    _missing(frame, ["rt", "response", participant], hint)
    if feedback is not None:
        _missing(frame, [feedback], "; HSSM's data of a plain SSM has no feedback: name the reward column "
                                    "with feedback=..., or pass feedback=None for data without one")
    pid = frame[participant]
    if pid.isna().to_numpy().any():
        row = int(np.flatnonzero(pid.isna().to_numpy())[0])
        raise DataError(f"column {participant!r}, row {row}: value nan; expected a participant identifier")
    rt = _numeric(frame, "rt")
    response = _numeric(frame, "response")
    missed = np.isclose(rt, missing_rt) if missing_rt is not None else np.zeros(len(frame), bool)
    rt = np.where(missed, np.nan, rt)
    response = np.where(missed, np.nan, response)
    if "trial_id" in frame.columns:
        trial_id = frame["trial_id"].to_numpy()
        trial_text = "trial_id kept"
    else:
        trial_id = frame.groupby(pid.to_numpy(), sort=False).cumcount().to_numpy()
        trial_text = "row order -> trial_id"
    out = pd.DataFrame({"participant_id": pid.to_numpy(), "trial_id": trial_id, "response": response, "rt": rt})
    used = {participant, "rt", "response", "trial_id"}
    if feedback is not None:
        out["feedback"] = frame[feedback].to_numpy()
        used.add(feedback)
    for name in frame.columns:
        if name in used:
            continue
        if name in out.columns:
            raise DataError(f"HSSM data has a column {name!r} that would overwrite rlssm's {name!r}: rename it")
        out[name] = frame[name].to_numpy()
    missed_text = f", rt == {missing_rt:g} -> missed trial ({int(missed.sum())} rows)" if missing_rt is not None else ""
    out.attrs["rlssm_source"] = (
        f"HSSM data: {participant} -> participant_id, {trial_text}{missed_text}"
        + (f", {feedback} -> feedback" if feedback is not None and feedback != "feedback" else "")
    )
    return out
