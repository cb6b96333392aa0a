"""Range checks of computed decision parameters against a decision model's valid region.

An approximate likelihood such as [`AngleLAN`][rlssm.AngleLAN] is only trained on a box
of decision parameters; outside it the network extrapolates silently. The decision
parameters an [`RLSSM`][rlssm.RLSSM] feeds it are partly *computed* (the drift
``v = scaler * (Q[1] - Q[0])`` depends on the data and the learning parameters), so a
bound on ``scaler`` alone does not keep ``v`` in the box. Two checks make such
extrapolation visible, each as **one** [`LANRangeWarning`][rlssm.LANRangeWarning]
giving the share of trials affected (trials pooled over parameter draws):

[`check_decision_ranges`][rlssm.fitting.check_decision_ranges]
    Before fitting (called by [`RLSSM.to_hssm`][rlssm.RLSSM.to_hssm]): parameter sets
    are drawn from the intercept priors of ``include`` (where they are simple
    distributions) or uniformly within the model's bounds, and the decision parameters
    they imply on the observed trials are checked.
[`check_posterior_ranges`][rlssm.fitting.check_posterior_ranges]
    After fitting: the per-trial parameters of posterior draws (formulas, covariates and
    random effects included, via [`posterior_rows`][rlssm.simulation.posterior_rows])
    are checked.

Both only run when the decision model checks its parameters
([`has_range_check`][rlssm.AbstractDecisionModel.has_range_check], True for a LAN and for
wrappers of one; the base
[`check_params`][rlssm.AbstractDecisionModel.check_params] accepts everything): for [`Angle`][rlssm.Angle] and [`DDM`][rlssm.DDM] they
return ``None`` at once, at no cost. They never raise on out-of-range parameters; they
warn. Silence the warning with ``warnings.filterwarnings("ignore",
category=rlssm.LANRangeWarning)`` if you have judged the extrapolation harmless.

Both return a `RangeReport`: the share of pooled trials outside the decision model's
``bounds``, per decision parameter and overall.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from .._errors import LANRangeWarning
from .._precision import float_dtype, precision_scope
from ..engine import Trials, decide_grid, draw_arrays, n_draws_of, one_draw, resolve
from .priors import parse_prior

if TYPE_CHECKING:
    from ..data import TrialLayout
    from ..model import RLSSM

__all__ = [
    "MAX_POOLED",
    "RangeReport",
    "check_decision_ranges",
    "check_posterior_ranges",
    "decision_draws",
    "has_range_check",
]

MAX_POOLED = 4_000_000
"""Most trial x draw values pooled per decision parameter; fewer draws are used beyond."""

_CHUNK_CELLS = 2_000_000  # draws x participants x trials evaluated per vmapped call


@dataclasses.dataclass(frozen=True)
class RangeReport:
    """What a range check found.

    Attributes
    ----------
    fraction
        ``name -> share`` of pooled (trial, draw) pairs on which the decision parameter
        lies outside the decision model's ``bounds``.
    any_outside
        Share of pooled (trial, draw) pairs on which at least one parameter is outside.
    n_trials
        Observed trials per draw.
    n_draws
        Parameter draws pooled.
    source
        Where the draws came from (for the message).
    """

    fraction: dict[str, float]
    any_outside: float
    n_trials: int
    n_draws: int
    source: str

    @property
    def ok(self) -> bool:
        """True when every pooled value lies inside the bounds."""
        return self.any_outside == 0.0


def has_range_check(model: RLSSM) -> bool:
    """Whether the model's decision model checks its parameters' range (a LAN's training
    box; wrappers such as `Fixed` and `Lapse` answer for the model they wrap): see
    ``AbstractDecisionModel.has_range_check``."""
    return model.decision_model.has_range_check


# ---------------------------------------------------------------------- computing
def decision_draws(
    model: RLSSM, layout: TrialLayout, params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Decision parameters on the observed trials for many parameter draws at once.

    Parameters
    ----------
    model
        The model.
    layout
        ``model.prepare(data)``.
    params
        Every name in ``model.param_names`` mapped to values with a leading draw axis
        ``D``, as [`rlssm.engine.resolve`][rlssm.engine.resolve] reads them with
        ``draws=True``: ``(D,)`` (one value per draw), ``(D, participants)`` or
        ``(D, rows)`` (one value per row of the data, in its order); a scalar or a
        Series is shared by every draw. ``(D, 1)``, what
        [`posterior_rows`][rlssm.simulation.posterior_rows] gives for a parameter
        without a regression, is one value per draw.

    Returns
    -------
    dict
        ``name -> (D, n_observed)`` for every decision-model parameter (computed ones
        such as ``v`` included), observed trials only.

    Raises
    ------
    DataError
        Missing or unknown names, values that are not finite, shapes the resolver
        does not take, or draw axes that disagree.
    """
    comp = model.composition
    resolved = resolve(params, model.param_names, layout.participants, layout.n_rows, draws=True)
    arrays, units = draw_arrays(resolved)
    d = n_draws_of(resolved)
    cells = max(1, layout.option.size)
    chunk = max(1, min(d, _CHUNK_CELLS // cells))
    observed = np.asarray(layout.observed)
    dtype = float_dtype(model.precision)
    with precision_scope(model.precision):
        trials = Trials.from_layout(layout, comp.trial_fields, dtype)

        def one(trials: Trials, draw: dict[str, jax.Array]) -> dict[str, jax.Array]:
            return decide_grid(comp, trials, one_draw(draw, units), layout.n_states)[2]

        fn = jax.jit(jax.vmap(one, in_axes=(None, 0)))
        pieces: dict[str, list[np.ndarray]] = {n: [] for n in model.decision_model.param_names}
        for start in range(0, d, chunk):
            stop = min(start + chunk, d)
            # Pad the last chunk to the chunk size: one compilation for all chunks.
            idx = np.minimum(np.arange(start, start + chunk), stop - 1)
            batch = {n: np.asarray(a[idx], dtype=dtype) for n, a in arrays.items()}
            out = fn(trials, batch)
            for n in pieces:
                grid = np.broadcast_to(np.asarray(out[n]), (chunk, *observed.shape))
                pieces[n].append(grid[: stop - start][:, observed])
    return {n: np.concatenate(v, axis=0) for n, v in pieces.items()}


def _report(model: RLSSM, pooled: Mapping[str, np.ndarray], n_draws: int, source: str) -> RangeReport:
    bounds = model.decision_model.bounds
    fraction: dict[str, float] = {}
    any_out: np.ndarray | None = None
    n_trials = 0
    for name, values in pooled.items():
        n_trials = values.shape[-1]
        if name not in bounds:
            continue
        lower, upper = map(float, bounds[name])
        out = (values < lower) | (values > upper)
        fraction[name] = float(out.mean()) if out.size else 0.0
        any_out = out if any_out is None else (any_out | out)
    share = float(any_out.mean()) if any_out is not None and any_out.size else 0.0
    return RangeReport(fraction, share, n_trials, n_draws, source)


def _warn_once(
    model: RLSSM, pooled: Mapping[str, np.ndarray], report: RangeReport, header: str, stacklevel: int
) -> None:
    """Call the decision model's ``check_params`` once and merge its warnings into one."""
    flat = {k: v.reshape(-1) for k, v in pooled.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.decision_model.check_params(flat)
    messages = []
    for w in caught:
        if issubclass(w.category, LANRangeWarning):
            messages.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not messages and report.ok:
        return
    text = (
        f"{header}: on {100.0 * report.any_outside:.3g}% of trials x draws "
        f"({report.n_trials} observed trials x {report.n_draws} draws from {report.source}) "
        f"at least one decision parameter of {type(model.decision_model).__name__} lies "
        f"outside its valid range. " + " ".join(messages)
    )
    warnings.warn(text, LANRangeWarning, stacklevel=stacklevel + 1)


# ---------------------------------------------------------------------- prior draws
def _spec_of(include: Sequence[Any] | None, name: str) -> Any:
    for spec in include or ():
        spec_name = spec.get("name") if isinstance(spec, Mapping) else getattr(spec, "name", None)
        if spec_name == name:
            return spec
    return None


def _field(spec: Any, key: str) -> Any:
    return spec.get(key) if isinstance(spec, Mapping) else getattr(spec, key, None)


def _intercept_prior(spec: Any) -> Any:
    """The prior of the parameter (no formula) or of its regression's intercept."""
    link = _field(spec, "link")
    if link not in (None, "identity"):
        return None  # the prior lives on the link's scale
    prior = _field(spec, "prior")
    formula = _field(spec, "formula")
    if isinstance(prior, Mapping) and formula is not None:
        return prior.get("Intercept")
    if isinstance(prior, Mapping) and "name" not in prior:
        return prior.get("Intercept")
    return prior


def _sample_prior(prior: Any, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """``n`` draws of a simple prior (scipy), or None if it is not one we can sample."""
    from scipy import stats

    parsed = parse_prior(prior)
    if parsed is None:
        return None
    name, args, bounds = parsed
    args = {k: v for k, v in args.items() if k not in ("initval", "dims", "transform")}
    try:
        a = {k: float(np.asarray(v)) for k, v in args.items()}
    except (TypeError, ValueError):
        return None  # hyperpriors or arrays
    try:
        if name == "Uniform":
            dist = stats.uniform(a["lower"], a["upper"] - a["lower"])
        elif name == "Normal":
            dist = stats.norm(a.get("mu", 0.0), a.get("sigma", 1.0))
        elif name == "TruncatedNormal":
            mu, sd = a.get("mu", 0.0), a.get("sigma", 1.0)
            lo, hi = a.get("lower", -math.inf), a.get("upper", math.inf)
            dist = stats.truncnorm((lo - mu) / sd, (hi - mu) / sd, loc=mu, scale=sd)
        elif name == "HalfNormal":
            dist = stats.halfnorm(scale=a.get("sigma", 1.0))
        elif name == "Beta":
            dist = stats.beta(a["alpha"], a["beta"])
        elif name == "Gamma":
            dist = stats.gamma(a["alpha"], scale=1.0 / a["beta"])
        elif name == "LogNormal":
            dist = stats.lognorm(a.get("sigma", 1.0), scale=math.exp(a.get("mu", 0.0)))
        elif name == "Exponential":
            dist = stats.expon(scale=1.0 / a["lam"])
        else:
            return None
    except KeyError:
        return None
    if bounds is not None:
        lo, hi = map(float, bounds)
        p_lo, p_hi = dist.cdf(lo), dist.cdf(hi)
        if not p_hi > p_lo:
            return None
        return np.asarray(dist.ppf(rng.uniform(p_lo, p_hi, n)), dtype=np.float64)
    return np.asarray(dist.rvs(size=n, random_state=rng), dtype=np.float64)


def _draw_params(
    model: RLSSM, include: Sequence[Any] | None, n_draws: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], list[str]]:
    """One value per draw and parameter; names drawn uniformly within the bounds listed."""
    out: dict[str, np.ndarray] = {}
    uniform: list[str] = []
    for name in model.param_names:
        lower, upper = model.bounds[name]
        spec = _spec_of(include, name)
        prior = None if spec is None else _intercept_prior(spec)
        if isinstance(prior, (int, float, np.integer, np.floating)) and not isinstance(prior, bool):
            out[name] = np.full(n_draws, float(prior))
            continue
        draws = None if prior is None else _sample_prior(prior, n_draws, rng)
        if draws is not None:
            # HSSM keeps parameters within their bounds: truncate the prior there.
            inside = np.clip(draws, lower, upper)
            redraw = (draws < lower) | (draws > upper)
            for _ in range(20):
                if not redraw.any():
                    break
                fresh = _sample_prior(prior, int(redraw.sum()), rng)
                assert fresh is not None
                inside[redraw] = np.clip(fresh, lower, upper)
                redraw[np.flatnonzero(redraw)] = (fresh < lower) | (fresh > upper)
            out[name] = inside
            continue
        uniform.append(name)
        if math.isfinite(lower) and math.isfinite(upper):
            out[name] = rng.uniform(lower, upper, n_draws)
        else:
            out[name] = np.full(n_draws, model.default_params[name])
    return out, uniform


# ---------------------------------------------------------------------- public checks
def check_decision_ranges(
    model: RLSSM,
    data: Any,
    include: Sequence[Any] | None = None,
    n_draws: int = 200,
    seed: int = 0,
    *,
    stacklevel: int = 2,
) -> RangeReport | None:
    """Build-time check: do the priors and the data push decision parameters out of range?

    Draws ``n_draws`` parameter sets, computes the decision parameters they imply on the
    observed trials of ``data`` (values from the learning rule, then the mapping: e.g.
    ``v = scaler * (Q[1] - Q[0])``) and hands them, pooled over draws, to the decision
    model's ``check_params`` once. Any warnings it raises are merged into **one**
    [`LANRangeWarning`][rlssm.LANRangeWarning] giving the share of trials x draws
    outside the valid range, overall and per parameter. [`to_hssm`][rlssm.RLSSM.to_hssm]
    calls it with its ``include``; it never raises for out-of-range values.

    Draws of a parameter come from, in order: a constant ``prior`` in ``include``
    (``hssm.Param("a", prior=1.0)``); its prior in ``include`` (the ``Intercept`` prior
    of a regression) when that is a ``Uniform``, ``Normal``, ``TruncatedNormal``,
    ``HalfNormal``, ``Beta``, ``Gamma``, ``LogNormal`` or ``Exponential`` with numeric
    arguments and an identity link, truncated to the model's bounds; otherwise uniform
    within ``model.bounds`` (the default when ``include`` does not name the parameter,
    as HSSM's default priors are). Group-level deviations and covariate slopes are not
    drawn: the check is about the centre of the prior; run
    [`check_posterior_ranges`][rlssm.fitting.check_posterior_ranges] after fitting for
    the full per-trial picture.

    Parameters
    ----------
    model
        The model.
    data
        The trial data (validated by ``model.prepare``).
    include
        ``hssm.Param`` objects or dicts, as given to `to_hssm`.
    n_draws
        Parameter sets drawn (fewer when ``n_draws x observed trials`` would exceed
        [`MAX_POOLED`][rlssm.hssm_bridge.range_check.MAX_POOLED]).
    seed
        Seed of the draws.

    Returns
    -------
    RangeReport or None
        None, at no cost, when the decision model does not override ``check_params``
        (exact likelihoods such as `Angle` and `DDM`).
    """
    if not has_range_check(model):
        return None
    layout = model.prepare(data)
    n_obs = int(np.asarray(layout.observed).sum())
    if n_obs == 0:
        return None
    n_draws = max(1, min(int(n_draws), MAX_POOLED // n_obs))
    rng = np.random.default_rng(seed)
    params, uniform = _draw_params(model, include, n_draws, rng)
    pooled = decision_draws(model, layout, params)
    if uniform and len(uniform) == len(model.param_names):
        source = "uniform priors within the bounds"
    elif uniform:
        source = f"the priors (uniform within the bounds for {', '.join(uniform)})"
    else:
        source = "the priors"
    report = _report(model, pooled, n_draws, source)
    _warn_once(model, pooled, report, "Model build check (priors x data)", stacklevel)
    return report


def check_posterior_ranges(
    model: RLSSM,
    hm: Any,
    idata: Any,
    n_draws: int | None = 200,
    seed: int = 0,
    *,
    stacklevel: int = 2,
) -> RangeReport | None:
    """Posterior check: do the fitted per-trial decision parameters stay in range?

    Takes the per-row parameters of ``n_draws`` posterior draws from ``hm`` (built by
    [`to_hssm`][rlssm.RLSSM.to_hssm]; formulas, covariates and random effects
    included, via [`posterior_rows`][rlssm.simulation.posterior_rows]), computes the
    decision parameters on the observed trials and checks them, pooled over draws, with
    the decision model's ``check_params``: one
    [`LANRangeWarning`][rlssm.LANRangeWarning] with the share of trials x draws
    outside, overall and per parameter.

    Parameters
    ----------
    model
        The model ``hm`` was built from.
    hm
        The ``hssm.HSSM`` from ``model.to_hssm(data, ...)``.
    idata
        Its posterior (an ``InferenceData`` / ``DataTree`` with a ``posterior`` group).
    n_draws
        Posterior draws used (a random subset; None: all, up to
        [`MAX_POOLED`][rlssm.hssm_bridge.range_check.MAX_POOLED] trial x draw values).
    seed
        Seed of the subset.

    Returns
    -------
    RangeReport or None
        None, at no cost, when the decision model does not override ``check_params``.
    """
    if not has_range_check(model):
        return None
    from ..simulation import posterior_rows

    data = getattr(hm, "rlssm_data", None)
    if data is None:
        raise ValueError("check_posterior_ranges needs an hssm.HSSM built by RLSSM.to_hssm")
    layout = model.prepare(data)
    n_obs = int(np.asarray(layout.observed).sum())
    if n_obs == 0:
        return None
    cap = max(1, MAX_POOLED // n_obs)
    n_draws = cap if n_draws is None else max(1, min(int(n_draws), cap))
    rows, _, _ = posterior_rows(model, hm, idata, n_draws, seed)
    pooled = decision_draws(model, layout, rows)
    d = next(iter(pooled.values())).shape[0]
    report = _report(model, pooled, d, "the posterior")
    _warn_once(model, pooled, report, "Posterior check", stacklevel)
    return report
