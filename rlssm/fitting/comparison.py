"""Model comparison at the participant level.

Trial-level leave-one-out cross-validation does not suit learning data: a trial's
likelihood depends on every earlier choice and outcome through the learned values, so
trials are not exchangeable units, and "leaving out" one trial does not remove its
influence on the values of the trials after it. The natural unit is the participant:
sum the pointwise log-likelihood of each participant's trials and run PSIS-LOO over
participants (leave one participant out). This predicts how well a model generalises to
a new participant, which is the question a between-model comparison usually asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["compare_participants", "participant_log_likelihood", "participant_loo"]


def _log_likelihood(idata: Any, var_name: str | None) -> xr.DataArray:
    group = idata["log_likelihood"] if "log_likelihood" in idata.children else None
    if group is None:
        try:
            group = idata.log_likelihood
        except AttributeError as err:
            raise ValueError(
                "idata has no log_likelihood group: sample with "
                "idata_kwargs={'log_likelihood': True} (rlssm.fitting.sample does)"
            ) from err
    ds = group.to_dataset() if hasattr(group, "to_dataset") else group
    names = list(ds.data_vars)
    if var_name is None:
        if len(names) != 1:
            raise ValueError(f"idata's log_likelihood has variables {names}: pass var_name=")
        var_name = names[0]
    return ds[var_name]


def participant_log_likelihood(idata: Any, data: pd.DataFrame, var_name: str | None = None) -> xr.DataTree:
    """The pointwise log-likelihood summed per participant, as a DataTree for arviz.

    Parameters
    ----------
    idata
        Posterior with a ``log_likelihood`` group whose last dimension runs over the rows
        of ``data`` in order (what [`RLSSM.to_hssm`][rlssm.RLSSM.to_hssm] produces).
    data
        The data the model was fitted to.
    var_name
        The log-likelihood variable (needed only when there are several).

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` and ``log_likelihood`` (variable ``participant`` with dims
        ``chain, draw, participant_id``).
    """
    ll = _log_likelihood(idata, var_name)
    obs_dim = [d for d in ll.dims if d not in ("chain", "draw")]
    if len(obs_dim) != 1 or ll.sizes[obs_dim[0]] != len(data):
        raise ValueError(
            f"the log-likelihood has dims {dict(ll.sizes)}; expected chain, draw and one "
            f"dimension of {len(data)} rows (the data's)"
        )
    codes, labels = pd.factorize(data["participant_id"], sort=True)
    values = np.asarray(ll.transpose("chain", "draw", obs_dim[0]).values, dtype=float)
    summed = np.stack([values[:, :, codes == k].sum(axis=2) for k in range(len(labels))], axis=2)
    out = xr.Dataset(
        {"participant": (("chain", "draw", "participant_id"), summed)},
        coords={"participant_id": np.asarray(labels)},
    )
    posterior = idata["posterior"].to_dataset() if "posterior" in idata.children else idata.posterior
    return xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": out})


def participant_loo(idata: Any, data: pd.DataFrame, var_name: str | None = None) -> Any:
    """PSIS-LOO over participants (``arviz.loo`` on `participant_log_likelihood`)."""
    import arviz as az

    return az.loo(participant_log_likelihood(idata, data, var_name))


def compare_participants(
    fits: Mapping[str, Any], data: pd.DataFrame, var_name: str | None = None
) -> pd.DataFrame:
    """Rank fitted models by leave-one-participant-out predictive accuracy (``arviz.compare``)."""
    import arviz as az

    return az.compare({name: participant_log_likelihood(i, data, var_name) for name, i in fits.items()})
