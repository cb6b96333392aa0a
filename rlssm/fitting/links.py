"""Links between a parameter's bounds and the real line, prior specifications, start values.

What the hierarchical fit ([`Hierarchical`][rlssm.fitting.Hierarchical]) builds its
parameters from, and the one reader of prior specifications (a dict with a ``"name"``
or an ``hssm.Prior``) that it and the range checks share.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..hssm_bridge import default_prior_args, parse_prior

__all__ = [
    "Link",
    "default_start",
    "inside",
    "link_inverse",
    "check_coefficient_prior",
    "check_prior_arguments",
    "distribution",
    "group_scales",
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


OWN_PRIOR_ARGUMENTS = ("initval", "lower", "upper")
"""Prior arguments rlssm reads itself, whatever the distribution: the start value and the
support (``lower`` / ``upper``, the parameter's bounds by default)."""

_ALIASES = {"sd": "sigma", "std": "sigma", "scale": "sigma", "loc": "mu", "mean": "mu", "rate": "lam", "df": "nu"}
"""Other libraries' names of PyMC arguments: what a misspelled argument most likely meant."""


def distribution(name: str, dist: str) -> Any:
    """The PyMC distribution class called ``dist``, for the prior of ``name``.

    Raises
    ------
    ValueError
        When PyMC has no distribution of that name.
    """
    import pymc as pm

    factory = getattr(pm, dist, None) if dist.isidentifier() else None
    if not (isinstance(factory, type) and issubclass(factory, pm.Distribution)):
        raise ValueError(
            f"priors[{name!r}]: {dist!r} is not a PyMC distribution (e.g. 'Normal', "
            "'TruncatedNormal', 'Beta', 'Gamma', 'HalfNormal', 'Uniform')"
        )
    return factory


def _distribution_arguments(factory: Any) -> set[str]:
    """The named arguments of a PyMC distribution (``pm.<Dist>.dist``); its ``**kwargs``
    (``shape``, ``size``, ...) are the fit's to set, not a prior's."""
    return {
        p.name for p in inspect.signature(factory.dist).parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and p.name not in ("cls", "dist", "max_n_steps")
    }


def _accepted_arguments(factory: Any) -> list[str]:
    """The arguments a prior of distribution ``factory`` takes: its own and rlssm's."""
    return sorted(_distribution_arguments(factory) | set(OWN_PRIOR_ARGUMENTS))


def _check_argument_names(name: str, dist: str, args: Mapping[str, Any]) -> None:
    """``ValueError`` for an argument ``dist`` does not take: PyMC passes unknown keyword
    arguments on without a word (``sd`` for ``sigma`` left the default scale)."""
    accepted = _accepted_arguments(distribution(name, dist))
    for key in args:
        if key in accepted:
            continue
        guess = _ALIASES.get(str(key)) if _ALIASES.get(str(key)) in accepted else None
        close = [guess] if guess else difflib.get_close_matches(str(key), accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"priors[{name!r}]: {dist} takes no argument {key!r}{hint}; it takes {accepted}"
        )


def _check_argument_values(name: str, args: Mapping[str, Any]) -> None:
    """``ValueError`` for an argument that is not a real number (or array of them), or is
    NaN; only the support (``lower`` / ``upper``) may be infinite."""
    for key, value in args.items():
        try:
            array = np.asarray(value)
            numeric = array.dtype.kind in "iuf" and array.size > 0
        except (TypeError, ValueError):
            numeric = False
        if not numeric:
            raise ValueError(f"priors[{name!r}]: {key} must be a real number, got {value!r}")
        values = array.astype(float)
        finite = ~np.isnan(values) if key in ("lower", "upper") else np.isfinite(values)
        if not finite.all():
            raise ValueError(
                f"priors[{name!r}]: {key} must be a "
                f"{'number (+-inf allowed)' if key in ('lower', 'upper') else 'finite number'}, got {value!r}"
            )


def prior_spec(name: str, spec: Any) -> tuple[str, dict[str, Any]]:
    """``(distribution name, keyword arguments)`` of the prior ``spec`` of parameter ``name``.

    Finite ``bounds`` of the specification become its ``lower`` / ``upper`` (its support),
    unless the arguments give those themselves.

    Raises
    ------
    ValueError
        When ``spec`` is not a prior, names no PyMC distribution, gives an argument that
        distribution does not take (e.g. ``sd`` for ``sigma``: the error names it and the
        accepted ones), or an argument that is not a real number or is NaN.
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
    _check_argument_names(name, parsed.dist, args)
    _check_argument_values(name, args)
    if parsed.bounds is not None:
        bounds = tuple(np.asarray(parsed.bounds, dtype=object).reshape(-1))
        if len(bounds) != 2:
            raise ValueError(f"priors[{name!r}]: bounds must be a (lower, upper) pair, got {parsed.bounds!r}")
        _check_argument_values(name, dict(zip(("lower", "upper"), bounds)))
        for key, bound in zip(("lower", "upper"), bounds):
            if math.isfinite(float(bound)):
                args.setdefault(key, float(bound))
    return parsed.dist, args


def check_coefficient_prior(var: str, spec: Any) -> None:
    """``ValueError`` for a formula coefficient's prior that gives rlssm's own arguments.

    A coefficient lives on the whole real line of its parameter's link scale and its
    start is set by the fit, so ``lower`` / ``upper`` (or ``bounds``) and ``initval``,
    which a group location's prior reads, would be dropped without a word (PyMC's
    ``Normal`` takes a ``lower`` and ignores it). Only a distribution that takes them
    itself (``TruncatedNormal``, ``Uniform``) may bound a coefficient.
    """
    dist, args = prior_spec(var, spec)
    own = _distribution_arguments(distribution(var, dist))
    dropped = sorted(k for k in args if k in OWN_PRIOR_ARGUMENTS and k not in own)
    if dropped:
        raise ValueError(
            f"priors[{var!r}]: a coefficient's prior (link scale) takes no {dropped}; {dist} takes "
            f"{sorted(own)} (bound a coefficient with 'TruncatedNormal' and its lower / upper)"
        )


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
    base = distribution(name, dist).dist(**kwargs)
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


def group_scales(
    group_sd: float | Mapping[str, float] | None, names: Sequence[str], default: float
) -> dict[str, float]:
    """The scale of every parameter's group-spread prior (``HalfNormal``, link scale).

    ``group_sd`` is None (``default`` for all), one number for all, or ``name -> number``
    (``default`` for the names it leaves out). What
    [`Hierarchical`][rlssm.fitting.Hierarchical] fits and
    [`draw_prior`][rlssm.calibration.draw_prior] draws from, read alike.

    Raises
    ------
    ValueError
        For a name not in ``names``, or a scale that is not a positive, finite number.
    """
    if group_sd is None:
        given: dict[str, Any] = {}
    elif isinstance(group_sd, Mapping):
        given = dict(group_sd)
        unknown = [k for k in given if k not in names]
        if unknown:
            raise ValueError(f"group_sd: {unknown} are not parameters of this model {tuple(names)}")
    else:
        given = {n: group_sd for n in names}
    scale: dict[str, float] = {}
    for name in names:
        value = given.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            math.isfinite(value) and value > 0
        ):
            where = "group_sd" if not isinstance(group_sd, Mapping) else f"group_sd[{name!r}]"
            raise ValueError(f"{where} must be a positive, finite number (a spread's prior scale), got {value!r}")
        scale[name] = float(value)
    return scale
