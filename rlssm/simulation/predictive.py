"""Posterior predictive checks from a fitted HSSM model.

[`RLSSM.posterior_predictive`][rlssm.RLSSM.posterior_predictive] takes the per-trial
parameters that the fitted ``hssm.HSSM`` computes for every posterior draw (so formulas
with covariates and random effects are honoured) and simulates with rlssm's simulator:

``mode="conditional"``
    The observed history is replayed, one step ahead: values follow the observed
    responses and feedback; each observed trial gets a fresh ``(rt, response)``.
``mode="generative"``
    Each draw simulates a fresh closed loop in the environment ``env``, with as many
    trials per participant as the data has. Parameters must then be constant within a
    participant (as with ``1 + (1|participant_id)``); trial-varying parameters raise,
    since a fresh history has no observed covariates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from .._errors import DataError
from .conditional import simulate_conditional
from .generative import simulate_draws

if TYPE_CHECKING:
    from ..environments import AbstractEnvironment
    from ..model import RLSSM


def posterior_rows(
    model: RLSSM, hm: Any, idata: Any, n_draws: int | None, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-row parameters of ``n_draws`` posterior draws: ``name -> (D, N)``, chains, draws.

    Rows are those of the data ``hm`` was built from (``to_hssm`` keeps their order).
    """
    dt = hm.add_likelihood_parameters_to_datatree(idata)
    posterior = dt.posterior
    n_chain = int(posterior.sizes["chain"])
    n_draw = int(posterior.sizes["draw"])
    total = n_chain * n_draw
    rng = np.random.default_rng(seed)
    if n_draws is None or n_draws >= total:
        pick = np.arange(total)
    else:
        pick = np.sort(rng.choice(total, size=n_draws, replace=False))
    chains, draws = np.divmod(pick, n_draw)
    n_rows = len(hm.rlssm_data) if hasattr(hm, "rlssm_data") else None
    out: dict[str, np.ndarray] = {}
    for name in model.param_names:
        if name not in posterior:
            raise DataError(f"the posterior has no variable {name!r}; was hm built by RLSSM.to_hssm?")
        arr = np.asarray(posterior[name].values, dtype=float)
        flat = arr.reshape((total,) + arr.shape[2:])[pick]
        if flat.ndim == 1:
            flat = flat[:, None]
        if n_rows is not None and flat.shape[1] not in (1, n_rows):
            raise DataError(f"posterior {name!r} has {flat.shape[1]} rows, the data {n_rows}")
        out[name] = flat
    return out, chains, draws


def posterior_predictive(
    model: RLSSM,
    hm: Any,
    idata: Any,
    mode: Literal["generative", "conditional"] = "conditional",
    env: AbstractEnvironment | None = None,
    n_draws: int | None = 100,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulated data sets from posterior draws (see the module docs for the modes).

    Returns
    -------
    pandas.DataFrame
        ``chain``, ``draw``, ``participant_id``, ``trial_id``, ``response``, ``rt``,
        ``feedback`` (plus ``correct`` in generative mode).
    """

    data = getattr(hm, "rlssm_data", None)
    if data is None:
        raise ValueError("posterior_predictive needs an hssm.HSSM built by RLSSM.to_hssm")
    rows, chains, draws = posterior_rows(model, hm, idata, n_draws, seed)
    d = len(chains)
    if mode == "conditional":
        full = {k: np.broadcast_to(v, (d, len(data))) for k, v in rows.items()}
        out = simulate_conditional(model, data, full, seed=seed, n_draws=d)
        idx = out.pop("draw").to_numpy()
        out.insert(0, "draw", draws[idx])
        out.insert(0, "chain", chains[idx])
        return out.reset_index(drop=True)
    if mode != "generative":
        raise ValueError(f"mode must be 'generative' or 'conditional', got {mode!r}")
    if env is None:
        raise ValueError("mode='generative' needs env=, the task environment to simulate")
    layout = model.prepare(data)
    part = layout.row_participant
    per_part: dict[str, np.ndarray] = {}
    for name, v in rows.items():
        v = np.broadcast_to(v, (d, len(data)))
        means = np.stack([v[:, part == p].mean(axis=1) for p in range(layout.n_participants)], axis=1)
        spread = np.max(np.abs(v - means[:, part]))
        if spread > 1e-9 * max(1.0, float(np.abs(means).max())):
            raise DataError(
                f"parameter {name!r} varies across the trials of a participant (by up to "
                f"{spread:.3g}); generative simulation has no observed trials to take such "
                "covariates from: use mode='conditional'"
            )
        per_part[name] = means
    counts = layout.valid.sum(axis=1)
    sim = simulate_draws(model, per_part, env, layout.n_participants, int(counts.max()), seed=seed)
    # Back to the data's participants and trial ids; ragged designs keep their own lengths.
    trial_ids: list[np.ndarray] = []
    tid = np.asarray(data["trial_id"].to_numpy())
    for p in range(layout.n_participants):
        trial_ids.append(np.sort(tid[part == p]))
    keep = np.asarray(sim["trial_id"]) < counts[np.asarray(sim["participant_id"])]
    sim = cast(pd.DataFrame, sim[keep]).reset_index(drop=True)
    p_idx = sim["participant_id"].to_numpy()
    sim["trial_id"] = [trial_ids[p][k] for p, k in zip(p_idx, sim["trial_id"].to_numpy(), strict=True)]
    sim["participant_id"] = np.asarray(layout.participants, dtype=object)[p_idx]
    if all(isinstance(x, (int, np.integer)) for x in layout.participants):
        sim["participant_id"] = sim["participant_id"].astype(np.int64)
    draw_idx = sim.pop("draw").to_numpy()
    sim.insert(0, "draw", draws[draw_idx])
    sim.insert(0, "chain", chains[draw_idx])
    return sim


