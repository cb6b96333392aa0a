"""Screening of real data before a fit: what validation accepts but a fit should not ignore.

[`validate`][rlssm.data.validate] refuses what cannot be valid (a response outside
``choices``, a NaN rt on an answered trial). Real recordings also hold what is valid but
distorts a fit: response times in milliseconds, fast guesses, slow outliers, a participant
pressing one key, participants with a handful of trials, trial numbers that restart in
each block. [`screen`][rlssm.screening.screen] finds these and returns one
[`Finding`][rlssm.screening.Finding] per problem, each a one-line message that says
what was found, where, and what to do about it. ``rlssm check`` prints them.

Screening never raises on malformed data (a missing or non-numeric column is left to
validation, which names it); it reads the columns of the data format (see the Data page
of the docs): ``participant_id``, ``trial_id`` (or ``trial``), ``response``, ``rt`` and
``block``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from ._errors import DataError
from .data import SLOW_MEDIAN_RT
from .decision.lapse import DEFAULT_LAPSE_RT

__all__ = [
    "FAST_RT",
    "LAPSE_WINDOW",
    "LONG_RUN",
    "MIN_TRIALS",
    "SLOW_MADS",
    "Finding",
    "Severity",
    "screen",
    "severities",
]

Severity = Literal["error", "warning", "note"]
"""``error``: the data is invalid as it is (validation refuses it); ``warning``: valid, but
likely to distort a fit; ``note``: worth a look."""

FAST_RT = 0.1
"""Seconds: faster responses are implausible as decisions (fast guesses, anticipations)."""

SLOW_MADS = 10.0
"""Slow outliers lie more than this many (normal-consistent) median absolute deviations
above their participant's median response time."""

LAPSE_WINDOW = DEFAULT_LAPSE_RT[1]
"""Seconds: the upper end of the default lapse density (``rlssm.decision.lapse.DEFAULT_LAPSE_RT``)."""

LONG_RUN = 0.5
"""A run of one response over at least this fraction of a participant's answered trials
is reported."""

MIN_TRIALS = 50
"""Participants with fewer answered trials are reported."""

_SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "note": 2}

# Column names of hBayesDM's task files (as hBayesDM matches them: case and
# underscores ignored), to recognise such a file passed as rlssm data.
_HBAYESDM_KEYS = ("subjid", "choice")


@dataclass(frozen=True)
class Finding:
    """One problem found by [`screen`][rlssm.screening.screen].

    Attributes
    ----------
    severity
        ``"error"`` (the data is invalid as it is), ``"warning"`` (valid, but likely to
        distort a fit) or ``"note"`` (worth a look).
    kind
        A short fixed label of the check: ``"hbayesdm-columns"``, ``"trial-id-blocks"``,
        ``"rt-milliseconds"``, ``"fast-responses"``, ``"slow-responses"``,
        ``"one-response"``, ``"long-run"``, ``"few-trials"``.
    message
        One line: what was found, where (column, participant, values) and the remedy.
    participant
        The participant concerned, or ``None`` for a finding about the whole data.
    """

    severity: Severity
    kind: str
    message: str
    participant: Hashable | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def _plain(x: object) -> object:
    """numpy scalars as Python values, so messages read ``5036`` rather than ``np.int64(5036)``."""
    return x.item() if isinstance(x, np.generic) else x


def _seconds(values: np.ndarray) -> str:
    """Response times in a message: ``0.009, 0.014 s``."""
    return ", ".join(f"{v:.3g}" for v in values) + " s"


def _numbers(data: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats, NaN where it is not a number (validation names those)."""
    series = data[column]
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_object_dtype(series)
            or pd.api.types.is_string_dtype(series)):
        return np.full(len(data), np.nan)
    return cast(pd.Series, pd.to_numeric(series, errors="coerce")).to_numpy(dtype=float, na_value=np.nan)


def _normal(name: object) -> str:
    """hBayesDM's matching of column names: case, underscores (and dots) ignored."""
    return str(name).replace("_", "").replace(".", "").lower()


def screen(
    data: object,
    *,
    with_rt: bool = True,
    fast: float = FAST_RT,
    slow_mads: float = SLOW_MADS,
    long_run: float = LONG_RUN,
    min_trials: int = MIN_TRIALS,
) -> list[Finding]:
    """Screen trial data for what distorts a fit; one [`Finding`][rlssm.screening.Finding] each.

    Checks, in this order:

    - columns that are hBayesDM's (``subjID``, ``choice``, ...) instead of rlssm's: read
      the file with [`load_hbayesdm`][rlssm.io.load_hbayesdm] (error);
    - ``trial_id`` (or ``trial``) repeated within a participant where ``block`` plus
      ``trial_id`` are unique: trial numbers restart in each block (error: rlssm orders
      trials by ``trial_id`` alone);
    - a median response time above ``rlssm.data.SLOW_MEDIAN_RT`` (20 s), in the whole
      data or in some participants only: milliseconds (warning; the response-time checks
      below then read ``rt / 1000`` for them);
    - per participant, responses faster than ``fast`` seconds (warning): without a lapse
      mixture the non-decision time ``t`` must lie below each participant's fastest
      response, so a few fast guesses decide it;
    - per participant, responses more than ``slow_mads`` median absolute deviations
      above the participant's median (note), or above 20 s, beyond the default lapse
      density (warning);
    - per participant, one response on every answered trial (warning) or a run of one
      response over at least ``long_run`` of the participant's answered trials (note);
    - participants with fewer than ``min_trials`` answered trials (warning).

    Parameters
    ----------
    data
        Trial data in rlssm's format (see the Data page); it need not be valid.
    with_rt
        False for a choice-only model: response times are not read.
    fast
        Seconds: responses faster than this are reported.
    slow_mads
        Responses more than this many median absolute deviations (scaled by 1.4826,
        the standard deviation of normal data) above the participant's median are reported.
    long_run
        A run of one response over at least this fraction of a participant's answered
        trials is reported.
    min_trials
        Participants with fewer answered trials are reported.

    Returns
    -------
    list of Finding
        Errors first, then warnings, then notes; empty when nothing was found.

    Raises
    ------
    DataError
        When ``data`` is not a ``pandas.DataFrame``.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas.DataFrame, got {type(data).__name__}")
    findings: list[Finding] = []
    columns = set(data.columns)
    if "participant_id" not in columns:
        normal = {_normal(c): c for c in data.columns}
        if all(key in normal for key in _HBAYESDM_KEYS):
            findings.append(Finding(
                "error", "hbayesdm-columns",
                f"columns {[normal[k] for k in _HBAYESDM_KEYS]} are hBayesDM's, not rlssm's "
                "(participant_id, trial_id, response, rt, feedback): read the file with "
                "rlssm.load_hbayesdm(path) (rlssm check --format hbayesdm)",
            ))
        return findings
    if len(data) == 0:
        return findings
    pid = data["participant_id"]
    try:
        codes, participants = pd.factorize(pid, sort=True)
    except TypeError:
        return findings  # labels of mixed types (1 and '1'): validation names them
    if pid.isna().to_numpy().any():
        return findings  # validation names the row
    trial_column = "trial_id" if "trial_id" in columns else "trial" if "trial" in columns else None
    findings += _trial_blocks(data, trial_column)

    order = _trial_order(data, trial_column)
    response = data["response"] if "response" in columns else None
    answered = response.notna().to_numpy() if response is not None else np.ones(len(data), bool)

    rt = _numbers(data, "rt") if with_rt and "rt" in columns else None
    in_ms = np.zeros(len(participants), dtype=bool)
    if rt is not None:
        rt, in_ms, found = _milliseconds(rt, codes, participants)
        findings += found

    for p, label in enumerate(participants):
        label = _plain(label)
        rows = order[codes[order] == p]
        mine = rows[answered[rows]]
        if rt is not None:
            unit = "; rt read as milliseconds" if in_ms[p] else ""
            findings += _rt_findings(label, rt[mine], fast, slow_mads, unit)
        if response is not None and len(mine) > 0:
            findings += _run_findings(label, response.to_numpy()[mine], data, mine, trial_column, long_run)
        if len(mine) < min_trials:
            findings.append(Finding(
                "warning", "few-trials",
                f"participant {label!r}: {len(mine)} answered trial{'' if len(mine) == 1 else 's'}, fewer than {min_trials}: "
                "the learning parameters are barely identified from so few; a hierarchical fit "
                "(rlssm.fitting.Hierarchical) pools them with the others, or leave the participant out",
                label,
            ))
    return sorted(findings, key=lambda f: _SEVERITY_ORDER[f.severity])


def _milliseconds(
    rt: np.ndarray, codes: np.ndarray, participants: pd.Index | np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[Finding]]:
    """Response times that look like milliseconds (median above ``SLOW_MEDIAN_RT``): in
    the whole data, or only in some participants. Returns the rt in seconds for the
    other checks, which participants were read as milliseconds, and the finding."""
    positive = np.isfinite(rt) & (rt > 0)
    medians = np.array([np.median(rt[positive & (codes == p)]) if (positive & (codes == p)).any() else np.nan
                        for p in range(len(participants))])
    in_ms = medians > SLOW_MEDIAN_RT
    if not in_ms.any():
        return rt, in_ms, []
    if in_ms[np.isfinite(medians)].all():
        finding = Finding(
            "warning", "rt-milliseconds",
            f"column 'rt': the median response time is {np.median(rt[positive]):.4g}, above "
            f"{SLOW_MEDIAN_RT:g} s: these look like milliseconds, and rlssm reads seconds: divide by 1000 "
            "(data['rt'] = data['rt'] / 1000); the checks below read rt / 1000",
        )
    else:
        labels = [_plain(x) for x in participants[in_ms]]
        shown = ", ".join(f"{x!r} ({m:.4g})" for x, m in zip(labels[:5], medians[in_ms][:5], strict=False))
        finding = Finding(
            "warning", "rt-milliseconds",
            f"column 'rt': the median response time of participant(s) {shown}"
            f"{f' and {len(labels) - 5} more' if len(labels) > 5 else ''} is above {SLOW_MEDIAN_RT:g} s, "
            "the others' below: theirs look like milliseconds, and rlssm reads seconds: divide their rt "
            "by 1000; the checks below read their rt / 1000",
        )
    return np.where(in_ms[codes], rt / 1000.0, rt), in_ms, [finding]


def _trial_order(data: pd.DataFrame, trial_column: str | None) -> np.ndarray:
    """Row positions in trial order within each participant, as the engine orders them
    (by ``trial_id``); by block, then trial, where trial numbers restart in each block;
    row order without a trial column."""
    if trial_column is None:
        return np.arange(len(data))
    trial = _numbers(data, trial_column)
    restarts = pd.DataFrame({"p": data["participant_id"].to_numpy(), "t": trial}).duplicated().any()
    if restarts and "block" in data.columns and data["block"].notna().to_numpy().all():
        block = pd.factorize(data["block"], sort=True)[0]
        # np.lexsort sorts by the last key first and is stable: ties keep their row order.
        return np.lexsort((trial, block))
    return np.argsort(trial, kind="stable")


def _trial_blocks(data: pd.DataFrame, trial_column: str | None) -> list[Finding]:
    """Trial numbers that restart in each block: unique with the block, not without it."""
    if trial_column is None or "block" not in data.columns or data["block"].isna().to_numpy().any():
        return []
    trial = _numbers(data, trial_column)
    if np.isnan(trial).any():
        return []
    frame = pd.DataFrame({"p": data["participant_id"].to_numpy(), "t": trial, "b": data["block"].to_numpy()})
    if not frame.duplicated(["p", "t"]).any() or frame.duplicated(["p", "b", "t"]).any():
        # Unique already, or duplicated even within a block: validation's message says it.
        return []
    dup = frame.duplicated(["p", "t"], keep=False)
    labels = [_plain(x) for x in pd.unique(frame.loc[dup, "p"])]
    first = frame.loc[dup].iloc[0]
    blocks = [_plain(b) for b in pd.unique(frame.loc[dup & (frame["p"] == first["p"]) & (frame["t"] == first["t"]), "b"])]
    shown = ", ".join(repr(x) for x in labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
    return [Finding(
        "error", "trial-id-blocks",
        f"column {trial_column!r}: {trial_column} restarts in each block ({int(dup.sum())} rows of "
        f"participant(s) {shown} repeat a value, e.g. {trial_column} {int(first['t'])} in blocks "
        f"{', '.join(repr(b) for b in blocks)}), but block + {trial_column} are unique; rlssm orders trials by "
        f"trial_id alone: number them across blocks, e.g. data = data.sort_values(['participant_id', 'block', "
        f"'{trial_column}']); data['trial_id'] = data.groupby('participant_id').cumcount() "
        "(rlssm.load_hbayesdm does this for hBayesDM files)",
    )]


def _rt_findings(label: object, rt: np.ndarray, fast: float, slow_mads: float, unit: str) -> list[Finding]:
    """Fast guesses and slow outliers of one participant's answered trials."""
    out: list[Finding] = []
    rt = rt[np.isfinite(rt) & (rt > 0)]
    if len(rt) == 0:
        return out
    quick = np.sort(rt[rt < fast])
    if len(quick):
        out.append(Finding(
            "warning", "fast-responses",
            f"participant {label!r}: {len(quick)} of {len(rt)} responses faster than {fast:g} s "
            f"(fastest {_seconds(quick[:5])}{unit}), likely fast guesses: without a lapse mixture t must "
            f"stay below {quick[0]:.3g} s, so they decide it; remedies: a lapse mixture, "
            "rlssm.Lapse(decision_model) (adds the parameter p_outlier), or a higher lower bound on rt: "
            f"mark responses under {fast:g} s as missed (rt and response NaN; this also skips their "
            "learning update)",
            label,
        ))
    median = float(np.median(rt))
    mad = 1.4826 * float(np.median(np.abs(rt - median)))
    beyond = np.sort(rt[rt > LAPSE_WINDOW])[::-1]
    if len(beyond):
        out.append(Finding(
            "warning", "slow-responses",
            f"participant {label!r}: {len(beyond)} responses slower than {LAPSE_WINDOW:g} s "
            f"(slowest {_seconds(beyond[:5])}{unit}), beyond the default lapse density (uniform on "
            f"[0, {LAPSE_WINDOW:g}] s): check them against the task's deadline; widen the lapse "
            "density or mark them as missed (rt and response NaN)",
            label,
        ))
    elif mad > 0:
        cut = median + slow_mads * mad
        slow = np.sort(rt[rt > cut])[::-1]
        if len(slow):
            out.append(Finding(
                "note", "slow-responses",
                f"participant {label!r}: {len(slow)} of {len(rt)} responses more than {slow_mads:g} "
                f"MADs above the participant's median {median:.3g} s, i.e. slower than {cut:.3g} s "
                f"(slowest {_seconds(slow[:5])}{unit}): possible lapses of attention; a lapse mixture, "
                "rlssm.Lapse(decision_model), absorbs them",
                label,
            ))
    return out


def _run_findings(
    label: object, responses: np.ndarray, data: pd.DataFrame, rows: np.ndarray, trial_column: str | None,
    long_run: float,
) -> list[Finding]:
    """One response throughout, or a long run of one response (rows in trial order)."""
    n = len(responses)
    change = np.flatnonzero(np.r_[True, responses[1:] != responses[:-1], True])
    lengths = np.diff(change)
    k = int(np.argmax(lengths))
    longest, start = int(lengths[k]), int(change[k])
    value = _plain(responses[start])
    if longest == n and n > 1:
        return [Finding(
            "warning", "one-response",
            f"participant {label!r}: response {value!r} on all {n} answered trials: nothing to learn "
            "from in the choices (the learning parameters are not identified); check the recording, "
            "or leave the participant out",
            label,
        )]
    if n > 1 and longest >= long_run * n and longest > 1:
        where = ""
        if trial_column is not None:
            ids = data[trial_column].to_numpy()[rows]
            where = f" ({trial_column} {_plain(ids[start])} to {_plain(ids[start + longest - 1])})"
        return [Finding(
            "note", "long-run",
            f"participant {label!r}: response {value!r} on {longest} consecutive answered trials{where}, "
            f"{longest / n:.0%} of the participant's: a key held down, or exploitation of the better "
            "option; check it against the task (reversals, blocks)",
            label,
        )]
    return []


def severities(findings: Sequence[Finding]) -> str:
    """``"2 warnings, 1 note"``: a count of findings by severity, for a report's heading."""
    counts = {s: sum(f.severity == s for f in findings) for s in _SEVERITY_ORDER}
    parts = [f"{n} {s}{'' if n == 1 else 's'}" for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "none"
