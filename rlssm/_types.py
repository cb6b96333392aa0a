"""Type aliases used across rlssm.

One module for shapes and aliases, so that public signatures read the same everywhere
(jaxtyping dimension names: ``trials``, ``options``, ``participants``, ``rows``).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, Key, PRNGKeyArray

Precision: TypeAlias = Literal["float32", "float64"]
"""The float policy of a model: every computation is carried out in this dtype."""

Bounds: TypeAlias = tuple[float, float]
"""Closed interval ``(lower, upper)`` of a parameter; ``inf`` allowed."""

Scalar: TypeAlias = Float[ArrayLike, ""]
"""A scalar parameter value."""

Values: TypeAlias = Float[Array, " options"]
"""Learned values of the options for one trial (one state)."""

RealLike: TypeAlias = Float[ArrayLike, "..."] | Int[ArrayLike, "..."] | float | int
"""Anything broadcastable that holds real numbers."""

ParamValue: TypeAlias = "float | int | np.ndarray | Array | object"
"""A parameter as the user passes it: scalar, per-participant or per-row array, or Series."""

__all__ = [
    "Array",
    "ArrayLike",
    "Bool",
    "Bounds",
    "Float",
    "Int",
    "Key",
    "PRNGKeyArray",
    "ParamValue",
    "Precision",
    "RealLike",
    "Scalar",
    "Values",
]
