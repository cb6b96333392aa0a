"""Predictive checks against the observed data, as tables.

Each function compares a statistic of the observed data with its distribution over
predictive data sets (the output of
[`RLSSM.posterior_predictive`][rlssm.RLSSM.posterior_predictive] in conditional mode, whose
rows are the observed rows repeated once per draw): one row per participant (and
quantile, or trial position), with the observed value, the predictive interval and
whether the observed value lies inside it.

* [`rt_quantile_check`][rlssm.simulation.rt_quantile_check]: each participant's
  response-time quantiles;
* [`trials_since_reversal`][rlssm.simulation.trials_since_reversal] and
  [`switch_rate_check`][rlssm.simulation.switch_rate_check]: how often participants
  switch options on the trials after a reversal of the task's better option.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["rt_quantile_check", "switch_rate_check", "trials_since_reversal"]


def _draws(data: pd.DataFrame, ppc: pd.DataFrame, column: str) -> np.ndarray:
    """``(draws, rows)`` of ``column``: the conditional predictive rows, in the data's order."""
    n = len(data)
    if len(ppc) % n or len(ppc) == 0:
        raise ValueError(
            f"ppc has {len(ppc)} rows, not a multiple of the data's {n}: pass conditional-mode "
            "predictions of this data (model.posterior_predictive(fit, idata, mode='conditional'))"
        )
    return ppc[column].to_numpy(dtype=float).reshape(-1, n)


def _interval(level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return (1.0 - level) / 2.0, (1.0 + level) / 2.0


def rt_quantile_check(
    data: pd.DataFrame,
    ppc: pd.DataFrame,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    level: float = 0.9,
) -> pd.DataFrame:
    """Each participant's observed response-time quantiles against their predictive
    intervals (central ``level``).

    Returns
    -------
    pandas.DataFrame
        ``participant_id``, ``quantile``, ``observed``, ``lower``, ``upper``, ``inside``.
    """
    lo, hi = _interval(level)
    sims = _draws(data, ppc, "rt")
    rt = data["rt"].to_numpy(dtype=float)
    rows = []
    for who in pd.unique(data["participant_id"].to_numpy()):
        mask = (data["participant_id"] == who).to_numpy() & np.isfinite(rt)
        observed = np.quantile(rt[mask], quantiles)
        per_draw = np.nanquantile(sims[:, mask], quantiles, axis=1)  # (quantiles, draws)
        lower, upper = np.quantile(per_draw, [lo, hi], axis=1)
        for q, o, a, b in zip(quantiles, observed, lower, upper):
            rows.append({"participant_id": who, "quantile": float(q), "observed": float(o),
                         "lower": float(a), "upper": float(b), "inside": bool(a <= o <= b)})
    return pd.DataFrame(rows)


def trials_since_reversal(data: pd.DataFrame, correct: str = "correct_option") -> pd.Series:
    """Per row: trials since the task's better option last changed within the
    participant's block (``0`` on the first trial after a change; NaN before the first
    change), in ``trial_id`` order.

    Parameters
    ----------
    data
        The trials; ``block`` is used where present.
    correct
        The column holding the better option of each trial (hBayesDM's reversal-learning
        files give it through ``choice.ACC``: the chosen option where that is 1).
    """
    if correct not in data.columns:
        raise KeyError(f"trials_since_reversal: data has no column {correct!r} (the better option of each trial)")
    keys = ["participant_id", "block"] if "block" in data.columns else ["participant_id"]
    ordered = data.sort_values([*keys, "trial_id"])
    changed = ordered.groupby(keys, sort=False)[correct].transform(lambda c: c.ne(c.shift()) & c.shift().notna())
    # Count trials since the last change: cumulative counters reset at each change.
    group = changed.groupby([ordered[k] for k in keys]).cumsum()
    since = ordered.groupby([*(ordered[k] for k in keys), group]).cumcount().astype(float)
    since[group == 0] = np.nan
    return since.reindex(data.index)


def switch_rate_check(
    data: pd.DataFrame,
    ppc: pd.DataFrame,
    since: pd.Series,
    after: int = 5,
    level: float = 0.9,
) -> pd.DataFrame:
    """The rate of switching away from the previous (observed) response on the trials
    ``0 .. after`` after a reversal, observed against predicted (central ``level``).

    A predicted switch is a predicted response that differs from the participant's
    observed previous response in the block: in conditional mode, what the model
    expected the participant to do next given what they did.

    Returns
    -------
    pandas.DataFrame
        ``after`` (trials since the reversal), ``observed``, ``lower``, ``upper``,
        ``inside``, ``trials``.
    """
    lo, hi = _interval(level)
    keys = ["participant_id", "block"] if "block" in data.columns else ["participant_id"]
    order = data.sort_values([*keys, "trial_id"]).index
    previous = data.loc[order].groupby(keys)["response"].shift(1).reindex(data.index).to_numpy(dtype=float)
    sims = _draws(data, ppc, "response")
    observed = data["response"].to_numpy(dtype=float)
    valid = np.isfinite(previous) & np.isfinite(observed)
    position = since.reindex(data.index).to_numpy(dtype=float)
    rows = []
    for k in range(after + 1):
        mask = valid & (position == k)
        if not mask.any():
            continue
        o = float(np.mean(observed[mask] != previous[mask]))
        per_draw = np.mean(sims[:, mask] != previous[mask], axis=1)
        a, b = np.quantile(per_draw, [lo, hi])
        rows.append({"after": k, "observed": o, "lower": float(a), "upper": float(b),
                     "inside": bool(a <= o <= b), "trials": int(mask.sum())})
    return pd.DataFrame(rows)
