"""The indecision point of two-option choice rules: a shift of the value difference."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import jax.numpy as jnp

from .._spec import ParamDecl
from .._types import Array, Float
from .base import AbstractMapping, AbstractWrappedMapping

__all__ = ["IndecisionPoint"]

INDECISION = "indecision"
"""The parameter `IndecisionPoint` adds."""


class IndecisionPoint(AbstractWrappedMapping):
    """A two-option mapping that first adds ``indecision`` to option 1's value.

    The wrapped mapping sees ``(Q[0], Q[1] + indecision)``: with
    [`Values`][rlssm.Values] and a [`Softmax`][rlssm.Softmax]

        P(option 0) = 1 / (1 + exp(beta * (indecision - (Q[0] - Q[1]))))

    so that the options are chosen equally often where ``Q[0] - Q[1] = indecision``,
    not where the values are equal (a positive ``indecision`` favours option 1); with
    [`DriftScaling`][rlssm.DriftScaling] and a two-boundary model the drift is
    ``v = scaler * (Q[1] - Q[0] + indecision)``, zero at the same point. This is the
    choice rule of hBayesDM's ``prl_fictitious`` and ``prl_fictitious_rp`` (their
    ``alpha``, "indecision point", with hBayesDM's choice 1 as option 0); their
    ``_woa`` forms hold it at 0 (``rlssm.Fixed(IndecisionPoint(...), indecision=0.0)``).

    Two options only: the model fails at construction with another number.

    Parameters
    ----------
    mapping
        The two-option mapping to shift the values of.

    Notes
    -----
    Sampled parameter, listed before the wrapped mapping's: ``indecision``, any real
    (bounds (-inf, inf), default 0; unbounded as in hBayesDM, whose prior on it is a
    normal).
    """

    mapping: AbstractMapping

    def __init__(self, mapping: AbstractMapping):
        if isinstance(mapping, type) or not isinstance(mapping, AbstractMapping):
            what = mapping.__name__ if isinstance(mapping, type) else type(mapping).__name__
            raise TypeError(f"IndecisionPoint: expected a mapping instance, got {what}")
        self.mapping = mapping

    def __check_init__(self) -> None:
        if INDECISION in self.mapping.params:
            raise ValueError(
                f"IndecisionPoint: {type(self.mapping).__name__} has a parameter named {INDECISION!r} already"
            )

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return MappingProxyType({INDECISION: (-math.inf, math.inf, 0.0), **self.mapping.params})

    def __call__(
        self, values: Float[Array, " options"], **inputs: Float[Array, "..."]
    ) -> dict[str, Float[Array, ""]]:
        if values.shape[0] != 2:
            raise ValueError(
                f"IndecisionPoint is defined for two options, got {values.shape[0]}: the indecision "
                "point shifts the difference of two values"
            )
        indecision = inputs.pop(INDECISION)
        shifted = values + indecision * jnp.asarray([0.0, 1.0], dtype=values.dtype)
        return self.mapping(shifted, **inputs)
