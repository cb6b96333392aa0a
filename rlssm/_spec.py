"""Parameter declarations shared by learning rules, mappings and decision models: bounds
(default prior ranges) and domains (where a parameter is defined)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

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


# ---------------------------------------------------------------------- domains
_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])\s*$")


def _number_text(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return format(x, ".10g")


@dataclasses.dataclass(frozen=True)
class Domain:
    """An interval of the real line: where a parameter's process or formula is defined.

    Components declare domains as interval strings in their ``domains`` (``"(0, inf)"``,
    ``"[0, 1]"``, ``"(-1.5707963, 1.5707963)"``); a parameter without one may take any
    finite real. A domain is wider than the parameter's default ``params`` bounds,
    which are prior ranges.

    The eager entry points (``RLSSM.loglik``, ``RLSSM.values``, the closed-loop and
    conditional simulators, hence the predictive checks and ``rlssm simulate``) refuse
    a value outside its domain with a [`DataError`][rlssm.DataError] naming the
    parameter, the value, where it is (participant, row, trial, draw) and the domain,
    as numpyro's ``validate_args=True`` and PyMC's parameter checks do when a density
    is evaluated eagerly (see [`check_values`][rlssm.engine.check_values] and
    [`check_computed`][rlssm.engine.check_computed], which also checks the decision
    parameters a mapping computes); ``RLSSM(bounds=...)`` refuses bounds that reach
    beyond it ([`check_bounds`][rlssm.engine.check_bounds]). The jit path
    (``RLSSM.logp_fn``, the HSSM Op, the fits) does not check, its parameters being
    traced, as numpyro skips its checks under ``jit``: inside the domains it is finite
    (the decision model's floor where the density is 0), a NaN parameter gives NaN on
    the rows it reaches, and outside the domains its value is unspecified.

    Attributes
    ----------
    lower, upper
        The ends (``-inf`` / ``inf`` for an unbounded side).
    lower_closed, upper_closed
        Whether each end belongs to the domain (never for an infinite end).
    """

    lower: float
    upper: float
    lower_closed: bool = False
    upper_closed: bool = False

    def __post_init__(self) -> None:
        lo, hi = self.lower, self.upper
        if not lo < hi:  # NaN fails this too
            raise ValueError(f"a domain needs lower < upper, got {lo!r} and {hi!r}")
        if (self.lower_closed and math.isinf(lo)) or (self.upper_closed and math.isinf(hi)):
            fixed = Domain(lo, hi, self.lower_closed and math.isfinite(lo), self.upper_closed and math.isfinite(hi))
            raise ValueError(f"an infinite end of a domain is open: write {fixed}")

    @classmethod
    def parse(cls, text: str) -> Domain:
        """A domain from its interval string: ``"(0, inf)"``, ``"[0, 1]"``, ``"[0, inf)"``.

        A bracket ``[`` / ``]`` includes the end, a parenthesis excludes it; ends are
        numbers (Python's ``float``), ``inf`` or ``-inf`` (always open).
        """
        match = _INTERVAL.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"expected an interval such as '(0, inf)' or '[0, 1]', got {text!r}")
        left, lo, hi, right = match.groups()
        try:
            lower, upper = float(lo), float(hi)
        except ValueError:
            raise ValueError(f"expected an interval of numbers such as '(0, inf)' or '[0, 1]', got {text!r}") from None
        return cls(lower, upper, left == "[", right == "]")

    @property
    def text(self) -> str:
        """The interval string, e.g. ``"(0, inf)"`` (also ``str(domain)``)."""
        left = "[" if self.lower_closed else "("
        right = "]" if self.upper_closed else ")"
        return f"{left}{_number_text(self.lower)}, {_number_text(self.upper)}{right}"

    def __str__(self) -> str:
        return self.text

    def contains(self, x: ArrayLike) -> np.ndarray:
        """Elementwise: whether ``x`` lies in the domain (False for NaN and for infinite
        values, which lie at an open end)."""
        x = np.asarray(x, dtype=float)
        above = (x >= self.lower) if self.lower_closed else (x > self.lower)
        below = (x <= self.upper) if self.upper_closed else (x < self.upper)
        return np.asarray(above & below)

    def covers(self, bounds: Bounds) -> bool:
        """Whether the bounds ``(lower, upper)``, an open interval (a prior's support),
        lie within the domain."""
        lower, upper = bounds
        return self.lower <= lower and upper <= self.upper


REAL = Domain(-math.inf, math.inf)
"""The domain of a parameter that declares none: every finite real."""


def domains_of(owner: str, params: Mapping[str, object], declared: Mapping[str, str]) -> dict[str, Domain]:
    """The domain of every parameter in ``params``: parsed from ``declared``, else `REAL`.

    ``owner`` (a class name) prefixes the messages: a name in ``declared`` that is not a
    parameter, an interval string that does not parse, and default bounds in ``params``
    that reach outside the declared domain are ``ValueError``.
    """
    unknown = [n for n in declared if n not in params]
    if unknown:
        raise ValueError(
            f"{owner}: domains names {unknown}, which are not its parameters {tuple(params)}"
        )
    out: dict[str, Domain] = {}
    for name in params:
        text = declared.get(name)
        if text is None:
            out[name] = REAL
            continue
        try:
            out[name] = Domain.parse(text)
        except ValueError as err:
            raise ValueError(f"{owner}: domain of {name!r}: {err}") from None
    return out


def check_decl_bounds(owner: str, decls: Mapping[str, ParamDecl], domains: Mapping[str, Domain]) -> None:
    """``ValueError`` (naming ``owner``) where a declared default bound reaches outside
    the parameter's domain."""
    for name, decl in decls.items():
        bounds, _ = split_decl(name, decl)
        domain = domains.get(name, REAL)
        if not domain.covers(bounds):
            raise ValueError(
                f"{owner}: the default bounds {bounds} of {name!r} reach outside its domain {domain}"
            )
