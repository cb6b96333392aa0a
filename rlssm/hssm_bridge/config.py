"""An ``hssm.ModelConfig`` derived from an [`RLSSM`][rlssm.RLSSM]."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from .rv import make_rv

if TYPE_CHECKING:
    import hssm

    from ..model import RLSSM

__all__ = ["make_model_config"]


def make_model_config(
    model: RLSSM, data: pd.DataFrame | None = None, *, lapse: Any | None = None
) -> hssm.ModelConfig:
    """An ``hssm.ModelConfig`` for the model.

    Parameters
    ----------
    model
        The model.
    data
        Data the simulator (``rv``) is bound to; without it the config can build an
        HSSM model but predictive sampling raises.
    lapse
        The lapse distribution (``hssm.Prior``) when the HSSM model has ``p_outlier``:
        the simulator then takes ``p_outlier`` as its last parameter and mixes lapses in.

    Returns
    -------
    hssm.ModelConfig
        ``response=("rt", "response")``, ``list_params=model.param_names``,
        ``choices=model.choices``, ``bounds=model.bounds``, the extra fields
        (``model.extra_fields_for(data)`` with data), ``backend="jax"`` and an ``rv``
        that simulates with rlssm's conditional simulator. HSSM takes the likelihood
        separately: pass ``loglik=make_logp_op(model, data)`` and
        ``loglik_kind="approx_differentiable"`` (what [`to_hssm`][rlssm.hssm_bridge.to_hssm] does).
    """
    import hssm

    fields = model.extra_fields if data is None else model.extra_fields_for(data)
    # A model with rlssm's lapse mixture (rlssm.Lapse): HSSM appends p_outlier itself and
    # mixes the lapses into the likelihood (see to_hssm); the simulator takes p_outlier
    # last, as rlssm's own parameter, and draws from rlssm's mixture.
    names = [n for n in model.param_names if not (model.has_lapse and n == "p_outlier")]
    return hssm.ModelConfig(
        response=("rt", "response"),
        list_params=names,
        choices=tuple(model.choices),  # type: ignore[arg-type]
        bounds={k: (float(lo), float(hi)) for k, (lo, hi) in model.bounds.items() if k in names},
        backend="jax",
        rv=make_rv(model, data, lapse),  # type: ignore[arg-type]  # HSSM instantiates the class
        extra_fields=list(fields),
    )
