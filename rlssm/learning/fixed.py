"""A learning rule with some of its parameters held at constants."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._spec import Domain, ParamDecl
from .._types import Array, Float, Int
from .base import AbstractLearningRule, AbstractWrappedLearningRule, RuleState

__all__ = ["FixedRule", "check_component", "held_values", "without_held"]


def held_values(
    owner: str, params: Mapping[str, ParamDecl], domains: Mapping[str, str], values: Mapping[str, Any]
) -> tuple[tuple[str, float], ...]:
    """Check the values a ``Fixed`` wrapper holds; return them as ``((name, value), ...)``.

    The one check of every [`Fixed`][rlssm.Fixed] wrapper (learning rule, mapping or
    decision model): at least one value, each named after a parameter of the wrapped
    component (``params``), a finite number, inside the parameter's domain where
    ``domains`` declares one.

    Parameters
    ----------
    owner
        The wrapped component's class name, for the messages.
    params, domains
        The wrapped component's declared parameters and domains (its own names).
    values
        ``name -> value`` as the user gave them.

    Raises
    ------
    ValueError
        No value, an unknown name, a value outside the domain or not finite.
    TypeError
        A value that is not a number.
    """
    if not values:
        raise ValueError(f"Fixed: name at least one parameter of {owner} to hold, e.g. Fixed(component, name=value)")
    held = []
    for name, value in values.items():
        if name not in params:
            hint = ""
            if name.startswith("rl_") and name[3:] in params:
                hint = f"; name it as {owner} declares it, without the rl_ prefix: {name[3:]}="
            raise ValueError(f"Fixed: {name!r} is not a parameter of {owner} (its parameters: {tuple(params)}){hint}")
        number = _number(name, value)
        domain = domains.get(name)
        if domain is not None and not Domain.parse(domain).contains(np.asarray(number)).all():
            raise ValueError(f"Fixed: {owner}'s {name} = {number!r} lies outside its domain {domain}")
        held.append((name, number))
    return tuple(held)


def check_component(component: Any, base: type, kind: str) -> None:
    """``TypeError`` unless ``component`` is an instance of ``base`` (a ``Fixed`` wrapper's
    argument: a class, or a component of another kind, is named in the message)."""
    if isinstance(component, type) or not isinstance(component, base):
        what = component.__name__ if isinstance(component, type) else type(component).__name__
        raise TypeError(f"Fixed: expected a {kind} instance, got {what}")


def without_held(declared: Mapping[str, Any], held: Mapping[str, float]) -> Mapping[str, Any]:
    """A wrapped component's ``params`` or ``domains`` less the held names (read-only)."""
    return MappingProxyType({n: d for n, d in declared.items() if n not in held})


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Fixed: {name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"Fixed: {name} must be finite, got {value!r}")
    return out


def _float_dtype(state: RuleState) -> Any:
    """The float dtype of a rule state (of its first floating leaf): the held values join
    the computation in it (strict dtype promotion refuses a mix)."""
    for leaf in jax.tree.leaves(state):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.result_type(leaf)
    return jnp.result_type(float)


class FixedRule(AbstractWrappedLearningRule):
    """A learning rule with some parameters held at constants (a wrapper; build it with
    [`rlssm.Fixed`][rlssm.Fixed]).

    The held parameters leave ``params`` (so they are neither in
    ``RLSSM.param_names`` nor sampled) and are handed to the wrapped rule's ``init``,
    ``update`` and ``values_of`` on every call, in the computation's dtype.

    Parameters
    ----------
    rule
        The learning rule.
    **values
        ``name=value`` for each parameter to hold, named as the rule declares it
        (without the ``rl_`` prefix), a finite number inside the parameter's domain.

    Examples
    --------
    ```python
    rule = rlssm.Fixed(rlssm.CounterfactualRW(), alpha_cf=0.0)   # Rescorla-Wagner
    rlssm.RLSSM(rule, rlssm.DDM()).param_names  # ('rl_alpha', 'scaler', 'a', 'z', 't')
    ```
    """

    rule: AbstractLearningRule
    values: tuple[tuple[str, float], ...] = eqx.field(static=True)

    def __init__(self, rule: AbstractLearningRule, **values: float):
        check_component(rule, AbstractLearningRule, "learning rule")
        self.rule = rule
        self.values = held_values(type(rule).__name__, rule.params, rule.domains, values)

    @property
    def held(self) -> dict[str, float]:
        """The held parameters, ``name -> value`` (the rule's names, no prefix)."""
        return dict(self.values)

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return without_held(self.rule.params, self.held)

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return without_held(self.rule.domains, self.held)

    def _held(self, dtype: Any) -> dict[str, Float[Array, ""]]:
        return {n: jnp.asarray(v, dtype=dtype) for n, v in self.values}

    def init(self, n_options: int, dtype: Any, **params: Float[Array, ""]) -> RuleState:
        return self.rule.init(n_options, dtype, **params, **self._held(dtype))

    def update(self, state: RuleState, option: Int[Array, ""], **inputs: Float[Array, ""]) -> RuleState:
        return self.rule.update(state, option, **inputs, **self._held(_float_dtype(state)))

    def values_of(self, state: RuleState, **inputs: Float[Array, ""]) -> Float[Array, " options"]:
        return self.rule.values_of(state, **inputs, **self._held(_float_dtype(state)))
