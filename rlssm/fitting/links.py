"""Links between a parameter's bounds and the real line, prior specifications, start values.

What the hierarchical fit ([`Hierarchical`][rlssm.fitting.Hierarchical]) builds its
parameters from, and the one reader of prior specifications (a dict with a ``"name"``
or an ``hssm.Prior``) that it and the range checks share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..hssm_bridge import default_prior_args, parse_prior

__all__ = [
    "Link",
    "default_start",
    "inside",
    "link_inverse",
    "check_prior_arguments",
    "location",
    "prior_support",
    "prior_spec",
    "softplus",
]


class Link:
    """The map between a parameter's bounds and the real line.

    ``logit`` for ``(lower, upper)``, ``log`` for ``(lower, inf)``, the identity for an
    unbounded parameter; ``(-inf, upper)`` is refused.
    """

    def __init__(self, lower: float, upper: float):
        self.lower, self.upper = float(lower), float(upper)
        self.kind = (
            "logit"
            if math.isfinite(self.lower) and math.isfinite(self.upper)
            else "log"
            if math.isfinite(self.lower)
            else "identity"
        )
        if not math.isfinite(self.lower) and math.isfinite(self.upper):
            raise ValueError(f"bounds (-inf, {self.upper}) are not supported; give a lower bound")

    def forward(self, x: Any) -> Any:
        """Natural value -> real line (numpy or PyTensor input)."""
        import pytensor.tensor as pt

        lib: Any = np if isinstance(x, (float, int, np.ndarray)) else pt
        if self.kind == "logit":
            f = (x - self.lower) / (self.upper - self.lower)
            return lib.log(f) - lib.log1p(-f)
        if self.kind == "log":
            return lib.log(x - self.lower)
        return x

    def inverse(self, y: Any) -> Any:
        """Real line -> natural value (numpy or PyTensor input)."""
        import pytensor.tensor as pt

        if isinstance(y, (float, int, np.ndarray)):
            if self.kind == "logit":
                return self.lower + (self.upper - self.lower) / (1.0 + np.exp(-y))
            return self.lower + np.exp(y) if self.kind == "log" else y
        if self.kind == "logit":
            unit: Any = pt.sigmoid(y)
            return self.lower + (self.upper - self.lower) * unit
        if self.kind == "log":
            grown: Any = pt.exp(y)
            return self.lower + grown
        return y


def link_inverse(link: Link, y: float) -> float:
    """`Link.inverse` on a number."""
    if link.kind == "logit":
        return link.lower + (link.upper - link.lower) / (1.0 + math.exp(-y))
    if link.kind == "log":
        return link.lower + math.exp(y)
    return y


def default_start(lo: float | None, hi: float | None) -> float:
    """A start inside ``(lo, hi)`` (either may be None or infinite): the middle, or 1 in."""
    lo = -math.inf if lo is None else lo
    hi = math.inf if hi is None else hi
    if math.isfinite(lo) and math.isfinite(hi):
        return 0.5 * (lo + hi)
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.0


def inside(value: float, lo: float, hi: float, margin: float = 1e-3) -> float:
    """``value`` clipped into ``(lo, hi)`` with a margin of ``margin`` of its width
    (or of 1 where a side is infinite)."""
    width = hi - lo if math.isfinite(hi - lo) else 1.0
    return float(min(max(value, lo + margin * width), hi - margin * width))


def prior_spec(name: str, spec: Any) -> tuple[str, dict[str, Any]]:
    """``(distribution name, keyword arguments)`` of the prior ``spec`` of parameter ``name``.

    Finite ``bounds`` of the specification become its ``lower`` / ``upper`` (its support),
    unless the arguments give those themselves.
    """
    if isinstance(spec, Mapping) and "name" not in spec:
        raise ValueError(f"priors[{name!r}] needs a 'name' (a PyMC distribution), got {dict(spec)!r}")
    parsed = parse_prior(spec)
    if parsed is None:
        raise ValueError(
            f"priors[{name!r}] must be a dict like {{'name': 'TruncatedNormal', 'mu': 1.0, "
            f"'sigma': 0.5}} or an hssm.Prior, got {spec!r}"
        )
    args = dict(parsed.args)
    if parsed.bounds is not None:
        for key, bound in zip(("lower", "upper"), parsed.bounds):
            if math.isfinite(float(bound)):
                args.setdefault(key, float(bound))
    return parsed.dist, args


SCALE_ARGUMENTS = ("sigma", "tau", "lam")
"""Prior arguments that must be positive in every PyMC distribution that has them
(PyMC itself would fail only when sampling); ``alpha`` and ``beta`` too for the
distributions in `POSITIVE_SHAPES`."""

POSITIVE_SHAPES = ("Beta", "Gamma", "InverseGamma", "Weibull", "Kumaraswamy")


def check_prior_arguments(name: str, dist: str, kwargs: Mapping[str, Any]) -> None:
    """``ValueError`` for a scale argument (or a positive shape's ``alpha``/``beta``) that
    is not positive and finite: PyMC itself would fail only when sampling."""
    for key in SCALE_ARGUMENTS + (("alpha", "beta") if dist in POSITIVE_SHAPES else ()):
        value = kwargs.get(key)
        if isinstance(value, (int, float)) and not (math.isfinite(value) and value > 0):
            raise ValueError(f"priors[{name!r}]: {key} must be positive and finite, got {value!r}")


def prior_support(
    name: str, spec: Any, lower: float, upper: float
) -> tuple[str, dict[str, Any], tuple[float, float], float | None]:
    """A prior specification read and checked against the parameter's bounds.

    Returns the distribution's name, its other arguments, its support ``(lo, hi)``
    (its ``lower`` / ``upper``, default the bounds; a support outside the bounds is a
    ``ValueError``) and its ``initval`` (None if it gives none). Without ``spec``, the
    HSSM bridge's default intercept prior
    ([`default_prior_args`][rlssm.hssm_bridge.default_prior_args]).
    """
    dist, kwargs = default_prior_args(lower, upper) if spec is None else prior_spec(name, spec)
    initval = kwargs.pop("initval", None)
    lo, hi = kwargs.pop("lower", None), kwargs.pop("upper", None)
    lo = lower if lo is None else float(lo)
    hi = upper if hi is None else float(hi)
    if not (lower <= lo < hi <= upper):
        raise ValueError(
            f"priors[{name!r}]: support ({lo}, {hi}) must lie within the parameter's bounds "
            f"({lower}, {upper})"
        )
    check_prior_arguments(name, dist, kwargs)
    return dist, kwargs, (lo, hi), initval


def location(
    name: str, spec: Any, lower: float, upper: float
) -> tuple[Any, float | None, tuple[float, float]]:
    """The group location (natural units) as a PyMC variable inside ``(lower, upper)``.

    ``Normal`` / ``TruncatedNormal`` / ``Uniform`` priors are restricted to their
    ``lower`` / ``upper`` (default: the parameter's bounds; a support outside the bounds
    is an error), other PyMC distributions are truncated there. Without ``spec``, the
    default intercept prior of the HSSM bridge
    ([`default_prior_args`][rlssm.hssm_bridge.default_prior_args]). Call inside a
    ``pm.Model``.

    Returns
    -------
    tuple
        The variable, the prior's own initial value (None if it gives none) and the
        prior's support.
    """
    import pymc as pm

    dist, kwargs, (lo, hi), initval = prior_support(name, spec, lower, upper)
    if initval is not None and not (lo < float(initval) < hi):
        raise ValueError(
            f"priors[{name!r}]: initval {initval!r} lies outside the prior's support ({lo}, {hi})"
        )
    if dist in ("Normal", "TruncatedNormal"):
        if math.isinf(lo) and math.isinf(hi):
            return pm.Normal(name, **kwargs), initval, (lo, hi)
        return pm.TruncatedNormal(
            name, lower=None if math.isinf(lo) else lo, upper=None if math.isinf(hi) else hi, **kwargs
        ), initval, (lo, hi)
    if dist == "Uniform":
        return pm.Uniform(name, lower=lo, upper=hi, **kwargs), initval, (lo, hi)
    factory = getattr(pm, dist, None)
    if factory is None or not hasattr(factory, "dist"):
        raise ValueError(f"priors[{name!r}]: {dist!r} is not a PyMC distribution")
    base = factory.dist(**kwargs)
    return pm.Truncated(
        name, base, lower=None if math.isinf(lo) else lo, upper=None if math.isinf(hi) else hi
    ), initval, (lo, hi)


def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` with a finite gradient for every ``x``.

    PyTensor's JAX ``softplus`` picks among ``exp(x)``, ``log1p(exp(x))`` and ``x +
    exp(-x)`` with ``where``, and the gradient of the branches not taken is still
    computed: beyond ``|x|`` ~ 709 one of them overflows and the gradient is NaN (a
    divergent transition). The fits' smooth bounds meet such arguments where ``t`` has
    no cap (a stand-in cap far away) and, in the non-centred ``t``, where ``(cap - mu) /
    t_sigma`` grows as a small spread is explored. Clipped to ``[-700, 30]`` (beyond 30, ``softplus(x) = x`` to 1e-13; below
    -700 it is 0 to 1e-304) and continued linearly above, the value is the same and the
    gradient finite.
    """
    import pytensor.tensor as pt

    x = pt.as_tensor_variable(x)

    def const(value: float) -> Any:
        # In x's dtype: PyTensor makes a bare 30.0 a float32 constant, and JAX's strict
        # dtype promotion refuses to mix it with float64 inside the compiled graph.
        return pt.constant(value, dtype=x.dtype)

    clipped: Any = pt.softplus(pt.clip(x, const(-700.0), const(30.0)))
    return clipped + pt.maximum(x - const(30.0), const(0.0))
