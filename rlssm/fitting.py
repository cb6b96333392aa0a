"""Sensible defaults for fitting an [`RLSSM`][rlssm.RLSSM] with HSSM.

[`default_include`][rlssm.fitting.default_include] gives every parameter an intercept
(and, hierarchically, a participant random effect) with a prior inside the parameter's
bounds; [`sample`][rlssm.fitting.sample] runs HSSM's NUTS (numpyro) with the
log-likelihood stored; [`group_names`][rlssm.fitting.group_names] finds the group-level
variables in the posterior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import RLSSM


def default_include(model: RLSSM, hierarchical: bool = True, priors: dict[str, Any] | None = None) -> list:
    """``hssm.Param`` list: ``p ~ 1 + (1|participant_id)`` (or ``p ~ 1``) for every parameter."""
    import hssm

    from .hssm_bridge import _default_intercept_prior, hierarchical_include

    if hierarchical:
        return hierarchical_include(model, priors)
    priors = dict(priors or {})
    out = []
    for name in model.param_names:
        prior = priors.get(name) or _default_intercept_prior(*model.bounds[name])
        out.append(hssm.Param(name, prior=prior))
    return out


def sample(hm: Any, chains: int = 2, tune: int = 500, draws: int = 500, seed: int = 0, **kwargs: Any) -> Any:
    """``hm.sample`` with NUTS in numpyro, chains vectorised, pointwise log-likelihood kept."""
    kwargs.setdefault("sampler", "numpyro")
    kwargs.setdefault("idata_kwargs", {"log_likelihood": True})
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


