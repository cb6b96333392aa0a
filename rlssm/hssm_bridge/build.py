"""A ready ``hssm.HSSM`` for an [`RLSSM`][rlssm.RLSSM] and its data.

How rows stay aligned with the data, and how missed trials reach HSSM: see
[`rlssm.hssm_bridge`][rlssm.hssm_bridge].
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..decision.lapse import DEFAULT_LAPSE_RT
from ..engine import check_fixed
from .config import make_model_config
from .likelihood import CHOICE_ONLY_RT
from .ops import make_logp_op
from .range_check import check_decision_ranges

if TYPE_CHECKING:
    import hssm

    from ..model import RLSSM

__all__ = [
    "CHOICE_ONLY_RT",
    "MISSED_RT_PLACEHOLDER",
    "default_intercept_prior",
    "default_prior_args",
    "hierarchical_include",
    "hssm_data",
    "missed_rt_placeholder",
    "to_hssm",
]

MISSED_RT_PLACEHOLDER = 1000.0
"""The rt (seconds) HSSM sees on missed trials; the bound Op ignores it (see
[`rlssm.hssm_bridge`][rlssm.hssm_bridge], *Missed trials*)."""

_RESERVED = ("model", "model_config", "loglik", "loglik_kind", "choices", "missing_data", "deadline")


# ---------------------------------------------------------------------- data
def missed_rt_placeholder(model: RLSSM) -> float:
    """The rt HSSM sees on missed trials: beyond any ``t`` within its bounds."""
    t_upper = model.bounds.get("t", (0.0, 0.0))[1]
    if math.isfinite(t_upper):
        return max(MISSED_RT_PLACEHOLDER, 2.0 * t_upper + 1.0)
    return MISSED_RT_PLACEHOLDER


def hssm_data(model: RLSSM, data: pd.DataFrame) -> pd.DataFrame:
    """The copy of ``data`` that HSSM is given: same rows and order, placeholders on missed trials.

    Validates ``data`` first (raising [`DataError`][rlssm.DataError]). The index is
    reset to positions ``0..rows-1``. On missed trials ``rt`` becomes
    [`missed_rt_placeholder`][rlssm.hssm_bridge.missed_rt_placeholder], ``response``
    ``choices[0]`` and NaN extra fields 0. For a choice-only model (e.g.
    [`Softmax`][rlssm.Softmax]) the ``rt`` column, which HSSM's data matrix needs but the
    likelihood ignores, is [`CHOICE_ONLY_RT`][rlssm.hssm_bridge.CHOICE_ONLY_RT] on every row.
    """
    model.prepare(data)
    out = data.reset_index(drop=True)  # a copy
    missed = out["response"].isna().to_numpy()
    if model.decision_model.choice_only:
        out["rt"] = CHOICE_ONLY_RT
    if missed.any():
        out["rt"] = np.asarray(pd.to_numeric(out["rt"]), dtype=np.float64)
        out.loc[missed, "rt"] = missed_rt_placeholder(model)
        out.loc[missed, "response"] = model.choices[0]
        for name in model.composition.data_fields:
            out.loc[missed & out[name].isna().to_numpy(), name] = 0.0
    return out


# ---------------------------------------------------------------------- priors
def default_prior_args(lower: float, upper: float) -> tuple[str, dict[str, Any]]:
    """The default intercept prior for bounds ``(lower, upper)``, as ``(distribution, args)``.

    A normal truncated to the bounds, centred mid-bound with a quarter of the range as
    scale; with one finite bound, 1 inside it with scale 2; unbounded, ``Normal(0, 2)``.
    The one source of these numbers: HSSM's priors
    ([`default_intercept_prior`][rlssm.hssm_bridge.default_intercept_prior]) and the
    group locations of [`rlssm.fitting.Hierarchical`][rlssm.fitting.Hierarchical].
    """
    if math.isfinite(lower) and math.isfinite(upper):
        return "TruncatedNormal", {
            "mu": 0.5 * (lower + upper), "sigma": 0.25 * (upper - lower), "lower": lower, "upper": upper,
        }
    if math.isfinite(lower):
        return "TruncatedNormal", {"mu": lower + 1.0, "sigma": 2.0, "lower": lower}
    if math.isfinite(upper):
        return "TruncatedNormal", {"mu": upper - 1.0, "sigma": 2.0, "upper": upper}
    return "Normal", {"mu": 0.0, "sigma": 2.0}


def default_intercept_prior(lower: float, upper: float) -> hssm.Prior:
    """[`default_prior_args`][rlssm.hssm_bridge.default_prior_args] as an ``hssm.Prior``."""
    import hssm

    dist, args = default_prior_args(lower, upper)
    return hssm.Prior(dist, **args)


def hierarchical_include(
    model: RLSSM, priors: Mapping[str, Any] | None = None
) -> list[hssm.Param]:
    """``p ~ 1 + (1|participant_id)`` for every parameter of the model.

    Parameters
    ----------
    model
        The model.
    priors
        Intercept prior per parameter name (an ``hssm.Prior`` or a dict with a
        ``"name"``). Default, for parameters not listed: a normal truncated to the
        parameter's bounds, centred mid-bound with a quarter of the range as scale.
        The group term's prior is left to HSSM (``prior_settings``).

    Returns
    -------
    list[hssm.Param]
        One ``hssm.Param`` per name in ``model.param_names``, for ``include=``.
    """
    import hssm

    priors = dict(priors or {})
    unknown = [k for k in priors if k not in model.param_names]
    if unknown:
        raise ValueError(
            f"priors names {unknown}, not parameters of this model {model.param_names}"
        )
    out = []
    for name in model.param_names:
        prior = priors.get(name)
        if prior is None:
            prior = default_intercept_prior(*model.bounds[name])
        elif isinstance(prior, Mapping):
            prior = hssm.Prior(**prior)
        out.append(
            hssm.Param(
                name,
                formula=f"{name} ~ 1 + (1|participant_id)",
                prior={"Intercept": prior},
            )
        )
    return out


# ---------------------------------------------------------------------- HSSM model
def _param_name(spec: Any) -> str:
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise ValueError(f"include: a parameter specification needs a 'name', got {spec!r}")
        return str(spec["name"])
    name = getattr(spec, "name", None)
    if name is None:
        raise TypeError(
            f"include: expected hssm.Param objects or dicts with a 'name', got {type(spec).__name__}"
        )
    return str(name)


def to_hssm(
    model: RLSSM,
    data: pd.DataFrame,
    include: Sequence[Any] | None = None,
    fixed: Mapping[str, float] | None = None,
    **kwargs: Any,
) -> hssm.HSSM:
    """An ``hssm.HSSM`` for ``data``, ready to ``.sample()``.

    Parameters
    ----------
    model
        The model.
    data
        The trial data, validated here (a [`DataError`][rlssm.DataError] is raised
        before HSSM sees it).
    include
        ``hssm.Param`` objects (or dicts) as in HSSM, e.g. ``hssm.Param("rl_alpha",
        formula="rl_alpha ~ 1 + (1|participant_id)", prior={...})``; each must name a
        parameter of ``model.param_names`` (or ``p_outlier``). See
        [`hierarchical_include`][rlssm.hssm_bridge.hierarchical_include].
    fixed
        Parameters held at constants, ``name -> value`` (HSSM's scalar prior), e.g.
        ``{"s": 1.0}`` for an LBA; each must be a parameter, inside its domain, and not
        named in ``include``.
    **kwargs
        Passed to ``hssm.HSSM`` (e.g. ``link_settings``, ``prior_settings``,
        ``noncentered``, ``lapse``). ``p_outlier`` defaults to ``None`` (no lapse
        mixture) here, not to HSSM's 0.05.

    Returns
    -------
    hssm.HSSM
        Its likelihood is the Op bound to ``data``, so its ``log_likelihood`` and
        predictive draws align with the rows of ``data`` as given (``__obs__`` ``i`` is
        row ``i`` by position). Missed trials reach HSSM as placeholders (see
        `hssm_data`) and contribute 0.0. The attributes ``rlssm_model`` and
        ``rlssm_data`` hold the model and the original data.

    Raises
    ------
    DataError
        Invalid data.
    ValueError
        ``include`` names an unknown parameter, or ``p_outlier`` is combined with
        missed trials (the lapse mixture would give them a likelihood).
    TypeError
        An argument that `to_hssm` sets itself (``model``, ``model_config``,
        ``loglik``, ``loglik_kind``, ``choices``, ``missing_data``, ``deadline``).

    Notes
    -----
    JAX's global ``jax_enable_x64`` flag: importing HSSM, which this function does,
    turns it on for the whole process (PyTensor's JAX backend sets it from its
    ``floatX = "float64"`` when imported), so arrays the caller creates afterwards
    default to float64. rlssm leaves the flag on: HSSM's samplers run its float64
    graph through JAX at sample time, and with the flag turned back off both the
    numpyro and the PyMC sampler get float32 arrays (a truncation warning on every
    call, and divergences in a small test fit that had none with the flag on).
    rlssm's own results do not depend on the flag (see the ``precision`` of
    [`RLSSM`][rlssm.RLSSM]); to keep float32 in your own code after this call, give
    dtypes explicitly or work inside ``jax.enable_x64(False)``.
    """
    import hssm

    clash = [k for k in _RESERVED if k in kwargs]
    if clash:
        raise TypeError(f"to_hssm sets {clash} itself; configure the RLSSM instead")
    if not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in model.choices):
        raise ValueError(
            f"HSSM needs integer response codes, but the model's choices are {model.choices!r}: "
            "recode the data's response column to integers (e.g. 0/1) and build the RLSSM with "
            "choices=(0, 1); loglik, values and simulation accept any response values"
        )
    layout = model.prepare(data)
    include = list(include or [])
    allowed = (*model.param_names, "p_outlier")
    for spec in include:
        name = _param_name(spec)
        if name not in allowed:
            raise ValueError(
                f"include names the parameter {name!r}, which this model does not have; its "
                f"parameters are {model.param_names}"
            )
        if fixed and name in fixed:
            raise ValueError(f"include and fixed both name {name!r}; a fixed parameter takes no prior")
    include += [{"name": n, "prior": v} for n, v in check_fixed(model.composition, fixed).items()]
    if model.has_lapse:
        return _lapse_hssm(model, data, include, kwargs)
    p_outlier = kwargs.pop("p_outlier", None)
    has_lapse = p_outlier is not None and not (isinstance(p_outlier, (int, float)) and p_outlier == 0)
    n_missed = int((~layout.observed & layout.valid).sum())
    if has_lapse and n_missed:
        raise ValueError(
            f"p_outlier with missed trials ({n_missed} in the data): HSSM's lapse mixture would "
            "give missed trials a likelihood. Drop them first (data.dropna(subset=['rt']); "
            "this leaves the likelihood unchanged, as missed trials neither add to it nor "
            "update the values) or use p_outlier=None"
        )
    lapse = None
    if has_lapse:
        lapse = kwargs.get("lapse") or hssm.Prior("Uniform", lower=DEFAULT_LAPSE_RT[0], upper=DEFAULT_LAPSE_RT[1])
        if isinstance(lapse, Mapping):
            lapse = hssm.Prior(**lapse)
        kwargs["lapse"] = lapse
    # Imported here: the range checks live with the fits, which import this bridge.

    check_decision_ranges(model, data, include=include, stacklevel=3)
    config = make_model_config(model, data, lapse=lapse)
    return _hssm(model, data, model, config, include, p_outlier=p_outlier if has_lapse else None, **kwargs)


def _hssm(
    model: RLSSM, data: pd.DataFrame, likelihood: RLSSM, config: Any, include: list, **kwargs: Any
) -> hssm.HSSM:
    """The ``hssm.HSSM`` of `to_hssm`: the Op of ``likelihood`` bound to ``data``, tagged
    with the model and the original data (what predictive checks read)."""
    import hssm

    hm = hssm.HSSM(
        data=hssm_data(model, data),
        model="rlssm",
        model_config=config,
        loglik=make_logp_op(likelihood, data),
        loglik_kind="approx_differentiable",
        include=include,
        **kwargs,
    )
    hm.rlssm_model = model  # type: ignore[attr-defined]
    hm.rlssm_data = data.copy()  # type: ignore[attr-defined]
    return hm


def _lapse_hssm(model: RLSSM, data: pd.DataFrame, include: list, kwargs: dict[str, Any]) -> hssm.HSSM:
    """`to_hssm` for a model with rlssm's own lapse mixture ([`Lapse`][rlssm.Lapse]).

    HSSM mixes ``(1 - p) f(rt, k) + p g(rt)``: it is given the model without its lapse
    (the Op) and, as its lapse distribution, the density ``g(rt) / N`` of rlssm's
    mixture, so that both give the same log-likelihood: for a uniform lapse on
    ``[lo, hi]`` with ``N`` options that is ``Uniform(lo, lo + N (hi - lo))``, which
    agrees with ``g / N`` on ``[lo, hi]`` (every response time must lie there); for a
    choice-only model, ``Uniform`` of width ``N`` around the constant rt HSSM sees.
    ``p_outlier``'s prior comes from ``include`` (or ``fixed``) and goes to HSSM's
    ``p_outlier`` argument; predictive draws come from rlssm's mixture itself.
    """
    import hssm

    from ..decision.lapse import LAPSE_PARAM, UniformRT

    clash = [k for k in ("p_outlier", "lapse") if k in kwargs]
    if clash:
        raise TypeError(
            f"to_hssm: {clash} given, but the model mixes in lapses itself (rlssm.Lapse): give "
            f"p_outlier's prior in include (hssm.Param('p_outlier', prior=...)) or fixed={{'p_outlier': 0.05}}"
        )
    if LAPSE_PARAM not in model.param_names:
        raise ValueError(
            "to_hssm: p_outlier is held inside the decision model (rlssm.Fixed); build the model "
            "with rlssm.Lapse(...) unfixed and pass fixed={'p_outlier': value} to to_hssm instead"
        )
    layout = model.prepare(data)
    n_missed = int((~layout.observed & layout.valid).sum())
    if n_missed:
        raise ValueError(
            f"a lapse mixture with missed trials ({n_missed} in the data): HSSM would give missed "
            "trials a likelihood. Drop them first (data.dropna(subset=['response']); this leaves the "
            "likelihood unchanged, as missed trials neither add to it nor update the values)"
        )
    inner = model.without_lapse()
    n = model.n_options
    rt_density = model.decision_model.lapse_rt
    if model.decision_model.choice_only:
        lapse = hssm.Prior("Uniform", lower=CHOICE_ONLY_RT - 0.5 * n, upper=CHOICE_ONLY_RT + 0.5 * n)
    elif isinstance(rt_density, UniformRT):
        lo, hi = rt_density.lower, rt_density.upper
        rt = np.asarray(pd.to_numeric(data["rt"]), dtype=np.float64)
        outside = np.flatnonzero((rt < lo) | (rt > hi))
        if outside.size:
            i = int(outside[0])
            raise ValueError(
                f"row {i}: rt {float(rt[i])!r} lies outside the lapse range [{lo}, {hi}] of the model's UniformRT; "
                "widen it (rlssm.Lapse(model, rt=rlssm.decision.UniformRT(lower, upper)))"
            )
        lapse = hssm.Prior("Uniform", lower=lo, upper=lo + n * (hi - lo))
    else:
        raise ValueError(
            f"to_hssm: HSSM can mix in only a uniform lapse density; the model's is "
            f"{type(rt_density).__name__}. Fit it with rlssm.fitting.Hierarchical instead"
        )
    spec: Any = None
    rest = []
    for item in include:
        if _param_name(item) == LAPSE_PARAM:
            spec = item
        else:
            rest.append(item)
    if spec is None:
        spec = default_intercept_prior(*model.bounds[LAPSE_PARAM])
    # Otherwise a dict with a name, or an hssm.Param: HSSM's p_outlier argument takes both.
    check_decision_ranges(model, data, include=rest, stacklevel=4)
    config = make_model_config(model, data)
    return _hssm(model, data, inner, config, rest, p_outlier=spec, lapse=lapse, **kwargs)
