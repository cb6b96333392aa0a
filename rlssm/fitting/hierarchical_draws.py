"""What a hierarchical fit's posterior gives per participant and per row of the data.

The natural-unit values of every parameter per participant or per row, rebuilt from
the draws with the fit's own design matrices, each row's log-likelihood per draw, and
[`group_summary`][rlssm.fitting.group_summary] of the group variables. The methods of
[`Hierarchical`][rlssm.fitting.Hierarchical] (`participant_draws`, `row_draws`,
`pointwise_log_likelihood`) call these with the fit's
[`GroupModel`][rlssm.fitting.hierarchical_model.GroupModel].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .hierarchical_model import ROW_CAP_SHARPNESS, GroupModel

if TYPE_CHECKING:
    import xarray as xr

    from .hierarchical import Hierarchical

__all__ = ["draw_values", "group_summary", "participant_values", "pointwise_loglik", "row_values"]


def participant_values(built: GroupModel, idata: Any) -> dict[str, np.ndarray]:
    """``name -> (chains, draws, participants)`` of every sampled parameter (``<name>_subj``);
    a `ValueError` for parameters with formulas, whose values vary by row."""
    posterior = idata["posterior"]
    with_formula = [n for n in built.free_names if n in built.regressions]
    if with_formula:
        raise ValueError(
            f"{with_formula} have formulas, so their values vary by row: use row_draws(idata)"
        )
    return {n: np.asarray(posterior[f"{n}_subj"].values, dtype=float) for n in built.free_names}


def draw_values(built: GroupModel, idata: Any) -> dict[str, np.ndarray]:
    """``name -> (chains, draws, units)`` of the sampled parameters, in the units the
    fit's ``logp_fn`` takes (rows for a parameter with a formula, else participants)."""
    posterior = idata["posterior"]
    return {
        n: _formula_rows(built, posterior, n) if n in built.regressions
        else np.asarray(posterior[f"{n}_subj"].values, dtype=float)
        for n in built.free_names
    }


def row_values(
    built: GroupModel,
    idata: Any,
    row_participant: np.ndarray,
    fixed: Mapping[str, float],
    param_names: Sequence[str],
) -> dict[str, np.ndarray]:
    """``name -> (chains, draws, rows)`` of every parameter on every row (fixed ones
    included), in ``param_names`` order; ``row_participant`` is each row's participant
    index."""
    out = draw_values(built, idata)
    out = {n: v if n in built.regressions else v[:, :, row_participant] for n, v in out.items()}
    shape = next(iter(out.values())).shape[:2]
    for name, value in fixed.items():
        out[name] = np.full((*shape, len(row_participant)), value)
    return {n: out[n] for n in param_names}


def _formula_rows(built: GroupModel, posterior: Any, name: str) -> np.ndarray:
    """``(chains, draws, rows)`` of a parameter with a formula, from the pieces that
    built its linear predictor in the PyMC model."""
    link = built.links[name]
    eta: Any = 0.0
    for var, matrix, natural in built.pieces[name]:
        x = np.asarray(posterior[var].values, dtype=float)
        x = x.reshape(x.shape[0], x.shape[1], -1)
        if natural:
            x = link.forward(x)
        eta = eta + x @ matrix.T
    cap = built.row_caps.get(name)
    if cap is not None:
        eta = eta - np.logaddexp(0.0, ROW_CAP_SHARPNESS * (eta - cap)) / ROW_CAP_SHARPNESS
    return link.inverse(eta)


def pointwise_loglik(
    f: Callable[[Mapping[str, Any]], Any], draws: Mapping[str, np.ndarray], chunk: int
) -> xr.Dataset:
    """``loglik`` (chain, draw, __obs__): ``f``'s per-row values at every draw of
    ``draws`` (``name -> (chains, draws, units)``), ``chunk`` draws per batch."""
    import jax
    import xarray as xr

    n_chain, n_draw, _ = next(iter(draws.values())).shape
    batched = jax.jit(jax.vmap(f))
    flat = {k: v.reshape(n_chain * n_draw, -1) for k, v in draws.items()}
    out = np.concatenate(
        [
            np.asarray(batched({k: v[i : i + chunk] for k, v in flat.items()}))
            for i in range(0, n_chain * n_draw, chunk)
        ]
    )
    out = out.reshape(n_chain, n_draw, -1)
    return xr.Dataset({"loglik": (("chain", "draw", "__obs__"), out)})


def group_summary(fit: Hierarchical, idata: Any, truth: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Posterior mean, 5%/95% quantiles, R-hat and bulk ESS of the group variables.

    A variable with a dimension (a categorical coefficient, the spreads of several
    slopes) gives one row per element, named as ArviZ names it (``a_condition[drug]``).
    """
    import arviz as az

    posterior = idata["posterior"]
    names = list(fit.group_vars)
    ess = az.ess(idata, var_names=names, method="bulk")
    rhat = az.rhat(idata, var_names=names)
    ess = ess["posterior"] if hasattr(ess, "children") and "posterior" in ess.children else ess
    rhat = rhat["posterior"] if hasattr(rhat, "children") and "posterior" in rhat.children else rhat
    rows = []
    for name in names:
        var = posterior[name]
        extra = [d for d in var.dims if d not in ("chain", "draw")]
        x = np.asarray(var.values, dtype=float).reshape(var.shape[0], var.shape[1], -1)
        e = np.asarray(ess[name], dtype=float).reshape(-1)
        r = np.asarray(rhat[name], dtype=float).reshape(-1)
        if extra:
            labels = [",".join(str(c) for c in combo) for combo in _coordinate_product(var, extra)]
        else:
            labels = [None]
        for j, label in enumerate(labels):
            key = name if label is None else f"{name}[{label}]"
            values = x[:, :, j]
            row = {
                "param": key,
                "mean": float(values.mean()),
                "q05": float(np.quantile(values, 0.05)),
                "q95": float(np.quantile(values, 0.95)),
            }
            if truth is not None and key in truth:
                row["truth"] = float(truth[key])
            row["ess_bulk"] = float(e[j])
            row["r_hat"] = float(r[j])
            rows.append(row)
    out = pd.DataFrame(rows).set_index("param")
    columns = ["mean", "q05", "q95"] + (["truth"] if "truth" in out.columns else []) + ["ess_bulk", "r_hat"]
    return cast(pd.DataFrame, out[columns])


def _coordinate_product(var: Any, dims: Sequence[str]) -> list[tuple[Any, ...]]:
    """Every combination of the coordinates of ``dims``, in C order."""
    import itertools

    return list(itertools.product(*[list(np.asarray(var[d].values)) for d in dims]))
