"""Fitting through HSSM with sensible defaults.

[`default_include`][rlssm.fitting.default_include] gives every parameter an intercept
(and, hierarchically, a participant random effect) with a prior inside the parameter's
bounds; [`sample`][rlssm.fitting.sample] runs HSSM's NUTS (numpyro) with the
log-likelihood stored; [`group_names`][rlssm.fitting.group_names] finds the group-level
variables in the posterior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["default_include", "group_names", "sample", "t_start"]


def t_start(model: RLSSM, data: pd.DataFrame) -> float:
    """A start value for the non-decision time: half the fastest response time.

    Starting ``t`` near zero lets NUTS settle in a poor local optimum of angle models
    (wide bounds, tiny ``t``); starting it above a response time puts it on HSSM's
    ``t < rt`` penalty. Half the fastest rt (inside ``t``'s bounds) avoids both.
    """
    lower, upper = model.bounds["t"]
    fastest = float(np.nanmin(data["rt"].to_numpy(dtype=float)))
    # Bounds may be infinite (DDM's t is (0, inf)): clip into [lower, min(upper, fastest)].
    return float(np.clip(0.5 * fastest, max(lower, 0.0), min(upper, fastest)))


def default_include(
    model: RLSSM,
    data: pd.DataFrame | None = None,
    hierarchical: bool = True,
    priors: dict[str, Any] | None = None,
) -> list:
    """``hssm.Param`` list: ``p ~ 1 + (1|participant_id)`` (or ``p ~ 1``) for every parameter.

    Intercept priors are normals truncated to the parameter's bounds unless ``priors``
    gives one; with ``data``, the non-decision time starts at `t_start`.
    """
    import hssm

    from ..hssm_bridge import default_intercept_prior, hierarchical_include

    priors = dict(priors or {})
    if data is not None and "t" in model.param_names and "t" not in priors:
        # The group's non-decision time lies below the fastest response: a prior that
        # puts its mass there keeps NUTS off HSSM's flat t >= rt penalty.
        lower, upper = model.bounds["t"]
        fastest = float(np.nanmin(data["rt"].to_numpy(dtype=float)))
        top = min(upper, fastest)
        priors["t"] = hssm.Prior(
            "TruncatedNormal", mu=t_start(model, data), sigma=0.5 * (top - lower),
            lower=lower, upper=top, initval=t_start(model, data),
        )
    if hierarchical:
        return hierarchical_include(model, priors)
    out = []
    for name in model.param_names:
        prior = priors.get(name) or default_intercept_prior(*model.bounds[name])
        out.append(hssm.Param(name, prior=prior))
    return out


def sample(hm: Any, chains: int = 2, tune: int = 500, draws: int = 500, seed: int = 0, **kwargs: Any) -> Any:
    """``hm.sample`` with NUTS in numpyro, chains vectorised, pointwise log-likelihood kept."""
    kwargs.setdefault("sampler", "numpyro")
    kwargs.setdefault("idata_kwargs", {"log_likelihood": True})
    if kwargs["sampler"] in ("numpyro", "nuts_numpyro"):
        # One device here: vectorised chains run in one program instead of in sequence.
        nuts = dict(kwargs.pop("nuts", None) or {})
        nuts.setdefault("chain_method", "vectorized")
        kwargs["nuts"] = nuts
    return hm.sample(chains=chains, tune=tune, draws=draws, random_seed=seed, **kwargs)


def group_names(model: RLSSM, idata: Any) -> dict[str, str]:
    """``parameter -> posterior variable`` of each group-level mean (intercept)."""
    posterior = idata.posterior
    out = {}
    for name in model.param_names:
        for candidate in (f"{name}_Intercept", name):
            if candidate in posterior and posterior[candidate].ndim == 2:
                out[name] = candidate
                break
    return out


