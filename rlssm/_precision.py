"""The float policy.

rlssm never changes JAX's global ``jax_enable_x64`` flag. Each model carries a
``precision`` setting (``"float32"`` or ``"float64"``); its computations run inside
``jax.enable_x64(precision == "float64")``, a thread-local context, with every input
cast to that dtype. The result is therefore the same whether or not another library
(``import hssm`` does) has turned the global flag on.

Stand-alone decision models (``rlssm.Angle().logp(...)``) compute in the dtype of their
inputs, as JAX functions do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from ._types import Precision

PRECISIONS: tuple[Precision, ...] = ("float32", "float64")


def check_precision(precision: str) -> Precision:
    """Return ``precision`` if it is a known policy, else raise ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision  # type: ignore[return-value]


@contextlib.contextmanager
def precision_scope(precision: Precision) -> Iterator[None]:
    """Run the enclosed JAX code with 64-bit types on or off, whatever the global flag."""
    with jax.enable_x64(precision == "float64"):
        yield


def float_dtype(precision: Precision) -> np.dtype:
    """The numpy dtype of a precision."""
    return np.dtype(precision)


def int_dtype(precision: Precision) -> np.dtype:
    """The integer dtype that goes with a precision (int32 for float32)."""
    return np.dtype("int64" if precision == "float64" else "int32")


def as_float(x: object, precision: Precision) -> jax.Array:
    """Cast ``x`` to a JAX array of the policy's float dtype (call inside the scope)."""
    return jnp.asarray(x, dtype=float_dtype(precision))


def input_float_dtype(*xs: object) -> np.dtype:
    """The dtype a stand-alone decision model computes in: that of its float arguments.

    Integer arguments (e.g. choices coded -1/+1) follow the floats; with no float
    argument, JAX's default float type.
    """
    floats = [x for x in xs if jnp.issubdtype(jnp.result_type(x), jnp.floating)]
    return np.dtype(jnp.result_type(*floats) if floats else jnp.result_type(float))


def scoped_call(fn, precision: Precision):
    """``fn(aux, params) -> Array`` run under the float policy, whatever the caller's x64 flag.

    With x64 on (or a float32 policy) it runs inside `precision_scope`. A float64 policy
    called with x64 off cannot hand float64 arrays back: it returns float32, and under
    differentiation the backward pass, which JAX would run outside the scope (losing
    float64), recomputes the pullback inside it (one extra forward pass, in this case only).
    ``aux`` (a pytree, e.g. the data) gets no cotangent.
    """

    @jax.custom_vjp
    def scoped(aux, params):
        with precision_scope(precision):
            return fn(aux, params)

    def scoped_fwd(aux, params):
        return scoped(aux, params), (aux, params)

    def scoped_bwd(res, cotangent):
        aux, params = res
        with precision_scope(precision):
            _, pullback = jax.vjp(lambda p: fn(aux, p), params)
            (grads,) = pullback(cotangent.astype(float_dtype(precision)))
            grads = {k: grads[k].astype(params[k].dtype) for k in params}
        return None, grads

    scoped.defvjp(scoped_fwd, scoped_bwd)

    def call(aux, params):
        if precision == "float64" and not jax.config.jax_enable_x64:
            out = scoped(aux, {k: jnp.asarray(v) for k, v in params.items()})
            return out.astype(jnp.float32)
        with precision_scope(precision):
            return fn(aux, {k: jnp.asarray(v) for k, v in params.items()})

    return call
