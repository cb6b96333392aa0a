"""Parameter declarations shared by learning rules, mappings and decision models."""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._types import Bounds

ParamDecl = tuple[float, float] | tuple[float, float, float]
"""``(lower, upper)`` or ``(lower, upper, default)`` as written in a component's ``params``."""


def split_decl(name: str, decl: ParamDecl) -> tuple[Bounds, float]:
    """Return ``((lower, upper), default)`` of one declared parameter.

    The default is the declared one, else the midpoint of finite bounds, else a finite
    bound, else 0.
    """
    if not isinstance(decl, tuple) or len(decl) not in (2, 3):
        raise TypeError(
            f"parameter {name!r}: declare (lower, upper) or (lower, upper, default), got {decl!r}"
        )
    lower, upper = float(decl[0]), float(decl[1])
    if not lower < upper:
        raise ValueError(f"parameter {name!r}: lower bound {lower} must be below upper {upper}")
    if len(decl) == 3:
        default = float(decl[2])  # type: ignore[misc]
    elif math.isfinite(lower) and math.isfinite(upper):
        default = 0.5 * (lower + upper)
    elif math.isfinite(lower):
        default = lower + 1.0
    elif math.isfinite(upper):
        default = upper - 1.0
    else:
        default = 0.0
    if not lower <= default <= upper:
        raise ValueError(f"parameter {name!r}: default {default} lies outside [{lower}, {upper}]")
    return (lower, upper), default


def bounds_of(decls: Mapping[str, ParamDecl]) -> dict[str, Bounds]:
    """Bounds of every declared parameter."""
    return {name: split_decl(name, d)[0] for name, d in decls.items()}
