"""NUTS for rlssm's PyMC models: the one call of PyMC's JAX sampler (numpyro) that
[`Hierarchical`][rlssm.fitting.Hierarchical] and [`Flat`][rlssm.fitting.Flat] share."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

__all__ = ["CHAIN_METHODS", "check_count", "check_sampler_arguments", "run_nuts"]

CHAIN_METHODS = ("auto", "parallel", "vectorized", "sequential")
"""How chains run: ``"auto"`` (one per device when there are enough, else vectorised) or
one of numpyro's ways."""


def check_count(label: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, else a ``ValueError`` naming ``label``
    (a count or a seed: ``True`` and ``1.0`` are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{label} must be {kind}, got {value!r}")
    return int(value)


def check_sampler_arguments(
    *,
    chains: Any = 1,
    tune: Any = 0,
    draws: Any = 1,
    seed: Any = 0,
    target_accept: Any = 0.9,
    chain_method: Any = "auto",
    max_tree_depth: Any = 10,
    nuts_kwargs: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """Check NUTS settings before any work starts, in rlssm's words.

    numpyro would sample a frozen chain at ``target_accept >= 1`` (the step size adapts
    towards 0) and fail late, in its own or xarray's words, on ``chains=0``,
    ``draws=0`` or a negative ``tune``. The one check of these settings, for
    [`Flat.sample`][rlssm.fitting.Flat.sample],
    [`Hierarchical.sample`][rlssm.fitting.Hierarchical.sample] and
    [`sbc`][rlssm.calibration.sbc].

    Returns
    -------
    tuple of int
        ``max_tree_depth`` as ``(warm-up, sampling)``.

    Raises
    ------
    ValueError
        Naming the setting, its value and what it must be: ``chains`` and ``draws``
        positive integers, ``tune`` and ``seed`` non-negative integers, ``target_accept``
        strictly between 0 and 1, ``chain_method`` one of `CHAIN_METHODS`,
        ``max_tree_depth`` a positive integer or a pair of them.
    TypeError
        For a keyword in ``nuts_kwargs`` that numpyro's ``NUTS`` does not take (or that
        rlssm sets itself), naming the ones it does.
    """
    check_count("chains", chains, 1)
    check_count("tune", tune, 0)
    check_count("draws", draws, 1)
    check_count("seed", seed, 0)
    if (
        isinstance(target_accept, bool)
        or not isinstance(target_accept, (int, float, np.integer, np.floating))
        or not (math.isfinite(target_accept) and 0.0 < target_accept < 1.0)
    ):
        raise ValueError(
            "target_accept must be a number strictly between 0 and 1 (the acceptance rate the "
            f"step size is tuned to; 0.8-0.99 is usual), got {target_accept!r}"
        )
    if not isinstance(chain_method, str) or chain_method not in CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {CHAIN_METHODS}, got {chain_method!r}")
    pair = (max_tree_depth, max_tree_depth) if not isinstance(max_tree_depth, (tuple, list)) else tuple(max_tree_depth)
    if len(pair) != 2 or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in pair):
        raise ValueError(
            f"max_tree_depth must be a positive integer or a (warm-up, sampling) pair of them, got {max_tree_depth!r}"
        )
    if nuts_kwargs:
        import inspect

        from numpyro.infer import NUTS

        # What PyMC or rlssm set themselves, or that make no sense for a PyMC model.
        taken = ("self", "model", "potential_fn", "target_accept_prob", "max_tree_depth", "init_strategy")
        accepted = sorted(set(inspect.signature(NUTS.__init__).parameters) - set(taken))
        unknown = sorted(k for k in nuts_kwargs if k not in accepted)
        if unknown:
            raise TypeError(f"sample() got unknown NUTS keyword arguments {unknown}; numpyro's NUTS takes {accepted}")
    return int(pair[0]), int(pair[1])


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
    convergence checks: the callers add those for the posterior they return. The
    settings are checked first (`check_sampler_arguments`).
    """
    import jax
    from pymc.sampling.jax import sample_jax_nuts

    depths = check_sampler_arguments(
        chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
        chain_method=chain_method, max_tree_depth=max_tree_depth, nuts_kwargs=nuts_kwargs,
    )
    if chain_method == "auto":
        chain_method = "parallel" if len(jax.devices()) >= chains else "vectorized"
    return sample_jax_nuts(
        draws=int(draws),
        tune=int(tune),
        chains=int(chains),
        target_accept=float(target_accept),
        random_seed=int(seed),
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
