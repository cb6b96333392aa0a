"""Simulation-based calibration (SBC) of a model's fit.

Talts, Betancourt, Simpson, Vehtari & Gelman (2018), *Validating Bayesian inference
algorithms with simulation-based calibration*, arXiv:1804.06788. Draw parameters
``theta_n`` from the prior, simulate a data set ``y_n`` from them with the model's own
simulator ([`RLSSM.simulate`][rlssm.RLSSM.simulate]) in a task environment, fit ``y_n``
and count how many of ``L`` (thinned) posterior draws of each parameter lie below
``theta_n``: the rank ``r_n`` in ``0 .. L``. If the fit samples the exact posterior of the
model that generated the data, every parameter's ranks are uniform on ``0 .. L``
(Talts et al., theorem 1); a likelihood, prior, simulator or sampler that disagree show up
as ranks piled at the ends (posterior too narrow or biased) or in the middle (too wide).

[`sbc`][rlssm.calibration.sbc] runs the loop for a flat fit (one participant per data
set, [`rlssm.fitting.Flat`][rlssm.fitting.Flat]) or a hierarchical one
([`rlssm.fitting.Hierarchical`][rlssm.fitting.Hierarchical]: group locations, spreads and
every participant's value get ranks) and returns a
[`CalibrationResult`][rlssm.calibration.CalibrationResult] with the ranks, a uniformity
test per variable and ECDF-difference plots with simultaneous 95% bands (Säilynoja,
Bürkner & Vehtari 2022, *Graphical test for discrete uniformity and its applications in
goodness-of-fit evaluation and multiple sample comparison*, Statistics and Computing 32:32).

Flat fits run ``batch_size`` replicates at once as the independent participants of one
[`Flat`][rlssm.fitting.Flat] model: its joint posterior is the product of the replicates'
own posteriors, so each replicate's marginal is exact, and one compilation and one NUTS
run serve the batch. A replicate's parameters and data depend only on ``seed`` and its
index, never on the batch it is fitted in.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import FastResponseWarning

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .environments import AbstractEnvironment
    from .model import RLSSM

__all__ = [
    "SEED_PRIOR",
    "CalibrationResult",
    "draw_prior",
    "ecdf_band",
    "rank_statistic",
    "sbc",
    "uniformity_test",
]

SEED_PRIOR: dict[str, dict[str, Any]] = {
    "rl_alpha": {"name": "TruncatedNormal", "mu": 0.6, "sigma": 0.15},
    "rl_alpha_neg": {"name": "TruncatedNormal", "mu": 0.4, "sigma": 0.15},
    "scaler": {"name": "TruncatedNormal", "mu": 2.8, "sigma": 0.6},
    "a": {"name": "TruncatedNormal", "mu": 1.5, "sigma": 0.25},
    "z": {"name": "TruncatedNormal", "mu": 0.3, "sigma": 0.08},
    "t": {"name": "TruncatedNormal", "mu": 0.4, "sigma": 0.08},
    "theta": {"name": "TruncatedNormal", "mu": 0.3, "sigma": 0.1},
}
"""A prior around the seed tutorial's group values (truncated to each parameter's bounds),
for calibrating the seed model ``RLSSM(DualRateRW(), Angle())``; names a model lacks
are ignored by `sbc`'s ``prior="seed"``."""

DEFAULT_BATCH_SIZE = 25
"""Flat replicates fitted together in one NUTS run. On the seed model (200 trials, exact
``Angle``, float64, 500 + 500 iterations, one chain, a shared two-core machine) a batch of
25 took 5.5 ms per gradient against 1.5 ms for one replicate alone, and 60 leapfrog steps
per iteration against 19 (the step size suits the hardest replicate of the batch): about
14 s per replicate against 31 s alone, with a larger effective sample size (bulk ESS
500-1000 against 140-400), and one compilation for the batch."""


# ---------------------------------------------------------------------- prior draws
def _prior_dists(model: RLSSM, prior: Mapping[str, Any] | None) -> dict[str, tuple[Any, tuple[float, float]]]:
    from .fitting.flat import prior_distribution

    prior = dict(prior or {})
    unknown = [k for k in prior if k not in model.param_names]
    if unknown:
        raise ValueError(f"prior: {unknown} are not parameters of this model {model.param_names}")
    return {n: prior_distribution(n, prior.get(n), *model.bounds[n]) for n in model.param_names}


def _resolve_prior(model: RLSSM, prior: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if prior is None:
        return {}
    if isinstance(prior, str):
        if prior != "seed":
            raise ValueError(f"prior must be a mapping, None (the defaults) or 'seed', got {prior!r}")
        return {k: v for k, v in SEED_PRIOR.items() if k in model.param_names}
    return dict(prior)


def draw_prior(
    model: RLSSM,
    prior: Mapping[str, Any] | None,
    n: int,
    seed: int = 0,
    n_participants: int | None = None,
    group_sd: float | Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """``n`` draws of every parameter from the prior of a flat or hierarchical fit.

    Flat (``n_participants=None``): ``name -> (n,)`` from each parameter's prior, the one
    [`Flat`][rlssm.fitting.Flat] uses. Hierarchical (``n_participants=P``), as
    [`Hierarchical`][rlssm.fitting.Hierarchical] defines it: the group location
    ``name -> (n,)`` from the same natural-unit prior, the spread ``<name>_sigma -> (n,)``
    from ``HalfNormal(group_sd)`` on the link scale of the parameter's bounds, and the
    participants ``<name>_subj -> (n, P)`` as ``link^-1(link(location) + sigma z)``,
    ``z ~ Normal(0, 1)``.

    Parameters
    ----------
    model
        The model.
    prior
        ``name -> {"name": dist, **kwargs}`` or ``hssm.Prior`` in natural units (see
        [`Flat`][rlssm.fitting.Flat]); parameters not named get the default prior.
    n
        Number of draws.
    seed
        Seed of the draws; draw ``i`` depends on ``seed`` and ``i`` only, not on ``n``
        (the first ``n`` draws of a longer run are the same).
    n_participants
        Participants per draw of a hierarchical prior; None for the flat prior.
    group_sd
        Scale of the spreads' ``HalfNormal`` (hierarchical only; a number, or
        ``name -> number``; default `DEFAULT_GROUP_SD` of `rlssm.fitting.hierarchical`).

    Raises
    ------
    ValueError
        For a prior [`Flat`][rlssm.fitting.Flat] would refuse, a ``group_sd`` that is not
        positive and finite (or names no parameter), or ``group_sd`` without
        ``n_participants`` (flat draws have no spreads).
    """
    import pymc as pm

    from .fitting.hierarchical import DEFAULT_GROUP_SD
    from .fitting.links import Link, group_scales, link_inverse

    if isinstance(n, bool) or not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n_participants is None:
        if group_sd is not None:
            raise ValueError(
                f"group_sd={group_sd!r} scales the spreads of a hierarchical prior: give n_participants "
                "too, or leave group_sd out for flat draws"
            )
    elif isinstance(n_participants, bool) or not (isinstance(n_participants, (int, np.integer)) and n_participants >= 1):
        raise ValueError(f"n_participants must be a positive integer or None (flat draws), got {n_participants!r}")
    names = model.param_names
    scales = group_scales(group_sd, names, DEFAULT_GROUP_SD) if n_participants is not None else {}
    dists = _prior_dists(model, prior)
    # pm.draw calls one compiled function ``n`` times and the spreads and offsets come
    # from one generator in replicate order: draw i is the same whatever ``n``.
    location = pm.draw([d for d, _ in dists.values()], draws=n, random_seed=seed, mode="FAST_COMPILE")
    out: dict[str, Any] = {name: np.asarray(v, dtype=float).reshape(n) for name, v in zip(names, location)}
    if n_participants is None:
        return out
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    sigma = {name: np.empty(n) for name in names}
    subj = {name: np.empty((n, n_participants)) for name in names}
    for i in range(n):
        for name in names:
            link = Link(*model.bounds[name])
            sigma[name][i] = abs(rng.normal(0.0, scales[name]))
            mu = float(link.forward(float(out[name][i])))
            subj[name][i] = [link_inverse(link, mu + sigma[name][i] * z) for z in rng.normal(size=n_participants)]
    for name in names:
        out[f"{name}_sigma"], out[f"{name}_subj"] = sigma[name], subj[name]
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


# ---------------------------------------------------------------------- ranks and tests
def rank_statistic(draws: np.ndarray, truth: float | np.ndarray, thin: int = 1) -> np.ndarray:
    """The number of thinned posterior draws below the true value.

    Parameters
    ----------
    draws
        ``(chains, draws, ...)`` posterior draws.
    truth
        The generating value (broadcasting against the trailing dimensions of ``draws``).
    thin
        Keep every ``thin``-th draw of each chain (from the first).

    Returns
    -------
    numpy.ndarray
        Ranks in ``0 .. L`` with ``L = chains * ceil(draws / thin)``.
    """
    if not (isinstance(thin, (int, np.integer)) and thin >= 1):
        raise ValueError(f"thin must be a positive integer, got {thin!r}")
    kept = np.asarray(draws, dtype=float)[:, ::thin]
    return np.asarray(np.sum(kept < np.asarray(truth, dtype=float), axis=(0, 1)))


def _binom_cdf(k: np.ndarray, n: int, p: np.ndarray) -> np.ndarray:
    from scipy.special import bdtr

    # bdtr is the binomial CDF; below 0 it is 0 (scipy returns NaN there).
    k = np.asarray(k, dtype=float)
    return np.where(k < 0, 0.0, bdtr(np.maximum(k, 0.0), n, p))


def _ecdf_counts(ranks: np.ndarray, n_ranks: int) -> tuple[np.ndarray, np.ndarray]:
    """``z_j = j / (L + 1)`` and the counts of ranks below ``j``, ``j = 1 .. L``."""
    j = np.arange(1, n_ranks + 1)
    counts = np.sum(np.asarray(ranks)[..., None] < j, axis=-2)
    return j / (n_ranks + 1), counts


def _tail_probability(counts: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Smallest two-sided pointwise tail probability of ECDF counts (last axis: the z_j)."""
    lower = _binom_cdf(counts, n, z)
    upper = 1.0 - _binom_cdf(counts - 1, n, z)
    return np.min(np.minimum(2 * np.minimum(lower, upper), 1.0), axis=-1)


def _null_tail_probabilities(n: int, n_ranks: int, n_simulations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z, _ = _ecdf_counts(np.zeros(1), n_ranks)
    out = np.empty(n_simulations)
    for start in range(0, n_simulations, 100):
        ranks = rng.integers(0, n_ranks + 1, size=(min(100, n_simulations - start), n))
        j = np.arange(1, n_ranks + 1)
        counts = np.sum(ranks[..., None] < j, axis=1)
        out[start : start + len(ranks)] = _tail_probability(counts, n, z)
    return out


def _check_simulations(n_simulations: Any) -> None:
    if isinstance(n_simulations, bool) or not (isinstance(n_simulations, (int, np.integer)) and n_simulations >= 1):
        raise ValueError(f"n_simulations must be a positive integer, got {n_simulations!r}")


def ecdf_band(
    n: int, n_ranks: int, prob: float = 0.95, n_simulations: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simultaneous band for the ECDF of ``n`` uniform ranks on ``0 .. n_ranks``.

    Säilynoja et al. (2022): at ``z_j = j / (L + 1)``, ``j = 1 .. L``, the count of ranks
    below ``j`` is ``Binomial(n, z_j)``; the pointwise central intervals of level ``1 -
    gamma``, with ``gamma`` chosen by simulation so that a uniform sample's whole ECDF lies
    inside all of them with probability ``prob``, form the band.

    Returns
    -------
    tuple of numpy.ndarray
        ``z`` (L,), and the band's lower and upper ECDF values (L,).
    """
    from scipy.special import bdtrik

    if isinstance(prob, bool) or not (isinstance(prob, (int, float, np.floating)) and 0.0 < prob < 1.0):
        raise ValueError(f"prob must be a number strictly between 0 and 1, got {prob!r}")
    _check_simulations(n_simulations)
    null = _null_tail_probabilities(n, n_ranks, n_simulations, seed)
    gamma = float(np.quantile(null, 1.0 - prob))
    z, _ = _ecdf_counts(np.zeros(1), n_ranks)
    # Binomial quantiles: the smallest k with CDF >= q.
    lower = np.ceil(bdtrik(gamma / 2, n, z)) / n
    upper = np.ceil(bdtrik(1 - gamma / 2, n, z)) / n
    return z, np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)


def uniformity_test(
    ranks: np.ndarray, n_ranks: int, bins: int | None = None, n_simulations: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Two tests that ranks on ``0 .. n_ranks`` are uniform.

    * ``chi2_p``: Pearson's chi-square test on ``bins`` bins of (nearly) equal width in rank
      space, with the exact expected share of each bin (default: as many bins as give at
      least 5 expected ranks each, at most 20 and at most ``n_ranks + 1``);
    * ``ecdf_p``: the ECDF test of Säilynoja et al. (2022), the probability that uniform
      ranks give an ECDF as far outside its pointwise binomial intervals (smallest
      two-sided tail probability over ``z_j``), by ``n_simulations`` simulations; the ECDF
      leaves the 95% band of `ecdf_band` exactly when ``ecdf_p < 0.05`` (up to
      simulation noise).

    Returns
    -------
    dict
        ``chi2``, ``chi2_p``, ``bins``, ``ecdf_p``.
    """
    from scipy.stats import chi2

    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or ranks.size == 0:
        raise ValueError(f"ranks must be a non-empty 1-D array, got shape {ranks.shape}")
    if np.any((ranks < 0) | (ranks > n_ranks)):
        raise ValueError(f"ranks must lie in 0 .. {n_ranks}")
    _check_simulations(n_simulations)
    n = ranks.size
    if bins is None:
        bins = int(max(2, min(20, n // 5, n_ranks + 1)))
    if not (2 <= bins <= n_ranks + 1):
        raise ValueError(f"bins must be between 2 and n_ranks + 1 = {n_ranks + 1}, got {bins}")
    edges = np.round(np.linspace(0, n_ranks + 1, bins + 1)).astype(int)
    observed = np.histogram(ranks, bins=edges)[0]
    expected = n * np.diff(edges) / (n_ranks + 1)
    stat = float(np.sum((observed - expected) ** 2 / expected))
    z, counts = _ecdf_counts(ranks[None, :], n_ranks)
    observed_tail = float(_tail_probability(counts, n, z)[0])
    null = _null_tail_probabilities(n, n_ranks, n_simulations, seed)
    return {
        "chi2": stat,
        "chi2_p": float(chi2.sf(stat, bins - 1)),
        "bins": float(bins),
        "ecdf_p": float((1 + np.sum(null <= observed_tail)) / (1 + n_simulations)),
    }


# ---------------------------------------------------------------------- result
@dataclass
class CalibrationResult:
    """The outcome of [`sbc`][rlssm.calibration.sbc].

    Attributes
    ----------
    ranks
        Replicate x variable ranks in ``0 .. n_ranks`` (flat fits: the parameters;
        hierarchical fits: every group location ``p``, spread ``p_sigma`` and
        participant value ``p_subj[i]``).
    n_ranks
        ``L``, the number of thinned posterior draws each rank counts among.
    truth
        Replicate x variable generating values.
    diagnostics
        Per replicate: ``batch``, ``divergences`` (of its NUTS run, shared by a batch),
        ``min_ess_bulk`` (smallest bulk ESS of its variables, before thinning),
        ``seconds`` (its NUTS run's wall time, shared by a batch).
    settings
        The arguments of the run.
    """

    ranks: pd.DataFrame
    n_ranks: int
    truth: pd.DataFrame
    diagnostics: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def _variables(self, variables: Sequence[str] | None, default: list[str]) -> list[str]:
        """``variables`` checked against the ranked ones (``default`` when None)."""
        if variables is None:
            return default
        if isinstance(variables, str):
            raise TypeError(
                f"variables must be a sequence of variable names, e.g. [{variables!r}], got the string {variables!r}"
            )
        names = list(variables)
        if not names:
            raise ValueError(f"variables is empty; choose from {list(self.ranks.columns)}")
        unknown = [v for v in names if v not in self.ranks.columns]
        if unknown:
            raise ValueError(f"variables: {unknown} were not ranked; the ranked variables are {list(self.ranks.columns)}")
        return names

    def group_variables(self) -> list[str]:
        """The variables other than per-participant values (all of a flat fit's)."""
        return [c for c in self.ranks.columns if "[" not in c]

    def uniformity(self, variables: Sequence[str] | None = None, bins: int | None = None, seed: int = 0) -> pd.DataFrame:
        """[`uniformity_test`][rlssm.calibration.uniformity_test] per variable (default: all).

        Returns a DataFrame indexed by variable with ``chi2``, ``chi2_p``, ``bins``,
        ``ecdf_p`` and ``mean_rank`` (``n_ranks / 2`` expected). A name that was not
        ranked is a ``ValueError`` listing the ranked ones.
        """
        names = self._variables(variables, list(self.ranks.columns))
        rows = {}
        for name in names:
            r = self.ranks[name].to_numpy()
            rows[name] = uniformity_test(r, self.n_ranks, bins=bins, seed=seed) | {"mean_rank": float(r.mean())}
        out = pd.DataFrame.from_dict(rows, orient="index")
        out["bins"] = out["bins"].astype(int)
        return out

    def plot(self, variables: Sequence[str] | None = None, prob: float = 0.95, ncols: int = 4) -> Figure:
        """ECDF of each variable's scaled ranks minus the uniform CDF, with the simultaneous
        ``prob`` band of [`ecdf_band`][rlssm.calibration.ecdf_band] (default variables: the
        group ones)."""
        import matplotlib.pyplot as plt

        names = self._variables(variables, self.group_variables())
        if isinstance(ncols, bool) or not (isinstance(ncols, (int, np.integer)) and ncols >= 1):
            raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
        n = len(self.ranks)
        z, lower, upper = ecdf_band(n, self.n_ranks, prob=prob)
        nrows = max(1, math.ceil(len(names) / ncols))
        fig, axes = plt.subplots(nrows, min(ncols, len(names)), figsize=(3.2 * min(ncols, len(names)), 2.6 * nrows),
                                 squeeze=False, sharex=True)
        for ax, name in zip(axes.flat, names):
            _, counts = _ecdf_counts(self.ranks[name].to_numpy()[None, :], self.n_ranks)
            ecdf = counts[0] / n
            # The ECDF at z_j = j / (L + 1), held until the next z (0 at both ends).
            x = np.concatenate([[0.0], z, [1.0]])
            ax.fill_between(x, np.r_[0.0, lower - z, 0.0], np.r_[0.0, upper - z, 0.0], step="post", color="0.85")
            ax.step(x, np.r_[0.0, ecdf - z, 0.0], where="post", color="C0", lw=1.2)
            ax.axhline(0.0, color="0.4", lw=0.6)
            outside = bool(np.any((ecdf < lower) | (ecdf > upper)))
            ax.set_title(name + (" (outside)" if outside else ""), fontsize=9, color="C3" if outside else "black")
        for ax in list(axes.flat)[len(names):]:
            ax.set_visible(False)
        for ax in axes[-1]:
            ax.set_xlabel("fractional rank")
        for ax in axes[:, 0]:
            ax.set_ylabel("ECDF - uniform")
        fig.suptitle(f"SBC: {n} replicates, {self.n_ranks} thinned draws", fontsize=10)
        fig.tight_layout()
        return fig


# ---------------------------------------------------------------------- the loop
def _min_ess(posterior: Any, names: Sequence[str]) -> np.ndarray:
    """Smallest bulk ESS over ``names``, per remaining coordinate (e.g. participant_id)."""
    import arviz as az

    ds = posterior.to_dataset() if hasattr(posterior, "to_dataset") else posterior
    ess = az.ess(ds[list(names)], method="bulk")
    return np.min(np.stack([np.asarray(ess[n], dtype=float) for n in names]), axis=0)


def sbc(
    model: RLSSM,
    env: AbstractEnvironment,
    prior: Mapping[str, Any] | str | None = "seed",
    n_participants: int = 1,
    n_trials: int = 200,
    n_replicates: int = 100,
    fit: str = "flat",
    chains: int = 1,
    tune: int = 500,
    draws: int = 500,
    thin: int = 5,
    seed: int = 0,
    fit_prior: Mapping[str, Any] | str | None = None,
    group_sd: float | Mapping[str, float] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    target_accept: float = 0.9,
    max_tree_depth: int | tuple[int, int] = (7, 10),
    progress: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Simulation-based calibration: prior draws, simulated data, fits, ranks.

    Parameters
    ----------
    model
        The model; its simulator makes the data.
    env
        The task environment the data are simulated in.
    prior
        Prior of the parameters (flat) or of the group locations (hierarchical), in
        natural units: ``name -> {"name": dist, **kwargs}``; ``"seed"`` for
        [`SEED_PRIOR`][rlssm.calibration.SEED_PRIOR] (default), None for the fits'
        defaults. Unnamed parameters get the fits' default priors.
    n_participants
        Participants per data set: 1 for ``fit="flat"``.
    n_trials
        Trials per participant.
    n_replicates
        Number of prior draws (data sets, fits).
    fit
        ``"flat"`` ([`Flat`][rlssm.fitting.Flat]) or ``"hierarchical"``
        ([`Hierarchical`][rlssm.fitting.Hierarchical]).
    chains, tune, draws, seed, target_accept, max_tree_depth
        NUTS settings (``seed`` also seeds the prior draws and the simulations), as in
        [`Flat.sample`][rlssm.fitting.Flat.sample].
    thin
        Keep every ``thin``-th draw: the ranks count among ``L = chains * ceil(draws /
        thin)`` draws. Talts et al. thin to about the effective sample size, since
        autocorrelated draws make uniform ranks look non-uniform.
    fit_prior
        The prior the fits use, if not ``prior`` (the negative control: a deliberately
        wrong prior must give non-uniform ranks).
    group_sd
        Scale of the group spreads' ``HalfNormal`` (hierarchical only: with
        ``fit="flat"`` it is an error), drawn and fitted alike.
    batch_size
        Flat replicates fitted together in one NUTS run (see the module docs); 1 fits
        each on its own.
    progress
        Called with a line after every fit (e.g. ``print``).
    """
    from .fitting import Flat, Hierarchical
    from .fitting.nuts import check_sampler_arguments

    if fit not in ("flat", "hierarchical"):
        raise ValueError(f"fit must be 'flat' or 'hierarchical', got {fit!r}")
    check_sampler_arguments(chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
                            max_tree_depth=max_tree_depth)
    for label, value, minimum in (("n_participants", n_participants, 1), ("n_trials", n_trials, 1),
                                  ("n_replicates", n_replicates, 2), ("thin", thin, 1), ("batch_size", batch_size, 1)):
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum):
            raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    if fit == "flat" and n_participants != 1:
        raise ValueError(
            f"fit='flat' calibrates one participant per data set, got n_participants={n_participants}; "
            "use fit='hierarchical' for groups"
        )
    if fit == "flat" and group_sd is not None:
        raise ValueError(
            f"group_sd={group_sd!r} scales the group spreads of fit='hierarchical'; a flat fit has none: "
            "leave it out, or use fit='hierarchical'"
        )
    prior = _resolve_prior(model, prior)
    fit_prior = prior if fit_prior is None else _resolve_prior(model, fit_prior)
    _prior_dists(model, fit_prior)  # checks the fit's prior before any work
    hierarchical = fit == "hierarchical"
    truth = draw_prior(model, prior, n_replicates, seed=seed,
                       n_participants=n_participants if hierarchical else None, group_sd=group_sd)
    names = model.param_names
    n_ranks = chains * math.ceil(draws / thin)

    def simulate(i: int, values: Mapping[str, Any]) -> pd.DataFrame:
        data_seed = int(np.random.SeedSequence([seed, i, 1]).generate_state(1)[0] % (2**31))
        return model.simulate(values, env, n_participants=len(next(iter(values.values()))), n_trials=n_trials,
                              seed=data_seed)

    ranks: list[dict[str, float]] = []
    truths: list[dict[str, float]] = []
    diag: list[dict[str, float]] = []
    if not hierarchical:
        for b, start in enumerate(range(0, n_replicates, batch_size)):
            batch = list(range(start, min(start + batch_size, n_replicates)))
            frames = []
            for i in batch:
                one = simulate(i, {n: truth[n][i : i + 1] for n in names})
                frames.append(one.assign(participant_id=i))
            data = pd.concat(frames, ignore_index=True)
            with warnings.catch_warnings():
                # Simulated from the model: fast responses are its own, not guesses.
                warnings.simplefilter("ignore", FastResponseWarning)
                flat = Flat(model, data, priors=fit_prior)
            clock = time.perf_counter()
            idata = flat.sample(chains=chains, tune=tune, draws=draws, seed=seed + b, target_accept=target_accept,
                                max_tree_depth=max_tree_depth, progressbar=False)
            seconds = time.perf_counter() - clock
            posterior: Any = idata["posterior"]
            divergences = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
            ess = _min_ess(posterior, names)
            for k, i in enumerate(batch):
                row = {n: float(rank_statistic(posterior[n].values[:, :, k], truth[n][i], thin)) for n in names}
                ranks.append(row)
                truths.append({n: float(truth[n][i]) for n in names})
                diag.append({"batch": b, "divergences": divergences, "seconds": seconds,
                             "min_ess_bulk": float(ess[k])})
            if progress is not None:
                progress(f"batch {b + 1}: replicates {batch[0]}-{batch[-1]}, {seconds:.1f} s, "
                         f"{divergences} divergent draws")
    else:
        for i in range(n_replicates):
            data = simulate(i, {n: truth[f"{n}_subj"][i] for n in names})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FastResponseWarning)
                hier = Hierarchical(model, data, priors=fit_prior, group_sd=group_sd)
            clock = time.perf_counter()
            idata = hier.sample(chains=chains, tune=tune, draws=draws, seed=seed + i, target_accept=target_accept,
                                max_tree_depth=max_tree_depth, progressbar=False, log_likelihood=False)
            seconds = time.perf_counter() - clock
            posterior = idata["posterior"]
            row, true = {}, {}
            for n in names:
                for key in (n, f"{n}_sigma"):
                    row[key] = float(rank_statistic(posterior[key].values, truth[key][i], thin))
                    true[key] = float(truth[key][i])
                subj = rank_statistic(posterior[f"{n}_subj"].values, truth[f"{n}_subj"][i], thin)
                for p in range(n_participants):
                    row[f"{n}_subj[{p}]"] = float(subj[p])
                    true[f"{n}_subj[{p}]"] = float(truth[f"{n}_subj"][i][p])
            divergences = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
            group = [k for n in names for k in (n, f"{n}_sigma")]
            ranks.append(row)
            truths.append(true)
            diag.append({"batch": i, "divergences": divergences, "seconds": seconds,
                         "min_ess_bulk": float(_min_ess(posterior, group))})
            if progress is not None:
                progress(f"replicate {i + 1}/{n_replicates}: {seconds:.1f} s, {divergences} divergent draws")
    index = pd.RangeIndex(n_replicates, name="replicate")
    settings = dict(fit=fit, n_participants=n_participants, n_trials=n_trials, n_replicates=n_replicates,
                    chains=chains, tune=tune, draws=draws, thin=thin, seed=seed, batch_size=batch_size,
                    prior=prior, fit_prior=fit_prior, group_sd=group_sd)
    return CalibrationResult(
        ranks=pd.DataFrame(ranks, index=index).astype(int),
        n_ranks=n_ranks,
        truth=pd.DataFrame(truths, index=index),
        diagnostics=pd.DataFrame(diag, index=index),
        settings=settings,
    )
