"""The JAX functions behind the Ops: a log-likelihood of named parameters and its VJP.

`Likelihood` turns any ``f(params) -> (N,)`` into positional functions of the
parameter inputs (what an Op receives); `Structure` holds what the HSSM Op needs besides
the parameters: the model, the extra-field names, and the likelihood, either
bound to data at construction or derived from the Op's numeric inputs (cached).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from pytensor.graph.basic import Apply, Constant

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["CACHE_SIZE", "CHOICE_ONLY_RT", "Likelihood", "Structure", "as_numeric"]

CACHE_SIZE = 4
"""Layouts an unbound Op keeps, keyed on the bytes of its data inputs."""

CHOICE_ONLY_RT = 1.0
"""The rt HSSM sees on every trial of a choice-only model (its likelihood ignores rt)."""


class Likelihood:
    """``f(params) -> (N,)`` and its VJP as JAX functions of positional parameter inputs.

    ``logp(*params)`` takes the parameters in ``names`` order and returns ``(N,)``;
    ``vjp(*params, gz)`` returns one cotangent per parameter, of the parameter's shape
    and dtype. ``logp_jit`` / ``vjp_jit`` are their jitted versions (the Ops'
    ``perform``, and the bodies the Ops give graphs compiled by JAX: a nested jit is
    traced once per input signature, which shortens the compile of a sampler's graph).

    Parameters
    ----------
    f
        A JAX function of a ``name -> array`` mapping. For a model, ``model.logp_fn(data)``:
        it lays out each input by [`rlssm.engine.resolve`][rlssm.engine.resolve]'s rules
        (a size-1 array, as HSSM passes for a parameter without a regression, is a
        scalar; a vector runs over participants or rows), with its `DataError` messages.
    names
        The parameter names, in input order.
    """

    def __init__(self, f: Callable[[Mapping[str, Any]], jax.Array], names: Sequence[str]):
        self.names = tuple(names)
        names = self.names

        def logp(*params: Any) -> jax.Array:
            return f({n: jnp.asarray(x) for n, x in zip(names, params, strict=True)})

        def vjp(*inputs: Any) -> tuple[jax.Array, ...]:
            *params, gz = inputs
            params = [jnp.asarray(p) for p in params]
            out, pullback = jax.vjp(logp, *params)
            grads = pullback(jnp.asarray(gz).astype(out.dtype))
            return tuple(g.astype(p.dtype) for g, p in zip(grads, params, strict=True))

        self.logp = logp
        self.vjp = vjp
        self.logp_jit = jax.jit(logp)
        self.vjp_jit = jax.jit(vjp)

    @classmethod
    def of_model(cls, model: RLSSM, data: pd.DataFrame) -> Likelihood:
        """The per-row log-likelihood of ``model`` on ``data`` (validated here: `DataError`)."""
        return cls(model.logp_fn(data), model.param_names)


def as_numeric(values: Any) -> np.ndarray:
    """An extra-field column as numbers: non-numeric labels become sorted integer codes.

    Equal labels get equal codes and the order of sorted labels is kept, which is all
    the likelihood reads from ``participant_id``, ``block`` and ``state``.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr
    codes, _ = pd.factorize(pd.Series(arr), sort=True)
    return codes.astype(np.int64)


class Structure:
    """What the HSSM Ops need to know besides the parameters: model, names, bound data.

    Parameters
    ----------
    model
        The model.
    data
        Data to bind the likelihood to (validated here), or None for a likelihood
        derived from each evaluation's numeric inputs.
    extra_fields
        Names of the extra-field inputs; for bound data they must be
        ``model.extra_fields_for(data)``.
    """

    def __init__(
        self,
        model: RLSSM,
        data: pd.DataFrame | None,
        extra_fields: Sequence[str] | None,
    ):
        self.model = model
        self.n_params = len(model.param_names)
        if data is not None:
            fields = tuple(model.extra_fields_for(data))
            if extra_fields is not None and tuple(extra_fields) != fields:
                raise ValueError(
                    f"extra_fields={tuple(extra_fields)!r} differs from the fields this data "
                    f"gives the model, {fields!r}"
                )
            # Validates the data (DataError) before anything else.
            self.bound: Likelihood | None = Likelihood.of_model(model, data)
            self.n_rows: int | None = len(data)
            if model.decision_model.choice_only:
                # HSSM's data matrix carries a constant rt for a choice-only model.
                self.rt = np.full(len(data), CHOICE_ONLY_RT)
            else:
                self.rt = np.asarray(pd.to_numeric(data["rt"]), dtype=np.float64)
            self.observed = data["response"].notna().to_numpy()
        else:
            fields = tuple(model.extra_fields if extra_fields is None else extra_fields)
            unknown = [f for f in fields if f not in (*model.extra_fields, "block", "state")]
            missing = [f for f in model.extra_fields if f not in fields]
            if unknown or missing:
                raise ValueError(
                    f"extra_fields={fields!r}: the model reads {model.extra_fields!r} plus "
                    f"optionally 'block' and 'state' (missing {missing}, unknown {unknown})"
                )
            self.bound = None
            self.n_rows = None
        self.extra_fields = fields
        self._cache: OrderedDict[bytes, Likelihood] = OrderedDict()

    @property
    def n_inputs(self) -> int:
        """Data matrix, parameters and extra fields (the Op's inputs)."""
        return 1 + self.n_params + len(self.extra_fields)

    def check_data(self, data_matrix: np.ndarray) -> None:
        """The bound Op refuses a data matrix that is not the data it was built from."""
        if self.bound is None:
            return
        data_matrix = np.asarray(data_matrix)
        if data_matrix.ndim != 2 or data_matrix.shape[0] != self.n_rows:
            raise ValueError(
                f"this Op is bound to data of {self.n_rows} rows but was given a data matrix "
                f"of shape {data_matrix.shape}; build an Op for the new data "
                "(model.logp_op(new_data)) or an unbound one (model.logp_op())"
            )
        # rt of answered rows (missed rows carry placeholders); float32 data allowed.
        close = np.isclose(
            data_matrix[:, 0].astype(np.float64), self.rt, rtol=1e-6, atol=1e-6
        ) | ~self.observed
        if not close.all():
            bad = int(np.flatnonzero(~close)[0])
            raise ValueError(
                f"this Op is bound to its data, but row {bad} of the data matrix has rt "
                f"{data_matrix[bad, 0]!r} where the data has {self.rt[bad]!r} (rows reordered "
                "or other data?); build an Op for the new data (model.logp_op(new_data))"
            )

    def likelihood(self, data_matrix: Any, extras: Sequence[Any]) -> Likelihood:
        """The bound likelihood, or one derived from the numeric inputs (cached)."""
        if self.bound is not None:
            self.check_data(data_matrix)
            return self.bound
        data_matrix = np.asarray(data_matrix, dtype=np.float64)
        extras = [np.asarray(e) for e in extras]
        key = b"|".join(
            [data_matrix.tobytes(), str(data_matrix.shape).encode()]
            + [e.dtype.str.encode() + e.tobytes() for e in extras]
        )
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if data_matrix.ndim != 2 or data_matrix.shape[1] != 2:
            raise ValueError(
                f"the data matrix must have two columns (rt, response), got shape {data_matrix.shape}"
            )
        n = data_matrix.shape[0]
        columns: dict[str, Any] = {"rt": data_matrix[:, 0], "response": data_matrix[:, 1]}
        for name, values in zip(self.extra_fields, extras, strict=True):
            values = np.broadcast_to(values, (n,)) if values.size == 1 else values
            if values.shape != (n,):
                raise ValueError(
                    f"extra field {name!r} has shape {values.shape}; expected ({n},), one "
                    "value per row of the data matrix"
                )
            columns[name] = values
        lik = Likelihood.of_model(self.model, pd.DataFrame(columns))
        self._cache[key] = lik
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return lik

    def likelihood_for_graph(self, node: Apply) -> Likelihood:
        """The likelihood a JAX-compiled graph uses: fixed when the graph is built."""
        if self.bound is not None:
            first = node.inputs[0]
            if isinstance(first, Constant):
                self.check_data(first.data)
            return self.bound
        structural = [node.inputs[0], *node.inputs[1 + self.n_params : self.n_inputs]]
        if not all(isinstance(v, Constant) for v in structural):
            raise NotImplementedError(
                "an unbound rlssm Op can be compiled with JAX only when its data matrix and "
                "extra fields are constants of the graph; build the Op with the data instead "
                "(model.logp_op(data)), as to_hssm does"
            )
        values = [v.data for v in structural if isinstance(v, Constant)]
        return self.likelihood(values[0], values[1:])
