"""NUTS for rlssm's PyMC models: the one call of PyMC's JAX sampler (numpyro) that
[`Hierarchical`][rlssm.fitting.Hierarchical] and [`Flat`][rlssm.fitting.Flat] share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

__all__ = ["run_nuts"]


def run_nuts(
    pymc_model: Any,
    initvals: Sequence[Mapping[str, Any]],
    *,
    chains: int,
    tune: int,
    draws: int,
    seed: int,
    target_accept: float,
    chain_method: str,
    max_tree_depth: int | tuple[int, int],
    progressbar: bool,
    nuts_kwargs: Mapping[str, Any],
) -> Any:
    """numpyro's NUTS on ``pymc_model`` from one initial point per chain.

    ``chain_method="auto"`` runs one chain per JAX device when there are at least
    ``chains`` devices, else all chains as one vectorised batch. ``max_tree_depth`` is
    ``(warm-up, sampling)`` or one number for both. No log-likelihood group and no
    convergence checks: the callers add those for the posterior they return.
    """
    import jax
    from pymc.sampling.jax import sample_jax_nuts

    if chain_method == "auto":
        chain_method = "parallel" if len(jax.devices()) >= chains else "vectorized"
    depths = (max_tree_depth, max_tree_depth) if isinstance(max_tree_depth, int) else tuple(max_tree_depth)
    if len(depths) != 2 or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in depths):
        raise ValueError(
            f"max_tree_depth must be a positive integer or a (warm-up, sampling) pair of them, got {max_tree_depth!r}"
        )
    return sample_jax_nuts(
        draws=draws,
        tune=tune,
        chains=chains,
        target_accept=target_accept,
        random_seed=seed,
        initvals=cast(Any, list(initvals)),
        jitter=False,
        model=pymc_model,
        chain_method=chain_method,  # type: ignore[arg-type]
        progressbar=progressbar,
        nuts_sampler="numpyro",
        nuts_kwargs={"max_tree_depth": depths, **nuts_kwargs},
        idata_kwargs={"log_likelihood": False},
        compute_convergence_checks=False,
    )
