"""Plots researchers look at: learning curves with predictive bands, recovery, values.

Every function draws with matplotlib and returns the ``Figure`` (nothing is shown or
saved; the CLI saves them). Data frames follow the data format of the docs; predictive
frames are those of [`RLSSM.posterior_predictive`][rlssm.RLSSM.posterior_predictive]
(a ``draw`` column, optionally ``chain``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .model import RLSSM

QUANTILES = (0.1, 0.5, 0.9)


def _trial_bins(trial_rank: np.ndarray, n_bins: int) -> np.ndarray:
    top = max(int(trial_rank.max()) + 1, 1)
    edges = np.linspace(0, top, n_bins + 1)
    return np.clip(np.digitize(trial_rank, edges[1:-1]), 0, n_bins - 1)


def _with_rank(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``rank``: position of each trial within its participant (from ``trial_id``)."""
    out = df.copy()
    keys = ["participant_id"] + (["draw"] if "draw" in df.columns else []) + (
        ["chain"] if "chain" in df.columns else []
    )
    out["rank"] = out.groupby(keys)["trial_id"].rank(method="first").astype(int) - 1
    return out


def _correct(df: pd.DataFrame, observed: pd.DataFrame, choices: Sequence[Any]) -> pd.Series:
    """P(better option) per row: ``correct`` if present, else from the observed best option."""
    if "correct" in df.columns:
        return cast(pd.Series, df["correct"]).astype(float)
    if "correct" not in observed.columns or len(choices) != 2:
        raise ValueError(
            "learning curves need a 'correct' column (1 where the better option was chosen) "
            "in the data or the predictive draws"
        )
    # Two options: the better one is the observed response where it was correct, else the other.
    obs = cast(pd.DataFrame, observed[["participant_id", "trial_id", "response", "correct"]]).dropna()
    other = {choices[0]: choices[1], choices[1]: choices[0]}
    obs_resp = cast(pd.Series, obs["response"])
    best = np.where(obs["correct"] == 1, obs_resp, obs_resp.map(other))
    best_map = pd.Series(best, index=pd.MultiIndex.from_frame(cast(pd.DataFrame, obs[["participant_id", "trial_id"]])))
    idx = pd.MultiIndex.from_frame(cast(pd.DataFrame, df[["participant_id", "trial_id"]]))
    best_rows = best_map.reindex(idx).to_numpy()
    resp = cast(pd.Series, df["response"])
    return pd.Series(np.where(resp.isna(), np.nan, (resp.to_numpy() == best_rows).astype(float)),
                     index=df.index)


def plot_learning_curves(
    observed: pd.DataFrame,
    predictive: pd.DataFrame | None = None,
    *,
    n_bins: int = 10,
    choices: Sequence[Any] = (0, 1),
    band: float = 0.9,
) -> Figure:
    """P(choose the better option) and RT quantiles by trial bin, observed vs predictive.

    Parameters
    ----------
    observed
        The data (needs ``correct``, or a ``correct`` column in ``predictive``).
    predictive
        Predictive draws with a ``draw`` column; each draw gives one curve, summarised
        as a central ``band`` interval.
    n_bins
        Number of trial bins.
    choices
        Response values in option order (to derive ``correct`` for two options).
    band
        Mass of the predictive interval.
    """
    obs = _with_rank(observed)
    obs["bin"] = _trial_bins(obs["rank"].to_numpy(), n_bins)
    obs["p_correct"] = _correct(obs, observed, choices)
    if not _has_rt(observed):  # choice-only data: the learning curve alone
        fig, ax = plt.subplots(1, 1, figsize=(5.5, 4))
        axes = [ax]
    else:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    centers = np.arange(n_bins)
    lo_q, hi_q = (1 - band) / 2, 1 - (1 - band) / 2

    qs = np.asarray(QUANTILES)
    with_rt = len(axes) == 2
    obs_curve = cast(pd.Series, obs.groupby("bin")["p_correct"].mean()).reindex(centers)
    if predictive is not None:
        pred = _with_rank(predictive)
        pred["bin"] = _trial_bins(pred["rank"].to_numpy(), n_bins)
        pred["p_correct"] = _correct(pred, observed, choices)
        keys = ["chain", "draw"] if "chain" in pred.columns else ["draw"]
        per_draw = cast(pd.Series, pred.groupby(keys + ["bin"])["p_correct"].mean()).unstack("bin")
        axes[0].fill_between(centers, cast(pd.Series, per_draw.quantile(lo_q)).reindex(centers),
                             cast(pd.Series, per_draw.quantile(hi_q)).reindex(centers), color="C0", alpha=0.3,
                             label=f"predictive {band:.0%}")
        if with_rt:
            rtq = cast(pd.Series, pred.groupby(keys + ["bin"])["rt"].quantile(qs)).unstack(-1)
            for j, q in enumerate(QUANTILES):
                per = cast(pd.Series, rtq[q]).unstack("bin")
                axes[1].fill_between(centers, cast(pd.Series, per.quantile(lo_q)).reindex(centers),
                                     cast(pd.Series, per.quantile(hi_q)).reindex(centers), color=f"C{j}",
                                     alpha=0.25)
    axes[0].plot(centers, obs_curve.to_numpy(), "k-o", label="observed")
    axes[0].set(xlabel="trial bin", ylabel="P(better option)", ylim=(0, 1.02),
                title="Learning curve")
    axes[0].axhline(1 / len(choices), color="grey", lw=0.8, ls=":")
    axes[0].legend(loc="lower right")
    if with_rt:
        obs_rt = cast(pd.Series, obs.groupby("bin")["rt"].quantile(qs)).unstack().reindex(centers)
        for j, q in enumerate(QUANTILES):
            axes[1].plot(centers, obs_rt[q].to_numpy(), "-o", color=f"C{j}", label=f"observed q{q:.1f}")
        axes[1].set(xlabel="trial bin", ylabel="RT (s)", title="RT quantiles (bands: predictive)")
        axes[1].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _has_rt(df: pd.DataFrame) -> bool:
    """Whether ``df`` has response times (choice-only data has no rt, or NaN rt)."""
    return "rt" in df.columns and bool(np.isfinite(np.asarray(pd.to_numeric(df["rt"], errors="coerce"), float)).any())


def _binned(df: pd.DataFrame, n_bins: int) -> pd.DataFrame:
    out = _with_rank(df)
    out["bin"] = _trial_bins(out["rank"].to_numpy(), n_bins)
    return out


def plot_choice_proportions(
    observed: pd.DataFrame,
    predictive: pd.DataFrame | None = None,
    *,
    choices: Sequence[Any],
    n_bins: int = 10,
    band: float = 0.9,
) -> Figure:
    """The proportion of choices of each option by trial bin, observed vs predictive.

    Any number of options; missed trials are left out of the proportions.

    Parameters
    ----------
    observed
        The data.
    predictive
        Predictive draws with a ``draw`` column (optionally ``chain``); each draw gives
        one curve per option, summarised as a central ``band`` interval.
    choices
        Response values in option order (``model.choices``).
    n_bins
        Number of trial bins.
    band
        Mass of the predictive interval.
    """
    centers = np.arange(n_bins)
    lo_q, hi_q = (1 - band) / 2, 1 - (1 - band) / 2
    obs = _binned(observed, n_bins).dropna(subset=["response"])
    fig, ax = plt.subplots(1, 1, figsize=(6, 4))
    pred = None
    if predictive is not None:
        pred = _binned(predictive, n_bins).dropna(subset=["response"])
    keys = ["chain", "draw"] if pred is not None and "chain" in pred.columns else ["draw"]
    for k, c in enumerate(choices):
        if pred is not None:
            hit = (pred["response"] == c).astype(float)
            per_draw = cast(pd.Series, hit.groupby([pred[key] for key in keys + ["bin"]]).mean()).unstack("bin")
            ax.fill_between(centers, cast(pd.Series, per_draw.quantile(lo_q)).reindex(centers),
                            cast(pd.Series, per_draw.quantile(hi_q)).reindex(centers), color=f"C{k}", alpha=0.25)
        curve = cast(pd.Series, (obs["response"] == c).astype(float).groupby(obs["bin"]).mean()).reindex(centers)
        ax.plot(centers, curve.to_numpy(), "-o", color=f"C{k}", label=f"response {c}")
    ax.axhline(1 / len(choices), color="grey", lw=0.8, ls=":")
    title = "Choice proportions" + (f" (bands: predictive {band:.0%})" if pred is not None else "")
    ax.set(xlabel="trial bin", ylabel="P(response)", ylim=(0, 1.02), title=title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_rt_quantiles_by_option(
    observed: pd.DataFrame,
    predictive: pd.DataFrame | None = None,
    *,
    choices: Sequence[Any],
    n_bins: int = 5,
    band: float = 0.9,
) -> Figure:
    """RT quantiles (0.1, 0.5, 0.9) of each option's responses by trial bin, one panel
    per option, observed vs predictive.

    Parameters are those of [`plot_choice_proportions`][rlssm.plots.plot_choice_proportions];
    the data need response times (a choice-only data set has none: `ValueError`).
    """
    if not _has_rt(observed):
        raise ValueError("the data have no response times (choice-only data): plot choice proportions instead")
    centers = np.arange(n_bins)
    lo_q, hi_q = (1 - band) / 2, 1 - (1 - band) / 2
    qs = np.asarray(QUANTILES)
    obs = _binned(observed, n_bins).dropna(subset=["response", "rt"])
    pred = None if predictive is None else _binned(predictive, n_bins).dropna(subset=["response", "rt"])
    keys = ["chain", "draw"] if pred is not None and "chain" in pred.columns else ["draw"]
    fig, axes = plt.subplots(1, len(choices), figsize=(3.6 * len(choices), 3.4), sharey=True, squeeze=False)
    for ax, c in zip(axes[0], choices, strict=True):
        mine = obs[obs["response"] == c]
        if pred is not None:
            theirs = pred[pred["response"] == c]
            rtq = cast(pd.Series, theirs.groupby(keys + ["bin"])["rt"].quantile(qs)).unstack(-1)
            for j, q in enumerate(QUANTILES):
                per = cast(pd.Series, rtq[q]).unstack("bin")
                ax.fill_between(centers, cast(pd.Series, per.quantile(lo_q)).reindex(centers),
                                cast(pd.Series, per.quantile(hi_q)).reindex(centers), color=f"C{j}", alpha=0.25)
        if len(mine):
            obs_rt = cast(pd.Series, mine.groupby("bin")["rt"].quantile(qs)).unstack().reindex(centers)
            for j, q in enumerate(QUANTILES):
                ax.plot(centers, obs_rt[q].to_numpy(), "-o", color=f"C{j}", label=f"q{q:.1f}")
        ax.set(xlabel="trial bin", title=f"response {c}")
    axes[0][0].set(ylabel="RT (s)")
    axes[0][0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def plot_posterior_vs_truth(
    summary: pd.DataFrame,
    truth: Mapping[str, float] | None = None,
) -> Figure:
    """Group parameters: posterior mean and interval, with the generating value.

    Parameters
    ----------
    summary
        One row per parameter (index: names) with columns ``mean``, ``lower``,
        ``upper`` (see [`group_summary`][rlssm.plots.group_summary]).
    truth
        Generating values by parameter name (missing ones are not drawn).
    """
    names = list(summary.index)
    fig, axes = plt.subplots(1, len(names), figsize=(1.9 * len(names) + 1, 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        row = summary.loc[name]
        ax.errorbar([0], [row["mean"]], yerr=[[row["mean"] - row["lower"]], [row["upper"] - row["mean"]]],
                    fmt="o", color="C0", capsize=4, label="posterior")
        if truth is not None and name in truth:
            ax.plot([0], [truth[name]], "r_", markersize=22, mew=2.5, label="truth")
        ax.set_xticks([])
        ax.set_title(name, fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=8, frameon=False)
    fig.suptitle("Group parameters: posterior interval vs generating value")
    fig.tight_layout(rect=(0, 0, 0.93, 1))
    return fig


def plot_recovery(true: Mapping[str, Sequence[float] | np.ndarray],
                  estimated: Mapping[str, Sequence[float] | np.ndarray],
                  lower: Mapping[str, Sequence[float] | np.ndarray] | None = None,
                  upper: Mapping[str, Sequence[float] | np.ndarray] | None = None) -> Figure:
    """Parameter recovery: estimated against generating value, one panel per parameter."""
    names = [n for n in true if n in estimated]
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        x, y = np.asarray(true[name], float), np.asarray(estimated[name], float)
        if lower is not None and upper is not None:
            ax.errorbar(x, y, yerr=[y - np.asarray(lower[name]), np.asarray(upper[name]) - y],
                        fmt="o", ms=3, alpha=0.7, lw=0.8)
        else:
            ax.plot(x, y, "o", ms=3)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        r = np.corrcoef(x, y)[0, 1] if len(x) > 2 and x.std() > 0 and y.std() > 0 else np.nan
        ax.set(title=f"{name} (r = {r:.2f})", xlabel="true", ylabel="estimated")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_participant_values(
    model: RLSSM, data: pd.DataFrame, params: Mapping[str, Any], participant: Any
) -> Figure:
    """A participant's trial-wise values of every option and drift (`RLSSM.values`)."""
    one = cast(pd.DataFrame, data[data["participant_id"] == participant])
    if one.empty:
        raise ValueError(f"participant {participant!r} is not in the data")
    vals = model.values(data, params).loc[one.index] if data.index.is_unique else \
        model.values(data.reset_index(drop=True), params).iloc[np.flatnonzero(data["participant_id"] == participant)]
    order = np.argsort(one["trial_id"].to_numpy(), kind="stable")
    trial = one["trial_id"].to_numpy()[order]
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for c in model.choices:
        axes[0].plot(trial, vals[f"value_{c}"].to_numpy()[order], label=f"value of {c}")
    resp = one["response"].to_numpy()[order]
    for k, c in enumerate(model.choices):
        hit = resp == c
        axes[0].plot(trial[hit], np.full(hit.sum(), -0.05 - 0.05 * k), "|", color=f"C{k}", ms=6)
    if "feedback" in one.columns:
        axes[0].plot(trial, one["feedback"].to_numpy()[order], ".", color="grey", ms=3, label="feedback")
    axes[0].set(ylabel="value", title=f"Participant {participant}: values before each trial")
    axes[0].legend(fontsize=8, loc="best")
    computed = model.composition.computed
    for name in computed:
        axes[1].plot(trial, vals[name].to_numpy()[order], label=name)
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set(xlabel="trial_id", ylabel="decision parameter", title="Computed decision parameters")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def group_summary(idata: Any, names: Sequence[str], mass: float = 0.9) -> pd.DataFrame:
    """Posterior mean, central interval, R-hat and bulk ESS of the named variables.

    ``names`` are variables of ``idata.posterior`` (e.g. HSSM's ``a_Intercept``);
    works with the arviz 1.x ``DataTree`` and with classic ``InferenceData``.
    """
    import arviz as az

    posterior = idata.posterior
    lo_q, hi_q = (1 - mass) / 2, 1 - (1 - mass) / 2
    rows = {}
    for name in names:
        draws = np.asarray(posterior[name].values, dtype=float)  # (chain, draw)
        flat = draws.reshape(-1)
        rhat = float(np.asarray(az.rhat(draws)).squeeze()) if draws.shape[0] > 1 else np.nan
        ess = float(np.asarray(az.ess(draws, method="bulk")).squeeze())
        rows[name] = dict(mean=flat.mean(), sd=flat.std(ddof=1), lower=np.quantile(flat, lo_q),
                          upper=np.quantile(flat, hi_q), r_hat=rhat, ess_bulk=ess)
    return pd.DataFrame.from_dict(rows, orient="index")
