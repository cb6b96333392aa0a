"""PyTensor Ops around JAX log-likelihoods, with VJP Ops and ``jax_funcify`` registrations.

Two kinds, both evaluating a `Likelihood` (jitted in ``perform``; inlined into graphs compiled by JAX, ``sampler="numpyro"`` /
``"blackjax"``), in the manner of HSSM's own ``LANLogpOp`` / ``LANLogpVJPOp``:

* [`LogpOp`][rlssm.hssm_bridge.LogpOp] (`make_params_op`): any ``f(params) -> (N,)``,
  one input per parameter. What rlssm's own hierarchical fit calls with its
  per-participant values.
* [`RLSSMLogpOp`][rlssm.hssm_bridge.RLSSMLogpOp] (`make_logp_op`): an RLSSM's
  per-row log-likelihood in HSSM's convention ``op(data_matrix, *params,
  *extra_fields)``, bound to its data (what [`to_hssm`][rlssm.hssm_bridge.to_hssm]
  uses) or deriving the trial layout from its numeric inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .likelihood import Likelihood, Structure, as_numeric

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = [
    "LogpOp",
    "LogpVJPOp",
    "RLSSMLogpOp",
    "RLSSMLogpVJPOp",
    "make_logp_op",
    "make_params_op",
]


def _floatx() -> str:
    return str(pytensor.config.floatX)  # type: ignore[attr-defined]


def _tensor(x: Any) -> Any:
    """A parameter input as a float tensor."""
    var = pt.as_tensor_variable(x)
    if var.dtype not in ("float32", "float64"):
        var = pt.cast(var, _floatx())
    return var


def _store_grads(grads: Sequence[Any], params: Sequence[Any], node: Apply, output_storage: Any) -> None:
    """``perform``'s outputs of a VJP Op: each cotangent in its parameter's type and shape."""
    for i, (g, p) in enumerate(zip(grads, params, strict=True)):
        output_storage[i][0] = np.asarray(g, dtype=node.outputs[i].type.dtype).reshape(np.shape(p))


def _jax_logp(lik: Likelihood, node: Apply, first: int) -> Callable[..., Any]:
    """The JAX body of a log-likelihood Op whose parameters start at input ``first``."""
    stop = first + len(lik.names)
    dtype = node.outputs[0].type.dtype

    def rlssm_logp(*inputs: Any) -> jax.Array:
        return lik.logp_jit(*inputs[first:stop]).astype(dtype)

    return rlssm_logp


def _jax_vjp(lik: Likelihood, node: Apply, first: int) -> Callable[..., Any]:
    """The JAX body of a VJP Op whose parameters start at input ``first`` (``gz`` last)."""
    stop = first + len(lik.names)
    dtypes = [o.type.dtype for o in node.outputs]
    single = len(node.outputs) == 1

    def rlssm_logp_vjp(*inputs: Any) -> Any:
        params = inputs[first:stop]
        grads = lik.vjp_jit(*params, inputs[-1])
        grads = tuple(
            g.astype(d).reshape(jnp.shape(p)) for g, d, p in zip(grads, dtypes, params, strict=True)
        )
        return grads[0] if single else grads

    return rlssm_logp_vjp


# ---------------------------------------------------------------------- params only
class LogpVJPOp(Op):
    """The vector-Jacobian product of [`LogpOp`][rlssm.hssm_bridge.LogpOp].

    ``vjp_op(*params, gz)`` returns one cotangent per parameter, of the parameter's
    type. Built with the `LogpOp`; not used directly.
    """

    def __init__(self, likelihood: Likelihood):
        self.likelihood = likelihood

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        """Never precompute the opaque JAX-backed outputs."""
        return False

    def make_node(self, *inputs: Any) -> Apply:  # type: ignore[override]
        """Inputs: the parameters, then the cotangent ``gz``."""
        *rest, gz = inputs
        params = [_tensor(p) for p in rest]
        return Apply(self, [*params, pt.as_tensor_variable(gz)], [p.type() for p in params])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        """Evaluate the VJP (jitted JAX) for the numeric inputs."""
        params = inputs[:-1]
        _store_grads(self.likelihood.vjp_jit(*params, inputs[-1]), params, node, output_storage)


class LogpOp(Op):
    """A JAX log-likelihood of named parameters as a PyTensor Op.

    ``op(*params)`` takes one tensor per name in ``likelihood.names`` (any shape the
    function accepts: for ``model.logp_fn(data)`` a scalar, a size-1 array, one value
    per participant in sorted ``participant_id`` order, or one per row) and returns the
    ``(N,)`` log-likelihood in PyTensor's ``floatX``. Built by
    [`make_params_op`][rlssm.hssm_bridge.make_params_op].
    """

    def __init__(self, likelihood: Likelihood):
        self.likelihood = likelihood
        self.vjp_op = LogpVJPOp(likelihood)

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names, in input order."""
        return self.likelihood.names

    def do_constant_folding(self, fgraph: Any, node: Apply) -> bool:
        """Never precompute the opaque JAX-backed outputs."""
        return False

    def make_node(self, *inputs: Any) -> Apply:  # type: ignore[override]
        """Inputs: one tensor per parameter."""
        if len(inputs) != len(self.names):
            raise ValueError(f"the Op takes {len(self.names)} parameters {self.names}; got {len(inputs)} inputs")
        params = [_tensor(p) for p in inputs]
        return Apply(self, params, [pt.vector(dtype=_floatx())])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: Any) -> None:
        """Evaluate the log-likelihood (jitted JAX) for the numeric inputs."""
        result = self.likelihood.logp_jit(*inputs)
        output_storage[0][0] = np.asarray(result, dtype=node.outputs[0].type.dtype)

    def pullback(
        self, inputs: Sequence[Any], outputs: Sequence[Any], cotangents: Sequence[Any]
    ) -> list[Any]:
        """Gradients of every parameter, from the VJP Op."""
        grads = self.vjp_op(*inputs, cotangents[0])
        return list(grads) if isinstance(grads, (list, tuple)) else [grads]


def _jax_funcify_params_logp(op: LogpOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    return _jax_logp(op.likelihood, node, 0)


def _jax_funcify_params_vjp(op: LogpVJPOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    return _jax_vjp(op.likelihood, node, 0)


def make_params_op(f: Callable[[Mapping[str, Any]], jax.Array], names: Sequence[str]) -> LogpOp:
    """``f(params) -> (N,)`` as a PyTensor Op with a VJP, one input per parameter.

    Parameters
    ----------
    f
        A JAX function of a ``name -> array`` mapping, differentiable in every value
        (e.g. ``model.logp_fn(data)``).
    names
        The parameter names, in input order.

    Returns
    -------
    LogpOp
        ``op(*params) -> (N,)``, compiled by PyTensor's Python, numba or JAX backends.
    """
    register_jax_dispatch()
    return LogpOp(Likelihood(f, names))


# ---------------------------------------------------------------------- HSSM convention
class RLSSMLogpVJPOp(Op):
    """The vector-Jacobian product of [`RLSSMLogpOp`][rlssm.hssm_bridge.RLSSMLogpOp].

    ``vjp_op(data_matrix, *params, *extra_fields, gz)`` returns one cotangent per
    parameter, of the parameter's type. Built by `make_logp_op`; not used directly.
    """

    def __init__(self, structure: Structure):
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
        params = inputs[1 : 1 + s.n_params]
        _store_grads(lik.vjp_jit(*params, inputs[-1]), params, node, output_storage)


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

    def __init__(self, structure: Structure):
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
            pt.as_tensor_variable(as_numeric(e) if isinstance(e, (np.ndarray, pd.Series, list)) else e)
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


def _jax_funcify_logp(op: RLSSMLogpOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    return _jax_logp(op.structure.likelihood_for_graph(node), node, 1)


def _jax_funcify_vjp(op: RLSSMLogpVJPOp, node: Apply, **kwargs: Any) -> Callable[..., Any]:
    return _jax_vjp(op.structure.likelihood_for_graph(node), node, 1)


_REGISTERED: list[bool] = []


def register_jax_dispatch() -> None:
    """Register the Ops with PyTensor's JAX backend (``jax_funcify``), once.

    Done when the first Op is made rather than at import: importing
    ``pytensor.link.jax.dispatch`` turns JAX's global ``jax_enable_x64`` on, and
    ``import rlssm`` must leave the caller's flag alone.
    """
    if _REGISTERED:
        return
    from pytensor.link.jax.dispatch.basic import jax_funcify

    register: Any = jax_funcify.register  # (pyright reads its stub as NoReturn)
    register(LogpOp)(_jax_funcify_params_logp)
    register(LogpVJPOp)(_jax_funcify_params_vjp)
    register(RLSSMLogpOp)(_jax_funcify_logp)
    register(RLSSMLogpVJPOp)(_jax_funcify_vjp)
    _REGISTERED.append(True)


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
    register_jax_dispatch()
    return RLSSMLogpOp(Structure(model, data, extra_fields))
