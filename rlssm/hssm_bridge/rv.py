"""The RandomVariable HSSM draws predictive samples from, and HSSM's lapse mixture.

Draws come from rlssm's conditional simulator
([`sample_conditional_rows`][rlssm.simulation.sample_conditional_rows]): one step ahead
from the observed history of the data the variable is bound to, one draw per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
from pytensor.tensor.random.op import RandomVariable

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["apply_lapse", "make_rv"]


def make_rv(
    model: RLSSM, data: pd.DataFrame | None, lapse: Any | None = None
) -> type[RandomVariable]:
    """A RandomVariable class whose draws come from rlssm's conditional simulator.

    ``rng_fn(rng, *params[, p_outlier], size)`` receives the parameters in
    ``param_names`` order (per row, possibly with leading draw dimensions) and returns
    ``(..., rows, 2)``: rt and response (data coding) for every row of the bound data,
    simulated one step ahead from the observed history by
    [`sample_conditional_rows`][rlssm.simulation.sample_conditional_rows]. Rows missed
    in the data (and draws where the decision process never finished) are NaN.

    Parameters
    ----------
    model
        The model.
    data
        The data draws are conditioned on; without it, ``rng_fn`` raises.
    lapse
        HSSM's lapse distribution when the model has ``p_outlier`` (its last parameter).
    """
    names = list(model.param_names)
    list_params = names + (["p_outlier"] if lapse is not None else [])
    n_rows = 0 if data is None else len(data)
    # The layout (validated, in the data's row order) is all the simulator needs.
    bound = None if data is None else model.prepare(data)

    class RLSSMRV(RandomVariable):
        # Plain class attributes (no annotations): the class may be pickled by value
        # when PyTensor's numba backend runs it in object mode.
        name = "rlssm_rv"
        signature = f"{','.join(['()'] * len(list_params))}->(2)"
        dtype = "floatX"
        _print_name = ("RLSSM", "\\operatorname{RLSSM}")
        _list_params = list_params
        _lapse = lapse
        _model = model
        _layout = bound

        @classmethod
        def rng_fn(cls, rng: np.random.Generator, *args: Any) -> np.ndarray:  # type: ignore[override]
            *params, size = args
            if cls._layout is None:
                raise NotImplementedError(
                    "this RandomVariable has no data bound: rlssm simulates conditionally on "
                    "the observed history; build the config with make_model_config(model, data) "
                    "or use model.to_hssm(data)"
                )
            p_outlier = params.pop() if cls._lapse is not None else None
            arrays = [np.asarray(p, dtype=np.float64) for p in params]
            shape: tuple[int, ...] = np.broadcast_shapes(*(a.shape for a in arrays), tuple(size or ()))
            if shape == () or shape[-1] == 1:
                shape = (*shape[:-1], n_rows)
            if shape[-1] != n_rows:
                raise ValueError(
                    f"rlssm's simulator is bound to data of {n_rows} rows but was asked for draws "
                    f"of shape {shape}"
                )
            lead = shape[:-1]
            n_draws = math.prod(lead)
            flat = (n_draws, n_rows) if lead else (n_rows,)
            rows = {
                n: np.broadcast_to(a, shape).reshape(flat)
                for n, a in zip(names, arrays, strict=True)
            }
            # Imported here: the simulators build on the engine, not on this bridge.
            from ..simulation import sample_conditional_rows

            key = jax.random.key(int(rng.integers(0, 2**31 - 1)))
            rt, option = sample_conditional_rows(cls._model, cls._layout, rows, key)
            option = np.asarray(option).reshape(shape)
            coding = np.asarray(cls._model.choices, dtype=np.float64)
            response = np.where(option >= 0, coding[np.clip(option, 0, None)], np.nan)
            out = np.stack([np.asarray(rt, dtype=np.float64).reshape(shape), response], axis=-1)
            if p_outlier is not None:
                out = apply_lapse(out, np.asarray(p_outlier), cls._lapse, cls._model.choices, rng)
            return out

    return RLSSMRV


def apply_lapse(
    sims: np.ndarray, p_outlier: np.ndarray, lapse: Any, choices: Sequence[Any], rng: np.random.Generator
) -> np.ndarray:
    """Replace draws by lapses with probability ``p_outlier`` (HSSM's lapse model).

    Parameters
    ----------
    sims
        ``(..., 2)`` draws of (rt, response).
    p_outlier
        The lapse probability, a scalar or broadcastable to ``sims.shape[:-1]``.
    lapse
        The lapse rt distribution (an ``hssm.Prior``); the response is uniform over
        ``choices``.
    choices
        The response values.
    rng
        The generator.
    """
    import pymc as pm
    from bambi.backend.utils import get_distribution_from_prior

    shape = sims.shape[:-1]
    p = p_outlier.reshape(()) if p_outlier.size == 1 else p_outlier
    replace = rng.random(shape) < np.broadcast_to(p, shape)
    n = int(replace.sum())
    if n == 0:
        return sims
    rt = np.asarray(
        pm.draw(get_distribution_from_prior(lapse).dist(**lapse.args), n, random_seed=rng)
    ).reshape(n)
    response = rng.choice(np.asarray(choices, dtype=np.float64), size=n)
    sims = sims.copy()
    sims[replace] = np.stack([rt, response], axis=-1)
    return sims
