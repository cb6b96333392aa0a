"""Parameter domains: the one place that checks values against where components are defined.

Every component declares ``domains`` (``{name: "interval"}``, e.g. ``"[0, 1]"``,
``"(0, inf)"``; see [`Domain`][rlssm.engine.Domain]): where its process or formula is
defined, wider than its ``params`` bounds (default prior ranges); a parameter it does
not list may take any finite real. [`Composition.domains`][rlssm.engine.Composition]
gathers them under the model's names.

The eager entry points check here, outside any trace, as numpyro's
``validate_args=True`` and PyMC's parameter checks do when a density is evaluated
eagerly: [`check_values`][rlssm.engine.check_values] for the sampled parameters
(``RLSSM.loglik``, ``RLSSM.values``, the closed-loop and conditional simulators,
hence the command line and the predictive checks),
[`check_computed`][rlssm.engine.check_computed] for the decision parameters a mapping
computes (``loglik``, ``values`` and the closed-loop simulator), and
[`check_bounds`][rlssm.engine.check_bounds] for ``RLSSM(bounds=...)``. Each raises with
a message naming the parameter, the offending value, where it is (participant, row,
trial, draw) and the domain. `check_values` also refuses, for a float32 model, values
that float32 cannot hold (they would compute as ``inf`` or 0), and `check_computed`
names the learning rule, not the mapping, where the rule's values themselves diverged.

The jit path ([`make_logp_fn`][rlssm.engine.make_logp_fn], hence ``RLSSM.logp_fn``,
the HSSM Op and the fits) does not check, as numpyro skips its checks under ``jit``:
there parameters are tracers. Inside the domains it returns finite values (the
decision model's floor where the density is 0); a NaN parameter gives NaN on the rows
it reaches; outside the domains the value is unspecified (NaN, or a finite number of
no meaning). The bounds of a fit, which `check_bounds` keeps inside the domains, keep
its parameters there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import DataError
from .._precision import float_dtype
from .._spec import Domain
from .._types import Bounds, Precision
from .composition import Composition
from .params import Resolved

__all__ = ["Domain", "check_bounds", "check_computed", "check_fixed", "check_values"]


def _outside(comp: Composition, name: str, domain: Domain) -> str:
    owner, own = comp.owner(name)
    return f"outside {domain}, the domain of {owner}'s {own}"


def _more(n_bad: int) -> str:
    if n_bad <= 1:
        return ""
    return "; 1 more value lies outside too" if n_bad == 2 else f"; {n_bad - 1} more values lie outside too"


def check_bounds(comp: Composition, bounds: Mapping[str, Bounds]) -> None:
    """``ValueError`` where ``bounds`` (``name -> (lower, upper)``, an open interval
    such as a prior's support) reach outside the parameter's domain."""
    domains = comp.domains
    for name, bound in bounds.items():
        domain = domains[name]
        if not domain.covers(bound):
            raise ValueError(
                f"bounds: {name!r} = {tuple(bound)} reaches {_outside(comp, name, domain)}; "
                f"give bounds within {domain}"
            )


def check_fixed(comp: Composition, fixed: Mapping[str, object] | None) -> dict[str, float]:
    """``fixed`` (``name -> constant``, the parameters a fit holds still) as floats.

    ``ValueError`` for a name that is not a sampled parameter, a value that is not a
    finite number or lies outside the parameter's domain, or every parameter fixed.
    """
    out: dict[str, float] = {}
    names = comp.param_names
    domains = comp.domains
    for name, value in dict(fixed or {}).items():
        if name not in names:
            raise ValueError(f"fixed: {name!r} is not a parameter of this model {names}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"fixed[{name!r}] must be a number, got {value!r}")
        x = float(value)
        if not bool(domains[name].contains(np.asarray(x))):
            raise ValueError(f"fixed[{name!r}] = {x!r} lies {_outside(comp, name, domains[name])}")
        out[name] = x
    if out and len(out) == len(names):
        raise ValueError("fixed: every parameter is fixed; nothing is left to fit")
    return out


def _where_in(
    r: Resolved,
    index: tuple[int, ...],
    participants: Sequence[Hashable],
    row_participant: np.ndarray | None,
    draws: bool,
) -> str:
    """`` (participant 'a')``, `` (draw 3, row 7, participant 'a')``: where ``index``
    into a resolved value lies; empty for a scalar."""
    value = np.asarray(r.value)
    where: list[str] = []
    if draws and value.shape[0] > 1:
        where.append(f"draw {int(index[0])}")
    unit_index = int(index[-1]) if value.ndim else 0
    if r.unit == "participant":
        where.append(f"participant {participants[unit_index]!r}")
    elif r.unit == "row":
        where.append(f"row {unit_index}")
        if row_participant is not None:
            where.append(f"participant {participants[int(row_participant[unit_index])]!r}")
    return f" ({', '.join(where)})" if where else ""


def check_values(
    comp: Composition,
    resolved: Mapping[str, Resolved],
    participants: Sequence[Hashable],
    row_participant: np.ndarray | None = None,
    *,
    draws: bool = False,
    precision: Precision | None = None,
) -> None:
    """`DataError` for the first sampled parameter with a value outside its domain, or
    (given ``precision``) one that the model's float type cannot hold: a nonzero
    magnitude beyond its largest or below its smallest normal number, which would
    compute as ``inf`` or 0.

    Parameters
    ----------
    comp
        The model's components.
    resolved
        Values from [`resolve`][rlssm.engine.resolve] (NumPy or concrete JAX arrays,
        never tracers): shape ``()``, ``(P,)`` or ``(N,)`` by unit, or with
        ``draws=True`` ``(D, 1)``, ``(D, P)`` or ``(D, N)``.
    participants
        The participant labels, sorted (the order of per-participant values).
    row_participant
        ``(N,)`` participant index of every row of the data, for per-row values.
    draws
        Whether the values carry a leading draw axis.
    precision
        The model's float policy; ``None`` checks the domains only.
    """
    domains = comp.domains
    for name, r in resolved.items():
        domain = domains[name]
        value = np.asarray(r.value, dtype=float)
        bad = ~domain.contains(value)
        if not bad.any():
            continue
        first = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))
        at = _where_in(r, first, participants, row_participant, draws)
        raise DataError(
            f"params[{name!r}] = {float(value[first])!r}{at} lies {_outside(comp, name, domain)}"
            + _more(int(bad.sum()))
        )
    if precision is None:
        return
    info = np.finfo(float_dtype(precision))
    for name, r in resolved.items():
        value = np.abs(np.asarray(r.value, dtype=float))
        bad = (value > info.max) | ((value > 0) & (value < info.tiny))
        if not bad.any():
            continue
        first = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape))
        at = _where_in(r, first, participants, row_participant, draws)
        given = float(np.asarray(r.value, dtype=float)[first])
        becomes = ("-inf" if given < 0 else "inf") if value[first] > info.max else "0"
        raise DataError(
            f"params[{name!r}] = {given!r}{at} cannot be held in {precision}, the model's "
            f"precision (nonzero magnitudes {float(info.tiny):.3g} to {float(info.max):.3g}): "
            f"it would compute as {becomes}; use RLSSM(..., precision='float64') or a value "
            "within that range" + _more(int(bad.sum()))
        )


def check_computed(
    comp: Composition,
    computed: Mapping[str, Any],
    mask: np.ndarray,
    describe: Callable[[tuple[int, ...]], str],
    values: Any = None,
) -> None:
    """`DataError` for the first decision parameter the mapping computed outside the
    decision model's domain: a model problem (e.g. a threshold that turns negative),
    named with the mapping; or, first, for values the learning rule let diverge
    (``inf`` or NaN from finite parameters, e.g. a learning rate so large that every
    update overshoots), named with the rule and its parameters.

    Parameters
    ----------
    comp
        The model's components.
    computed
        ``name -> array`` of decision parameters, all of ``mask``'s shape; those in
        ``comp.computed`` are checked, others ignored.
    mask
        True where a value is to be checked (False on padding, or on missed trials,
        where the likelihood does not use it).
    describe
        The position of an index into ``mask``, e.g. ``"row 3, participant 0"``.
    values
        The values that drove each decision, ``mask.shape + (options,)``, or None.
    """
    domains = comp.domains
    mapping = type(comp.mapping).__name__
    mask = np.asarray(mask, dtype=bool)
    if values is not None:
        values = np.asarray(values, dtype=float)
        bad = mask & ~np.all(np.isfinite(values), axis=-1)
        if bad.any():
            first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
            index = tuple(int(i) for i in first)
            rule = type(comp.learning_rule).__name__
            raise DataError(
                f"{rule}'s values became {values[index].tolist()} ({describe(index)}) from the "
                f"parameters given: the learning rule diverged, so {mapping} cannot compute "
                f"{list(comp.computed)} from them; choose {rule}'s parameters "
                f"{list(comp.rl_names)} (or their bounds) so that its updates stay finite"
                + (f"; {int(bad.sum()) - 1} more trials like it" if bad.sum() > 1 else "")
            )
    for name in comp.computed:
        value = np.asarray(computed[name], dtype=float)
        domain = domains[name]
        bad = mask & ~domain.contains(value)
        if not bad.any():
            continue
        first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
        index = tuple(int(i) for i in first)
        raise DataError(
            f"{mapping} computed {name} = {float(value[index])!r} ({describe(index)}) from the "
            f"parameters given, {_outside(comp, name, domain)}; choose the mapping's "
            f"parameters (or bounds) so that {name} stays within {domain}"
            + _more(int(bad.sum()))
        )
