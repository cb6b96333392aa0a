"""Prior specifications as users write them for HSSM: read without importing HSSM."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["PriorSpec", "parse_prior"]


class PriorSpec(NamedTuple):
    """A prior specification, read."""

    dist: str
    """The distribution's name (PyMC's)."""
    args: dict[str, Any]
    """Its keyword arguments."""
    bounds: tuple[float, float] | None
    """Truncation bounds given apart from the arguments (``hssm.Prior(..., bounds=)``)."""


def parse_prior(prior: Any) -> PriorSpec | None:
    """A dict with a ``"name"`` (and optionally ``"bounds"``) or an ``hssm.Prior``, read;
    None for anything else (a number, a dict of regression terms, a hyperprior object).

    A truncated ``hssm.Prior`` keeps its arguments in ``_args`` (its ``args`` are then
    empty, the truncated distribution taking their place): those are the ones returned.
    """
    if isinstance(prior, Mapping):
        if "name" not in prior:
            return None
        args = {k: v for k, v in prior.items() if k not in ("name", "bounds")}
        return PriorSpec(str(prior["name"]), args, prior.get("bounds"))
    name = getattr(prior, "name", None)
    if not isinstance(name, str):
        return None
    args = getattr(prior, "_args", None) if getattr(prior, "is_truncated", False) else None
    if args is None:
        args = getattr(prior, "args", None)
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        return None
    return PriorSpec(name, dict(args), getattr(prior, "bounds", None))
