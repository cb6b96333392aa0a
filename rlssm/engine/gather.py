"""Moves between row order and the participants x trials grid, with gather gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .._types import Array

__all__ = ["gather_rows"]


@jax.custom_vjp
def gather_rows(x: Array, index: Array, back_index: Array, back_valid: Array) -> Array:
    """``x[index]`` along the first axis, where ``index`` maps the outputs one-to-one onto
    the inputs (up to padding entries), with the gradient as a gather too.

    Between input rows and grid cells every row has exactly one cell, so the transpose
    of the gather, a scatter-add that XLA runs as a serial loop on CPUs, is itself a
    gather: ``g_x = where(back_valid, g_y[back_index], 0)``. Outputs that are padding
    (they repeat some input) carry no cotangent in rlssm (nothing reads them back), and
    inputs that are padding (``back_valid`` False) get none.
    """
    return x[index]


def _gather_rows_fwd(x, index, back_index, back_valid):
    return x[index], (back_index, back_valid)


def _gather_rows_bwd(res, g):
    back_index, back_valid = res
    mask = back_valid.reshape(back_valid.shape + (1,) * (g.ndim - 1))
    return jnp.where(mask, g[back_index], jnp.zeros((), g.dtype)), None, None, None


gather_rows.defvjp(_gather_rows_fwd, _gather_rows_bwd)
