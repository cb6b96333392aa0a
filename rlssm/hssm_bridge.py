"""The bridge to HSSM: PyTensor Ops, an ``hssm.ModelConfig`` and a ready ``hssm.HSSM``.

HSSM fits models whose likelihood is a PyTensor Op called as
``op(data_matrix, *params, *extra_fields)``. This module wraps an
[`RLSSM`][rlssm.RLSSM]'s pure JAX log-likelihood ([`RLSSM.logp_fn`][rlssm.RLSSM.logp_fn])
in such an Op, with a vector-Jacobian-product Op for gradients and ``jax_funcify``
registrations for graphs compiled by JAX (``sampler="numpyro"`` / ``"blackjax"``), in
the manner of HSSM's own ``LANLogpOp`` / ``LANLogpVJPOp``.

Row alignment
-------------
An RL likelihood depends on the order of trials, so the Op that
[`to_hssm`][rlssm.hssm_bridge.to_hssm] uses is *bound* to the data it was built from:
the participants x trials layout (sorting by ``trial_id``, padding, missed-trial masks)
is fixed at construction, and the Op returns one log-likelihood per row of that data,
in its row order. HSSM copies the data it is given and keeps its row order (it only
moves rows with ``rt == -999`` to the top, a code rlssm never passes), so the
``__obs__`` coordinate ``i`` of HSSM's ``log_likelihood`` and ``posterior_predictive``
groups is row ``i`` (by position) of the data as given.

Missed trials
-------------
HSSM rejects NaN response times. `to_hssm` therefore hands HSSM a copy of the data in
which a missed trial (rt and response NaN) carries placeholders:
``rt = MISSED_RT_PLACEHOLDER`` (1000 s, or more when ``t``'s upper bound is larger,
so that HSSM's own ``t < rt`` check never fires there) and ``response = choices[0]``.
NaN extra fields on those rows become 0. The bound Op never reads these placeholders:
its layout comes from the original data, where these rows are missed and add exactly
0.0 to the log-likelihood and do not update the values.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.op import Op
from pytensor.link.jax.dispatch.basic import jax_funcify
from pytensor.tensor.random.op import RandomVariable

from ._errors import DataError

if TYPE_CHECKING:
    import hssm

    from .model import RLSSM

__all__ = [
    "MISSED_RT_PLACEHOLDER",
    "RLSSMLogpOp",
    "RLSSMLogpVJPOp",
    "hierarchical_include",
    "hssm_data",
    "make_logp_op",
    "make_model_config",
    "to_hssm",
]

MISSED_RT_PLACEHOLDER = 1000.0
"""The rt (seconds) HSSM sees on missed trials; the bound Op ignores it (see module docs)."""

_CACHE_SIZE = 4


# ---------------------------------------------------------------------- JAX functions
class _Likelihood:
    """Per-row log-likelihood and its VJP, as JAX functions of the parameter inputs.

    One instance per data layout. ``logp(*params)`` takes the parameters in
    ``model.param_names`` order, each a scalar, a size-1 array or one value per row, and
    returns ``(rows,)``; ``vjp(*params, gz)`` returns one cotangent per parameter, of the
    parameter's shape and dtype. ``logp_jit`` / ``vjp_jit`` are their jitted versions
    (the Ops' ``perform``); the plain ones are inlined into graphs compiled by JAX.
    """

    def __init__(self, model: RLSSM, data: pd.DataFrame):
        f = model.logp_fn(data)
        names = model.param_names
        n_rows = len(data)
        n_part = int(pd.Series(data["participant_id"]).nunique())
        self.n_rows = n_rows

        def as_param(name: str, x: Any) -> jax.Array:
            x = jnp.asarray(x)
            if x.size == 1:
                return x.reshape(())
            # One value per row, or (unless that is ambiguous) one per participant in
            # sorted participant_id order: logp_fn gathers those to the rows itself.
            if x.ndim == 1 and (x.shape[0] == n_rows or (x.shape[0] == n_part != n_rows)):
                return x
            raise ValueError(
                f"parameter {name!r} has shape {tuple(x.shape)}; the Op takes a scalar, a "
                f"size-1 array, one value per row of data ({n_rows},) or one per "
                f"participant ({n_part},)"
            )

        def logp(*params: Any) -> jax.Array:
            return f({n: as_param(n, x) for n, x in zip(names, params, strict=True)})

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


def _as_numeric(values: Any) -> np.ndarray:
    """An extra-field column as numbers: non-numeric labels become sorted integer codes.

    Equal labels get equal codes and the order of sorted labels is kept, which is all
    the likelihood reads from ``participant_id``, ``block`` and ``state``.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "biuf":
        return arr
    codes, _ = pd.factorize(pd.Series(arr), sort=True)
    return codes.astype(np.int64)


class _Structure:
    """What the Ops need to know besides the parameters: model, names, bound data."""

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
            self.bound: _Likelihood | None = _Likelihood(model, data)
            self.n_rows: int | None = len(data)
            self.rt = np.asarray(pd.to_numeric(data["rt"]), dtype=np.float64)
            self.observed = ~np.isnan(self.rt)
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
        self._cache: OrderedDict[bytes, _Likelihood] = OrderedDict()

    @property
    def n_inputs(self) -> int:
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

    def likelihood(self, data_matrix: Any, extras: Sequence[Any]) -> _Likelihood:
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
        lik = _Likelihood(self.model, pd.DataFrame(columns))
        self._cache[key] = lik
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return lik

    def likelihood_for_graph(self, node: Apply) -> _Likelihood:
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


def _floatx() -> str:
    return str(pytensor.config.floatX)  # type: ignore[attr-defined]


def _tensor(x: Any) -> Any:
    """A parameter input as a float tensor."""
    var = pt.as_tensor_variable(x)
    if var.dtype not in ("float32", "float64"):
        var = pt.cast(var, _floatx())
    return var


# ---------------------------------------------------------------------- Ops
class RLSSMLogpVJPOp(Op):
    """The vector-Jacobian product of [`RLSSMLogpOp`][rlssm.hssm_bridge.RLSSMLogpOp].

    ``vjp_op(data_matrix, *params, *extra_fields, gz)`` returns one cotangent per
    parameter, of the parameter's type. Built by `make_logp_op`; not used directly.
    """

    def __init__(self, structure: _Structure):
        self.structure = structure

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        """Never precompute the opaque JAX-backed outputs."""
        return False

    def make_node(self, data: Any, *inputs: Any) -> Apply:  # type: ignore[override]
        """Inputs: data matrix, parameters, extra fields, then the cotangent ``gz``."""
        s = self.structure
        *rest, gz = inputs
        params = [_tensor(p) for p in rest[: s.n_params]]
        extras = [pt.as_tensor_variable(e) for e in rest[s.n_params :]]
        all_inputs = [pt.as_tensor_variable(data), *params, *extras, pt.as_tensor_variable(gz)]
        return Apply(self, all_inputs, [p.type() for p in params])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        """Evaluate the VJP (jitted JAX) for the numeric inputs."""
        s = self.structure
        lik = s.likelihood(inputs[0], inputs[1 + s.n_params : s.n_inputs])
        grads = lik.vjp_jit(*inputs[1 : 1 + s.n_params], inputs[-1])
        for i, g in enumerate(grads):
            output_storage[i][0] = np.asarray(g, dtype=node.outputs[i].type.dtype).reshape(
                np.shape(inputs[1 + i])
            )


class RLSSMLogpOp(Op):
    """An [`RLSSM`][rlssm.RLSSM]'s per-row log-likelihood as a PyTensor Op.

    HSSM's log-likelihood convention: ``op(data_matrix, *params, *extra_fields)`` with
    ``data_matrix`` of shape ``(rows, 2)`` (rt, response in the data's coding), one input
    per name in ``model.param_names`` (a scalar, a size-1 array, one value per row or one
    per participant in sorted ``participant_id`` order),
    then one vector per extra field. Returns the ``(rows,)`` log-likelihood in
    PyTensor's ``floatX``; the computation runs in the model's ``precision``. Gradients
    flow to the parameters only. Built by [`make_logp_op`][rlssm.hssm_bridge.make_logp_op].
    """

    def __init__(self, structure: _Structure):
        self.structure = structure
        self.vjp_op = RLSSMLogpVJPOp(structure)

    @property
    def model(self) -> RLSSM:
        """The model whose likelihood this is."""
        return self.structure.model

    @property
    def extra_fields(self) -> tuple[str, ...]:
        """Names of the extra-field inputs, in order."""
        return self.structure.extra_fields

    @property
    def is_bound(self) -> bool:
        """Whether the trial layout was fixed from data at construction."""
        return self.structure.bound is not None

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        """Never precompute the opaque JAX-backed outputs."""
        return False

    def make_node(self, data: Any, *inputs: Any) -> Apply:  # type: ignore[override]
        """Inputs: the data matrix, the parameters, then the extra fields."""
        s = self.structure
        if data is None:
            raise ValueError("an rlssm Op needs the data matrix (rt, response) as first input")
        if len(inputs) != s.n_params + len(s.extra_fields):
            raise ValueError(
                f"the Op takes {s.n_params} parameters {s.model.param_names} and "
                f"{len(s.extra_fields)} extra fields {s.extra_fields} after the data matrix; "
                f"got {len(inputs)} inputs"
            )
        params = [_tensor(p) for p in inputs[: s.n_params]]
        extras = [
            pt.as_tensor_variable(_as_numeric(e) if isinstance(e, (np.ndarray, pd.Series, list)) else e)
            for e in inputs[s.n_params :]
        ]
        out = pt.vector(dtype=_floatx())
        return Apply(self, [pt.as_tensor_variable(data), *params, *extras], [out])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        """Evaluate the log-likelihood (jitted JAX) for the numeric inputs."""
        s = self.structure
        lik = s.likelihood(inputs[0], inputs[1 + s.n_params :])
        result = lik.logp_jit(*inputs[1 : 1 + s.n_params])
        output_storage[0][0] = np.asarray(result, dtype=node.outputs[0].type.dtype)

    def pullback(
        self, inputs: Sequence[Any], outputs: Sequence[Any], cotangents: Sequence[Any]
    ) -> list[Any]:
        """Gradients: the VJP Op for the parameters; none for data and extra fields."""
        s = self.structure
        grads = self.vjp_op(*inputs, cotangents[0])
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        return [
            pytensor.gradient.grad_not_implemented(self, 0, inputs[0]),
            *grads,
            *(
                pytensor.gradient.grad_undefined(self, i, inputs[i])
                for i in range(1 + s.n_params, len(inputs))
            ),
        ]


@jax_funcify.register(RLSSMLogpOp)  # type: ignore[arg-type]
def _jax_funcify_logp(op: RLSSMLogpOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    s = op.structure
    lik = s.likelihood_for_graph(node)
    dtype = node.outputs[0].type.dtype

    def rlssm_logp(*inputs: Any) -> jax.Array:
        return lik.logp(*inputs[1 : 1 + s.n_params]).astype(dtype)

    return rlssm_logp


@jax_funcify.register(RLSSMLogpVJPOp)  # type: ignore[arg-type]
def _jax_funcify_vjp(op: RLSSMLogpVJPOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    s = op.structure
    lik = s.likelihood_for_graph(node)
    n_out = len(node.outputs)
    dtypes = [o.type.dtype for o in node.outputs]

    def rlssm_logp_vjp(*inputs: Any) -> Any:
        params = inputs[1 : 1 + s.n_params]
        grads = lik.vjp(*params, inputs[-1])
        grads = tuple(
            g.astype(d).reshape(jnp.shape(p)) for g, d, p in zip(grads, dtypes, params, strict=True)
        )
        return grads if n_out > 1 else grads[0]

    return rlssm_logp_vjp


def make_logp_op(
    model: RLSSM,
    data: pd.DataFrame | None = None,
    *,
    extra_fields: Sequence[str] | None = None,
) -> RLSSMLogpOp:
    """The model's per-row log-likelihood as a PyTensor Op (with a VJP) for HSSM.

    Parameters
    ----------
    model
        The model.
    data
        With data, the Op is bound to it: the trial layout is fixed now (validation
        errors are raised here), the Op checks that the data matrix it receives is this
        data, and it returns one value per row of ``data``, in its order (missed trials
        0.0). Without, each evaluation derives the layout from its numeric inputs
        (cached on their bytes); a missed trial is then a row with NaN rt and response.
    extra_fields
        Names of the extra-field inputs of an unbound Op, in order; default
        ``model.extra_fields``. (A bound Op takes ``model.extra_fields_for(data)``.)

    Returns
    -------
    RLSSMLogpOp
        ``op(data_matrix, *params, *extra_fields) -> (rows,)``.
    """
    return RLSSMLogpOp(_Structure(model, data, extra_fields))


# ---------------------------------------------------------------------- simulator RV
def _make_rv(
    model: RLSSM, data: pd.DataFrame | None, lapse: Any | None = None
) -> type[RandomVariable]:
    """A RandomVariable class whose draws come from rlssm's conditional simulator.

    ``rng_fn(rng, *params[, p_outlier], size)`` receives the parameters in
    ``param_names`` order (per row, possibly with leading draw dimensions) and returns
    ``(..., rows, 2)``: rt and response (data coding) for every row of the bound data,
    simulated one step ahead from the observed history by
    ``rlssm.simulate.sample_conditional_rows``. Rows missed in the data (and draws where
    the decision process never finished) are NaN.
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
            from .simulate import sample_conditional_rows

            key = jax.random.key(int(rng.integers(0, 2**31 - 1)))
            rt, option = sample_conditional_rows(cls._model, cls._layout, rows, key)
            option = np.asarray(option).reshape(shape)
            coding = np.asarray(cls._model.choices, dtype=np.float64)
            response = np.where(option >= 0, coding[np.clip(option, 0, None)], np.nan)
            out = np.stack([np.asarray(rt, dtype=np.float64).reshape(shape), response], axis=-1)
            if p_outlier is not None:
                out = _apply_lapse(out, np.asarray(p_outlier), cls._lapse, model.choices, rng)
            return out

    return RLSSMRV


def _apply_lapse(
    sims: np.ndarray, p_outlier: np.ndarray, lapse: Any, choices: Sequence[Any], rng: np.random.Generator
) -> np.ndarray:
    """Replace draws by lapses with probability ``p_outlier`` (HSSM's lapse model)."""
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
    return hssm.ModelConfig(
        response=("rt", "response"),
        list_params=list(model.param_names),
        choices=tuple(model.choices),  # type: ignore[arg-type]
        bounds={k: (float(lo), float(hi)) for k, (lo, hi) in model.bounds.items()},
        backend="jax",
        rv=_make_rv(model, data, lapse),  # type: ignore[arg-type]  # HSSM instantiates the class
        extra_fields=list(fields),
    )


# ---------------------------------------------------------------------- HSSM model
def missed_rt_placeholder(model: RLSSM) -> float:
    """The rt HSSM sees on missed trials: beyond any ``t`` within its bounds."""
    t_upper = model.bounds.get("t", (0.0, 0.0))[1]
    if math.isfinite(t_upper):
        return max(MISSED_RT_PLACEHOLDER, 2.0 * t_upper + 1.0)
    return MISSED_RT_PLACEHOLDER


def hssm_data(model: RLSSM, data: pd.DataFrame) -> pd.DataFrame:
    """The copy of ``data`` that HSSM is given: same rows and order, placeholders on missed trials.

    Validates ``data`` first (raising [`DataError`][rlssm.DataError]). The index is
    reset to positions ``0..rows-1``. On missed trials ``rt`` becomes
    [`missed_rt_placeholder`][rlssm.hssm_bridge.missed_rt_placeholder], ``response``
    ``choices[0]`` and NaN extra fields 0.
    """
    model.prepare(data)
    out = data.reset_index(drop=True)  # a copy
    missed = out["rt"].isna().to_numpy()
    if missed.any():
        out["rt"] = np.asarray(pd.to_numeric(out["rt"]), dtype=np.float64)
        out.loc[missed, "rt"] = missed_rt_placeholder(model)
        out.loc[missed, "response"] = model.choices[0]
        for name in model.learning_rule.fields:
            out.loc[missed & out[name].isna().to_numpy(), name] = 0.0
    return out


def _param_name(spec: Any) -> str:
    if isinstance(spec, Mapping):
        if "name" not in spec:
            raise ValueError(f"include: a parameter specification needs a 'name', got {spec!r}")
        return str(spec["name"])
    name = getattr(spec, "name", None)
    if name is None:
        raise TypeError(
            f"include: expected hssm.Param objects or dicts with a 'name', got {type(spec).__name__}"
        )
    return str(name)


_RESERVED = ("model", "model_config", "loglik", "loglik_kind", "choices", "missing_data", "deadline")


def to_hssm(
    model: RLSSM,
    data: pd.DataFrame,
    include: Sequence[Any] | None = None,
    **kwargs: Any,
) -> hssm.HSSM:
    """An ``hssm.HSSM`` for ``data``, ready to ``.sample()``.

    Parameters
    ----------
    model
        The model.
    data
        The trial data, validated here (a [`DataError`][rlssm.DataError] is raised
        before HSSM sees it).
    include
        ``hssm.Param`` objects (or dicts) as in HSSM, e.g. ``hssm.Param("rl_alpha",
        formula="rl_alpha ~ 1 + (1|participant_id)", prior={...})``; each must name a
        parameter of ``model.param_names`` (or ``p_outlier``). See
        [`hierarchical_include`][rlssm.hssm_bridge.hierarchical_include].
    **kwargs
        Passed to ``hssm.HSSM`` (e.g. ``link_settings``, ``prior_settings``,
        ``noncentered``, ``lapse``). ``p_outlier`` defaults to ``None`` (no lapse
        mixture) here, not to HSSM's 0.05.

    Returns
    -------
    hssm.HSSM
        Its likelihood is the Op bound to ``data``, so its ``log_likelihood`` and
        predictive draws align with the rows of ``data`` as given (``__obs__`` ``i`` is
        row ``i`` by position). Missed trials reach HSSM as placeholders (see
        `hssm_data`) and contribute 0.0. The attributes ``rlssm_model`` and
        ``rlssm_data`` hold the model and the original data.

    Raises
    ------
    DataError
        Invalid data.
    ValueError
        ``include`` names an unknown parameter, or ``p_outlier`` is combined with
        missed trials (the lapse mixture would give them a likelihood).
    TypeError
        An argument that `to_hssm` sets itself (``model``, ``model_config``,
        ``loglik``, ``loglik_kind``, ``choices``, ``missing_data``, ``deadline``).
    """
    import hssm

    clash = [k for k in _RESERVED if k in kwargs]
    if clash:
        raise TypeError(f"to_hssm sets {clash} itself; configure the RLSSM instead")
    if not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in model.choices):
        raise ValueError(
            f"HSSM needs integer response codes, but the model's choices are {model.choices!r}: "
            "recode the data's response column to integers (e.g. 0/1) and build the RLSSM with "
            "choices=(0, 1); loglik, values and simulation accept any response values"
        )
    layout = model.prepare(data)
    include = list(include or [])
    allowed = (*model.param_names, "p_outlier")
    for spec in include:
        name = _param_name(spec)
        if name not in allowed:
            raise ValueError(
                f"include names the parameter {name!r}, which this model does not have; its "
                f"parameters are {model.param_names}"
            )
    p_outlier = kwargs.pop("p_outlier", None)
    has_lapse = p_outlier is not None and not (isinstance(p_outlier, (int, float)) and p_outlier == 0)
    n_missed = int((~layout.observed & layout.valid).sum())
    if has_lapse and n_missed:
        raise ValueError(
            f"p_outlier with missed trials ({n_missed} in the data): HSSM's lapse mixture would "
            "give missed trials a likelihood. Drop them first (data.dropna(subset=['rt']); "
            "this leaves the likelihood unchanged, as missed trials neither add to it nor "
            "update the values) or use p_outlier=None"
        )
    lapse = None
    if has_lapse:
        lapse = kwargs.get("lapse") or hssm.Prior("Uniform", lower=0.0, upper=20.0)
        if isinstance(lapse, Mapping):
            lapse = hssm.Prior(**lapse)
        kwargs["lapse"] = lapse
    from .lan_check import check_decision_ranges  # one LANRangeWarning at most, never raises

    check_decision_ranges(model, data, include=include, stacklevel=3)
    config = make_model_config(model, data, lapse=lapse)
    hm = hssm.HSSM(
        data=hssm_data(model, data),
        model="rlssm",
        model_config=config,
        loglik=make_logp_op(model, data),
        loglik_kind="approx_differentiable",
        include=include,
        p_outlier=p_outlier if has_lapse else None,
        **kwargs,
    )
    hm.rlssm_model = model  # type: ignore[attr-defined]
    hm.rlssm_data = data.copy()  # type: ignore[attr-defined]
    return hm


def _default_intercept_prior(lower: float, upper: float) -> hssm.Prior:
    import hssm

    if math.isfinite(lower) and math.isfinite(upper):
        return hssm.Prior(
            "TruncatedNormal", mu=0.5 * (lower + upper), sigma=0.25 * (upper - lower),
            lower=lower, upper=upper,
        )
    if math.isfinite(lower):
        return hssm.Prior("TruncatedNormal", mu=lower + 1.0, sigma=2.0, lower=lower)
    if math.isfinite(upper):
        return hssm.Prior("TruncatedNormal", mu=upper - 1.0, sigma=2.0, upper=upper)
    return hssm.Prior("Normal", mu=0.0, sigma=2.0)


def hierarchical_include(
    model: RLSSM, priors: Mapping[str, Any] | None = None
) -> list[hssm.Param]:
    """``p ~ 1 + (1|participant_id)`` for every parameter of the model.

    Parameters
    ----------
    model
        The model.
    priors
        Intercept prior per parameter name (an ``hssm.Prior`` or a dict with a
        ``"name"``). Default, for parameters not listed: a normal truncated to the
        parameter's bounds, centred mid-bound with a quarter of the range as scale.
        The group term's prior is left to HSSM (``prior_settings``).

    Returns
    -------
    list[hssm.Param]
        One ``hssm.Param`` per name in ``model.param_names``, for ``include=``.
    """
    import hssm

    priors = dict(priors or {})
    unknown = [k for k in priors if k not in model.param_names]
    if unknown:
        raise ValueError(
            f"priors names {unknown}, not parameters of this model {model.param_names}"
        )
    out = []
    for name in model.param_names:
        prior = priors.get(name)
        if prior is None:
            prior = _default_intercept_prior(*model.bounds[name])
        elif isinstance(prior, Mapping):
            prior = hssm.Prior(**prior)
        out.append(
            hssm.Param(
                name,
                formula=f"{name} ~ 1 + (1|participant_id)",
                prior={"Intercept": prior},
            )
        )
    return out
