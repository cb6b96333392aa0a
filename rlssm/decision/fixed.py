"""Components with some of their parameters held at constants: `Fixed` and the
decision-model wrapper it builds."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, overload

import equinox as eqx
import numpy as np

from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from ..learning.base import AbstractLearningRule
from ..learning.fixed import FixedRule, check_component, held_values, without_held
from ..mapping.base import AbstractMapping
from ..mapping.fixed import FixedMapping
from .base import AbstractDecisionModel, AbstractWrappedDecisionModel

__all__ = ["Fixed", "FixedDecisionModel"]


class Fixed(abc.ABC):
    """A component with some parameters held at constants.

    ``Fixed(component, name=value, ...)`` wraps a learning rule, a mapping or a
    decision model and returns the wrapper of its kind: ``rlssm.learning.FixedRule``,
    ``rlssm.mapping.FixedMapping`` or ``rlssm.decision.FixedDecisionModel``, so it
    slots in wherever the component did (and ``isinstance(wrapper, rlssm.Fixed)`` holds
    for each).

    The constants are settings, not parameters: they leave ``params`` (so they are
    neither in ``RLSSM.param_names``, nor passed to `loglik`, nor sampled by a fit) and
    are handed to the wrapped component on every call. Use it for a scale that must be
    fixed for the model to be identified (the drift standard deviation ``s`` of an
    [`LBA`][rlssm.LBA]), for a constrained variant (an unbiased DDM, ``z = 0.5``; a rule
    without counterfactual learning, ``alpha_cf = 0``; hBayesDM's "woa" models, the
    indecision point held at 0), or for a mapping with a set scale.

    Parameters
    ----------
    component
        The learning rule, mapping or decision model (an instance).
    **values
        ``name=value`` for each parameter to hold, named as the component declares it
        (a learning rule's without the ``rl_`` prefix), a finite number inside the
        parameter's domain. Each wrapper has ``held``, ``name -> value``.

    Raises
    ------
    TypeError
        ``component`` is not an instance of a component (a class, or something else),
        or a value is not a number.
    ValueError
        No value, a name that is not a parameter of the component, or a value that is
        not finite or lies outside the parameter's domain.

    Examples
    --------
    ```python
    lba = rlssm.Fixed(rlssm.LBA(n_options=3), s=1.0)
    lba.param_names  # ('v0', 'v1', 'v2', 'A', 'B', 't')
    unbiased = rlssm.Fixed(rlssm.DDM(), z=0.5)
    rw = rlssm.Fixed(rlssm.CounterfactualRW(), alpha_cf=0.0)       # a FixedRule
    unit = rlssm.Fixed(rlssm.DriftScaling(), scaler=1.0)           # a FixedMapping
    rlssm.RLSSM(rw, unbiased, unit).param_names  # ('rl_alpha', 'a', 't')
    ```
    """

    if TYPE_CHECKING:
        # Every wrapper has it; declared for type checkers only, the wrappers being
        # registered (virtual) subclasses that inherit nothing from here.
        @property
        def held(self) -> dict[str, float]: ...

    @overload
    def __new__(cls, component: AbstractLearningRule, /, **values: float) -> FixedRule: ...

    @overload
    def __new__(cls, component: AbstractMapping, /, **values: float) -> FixedMapping: ...

    @overload
    def __new__(cls, component: AbstractDecisionModel, /, **values: float) -> FixedDecisionModel: ...

    def __new__(cls, component: Any, /, **values: float) -> Any:
        # Not a class of its own instances: the wrapper of the component's kind is built
        # and returned (registered below as a virtual subclass, so isinstance holds).
        if isinstance(component, AbstractLearningRule):
            return FixedRule(component, **values)
        if isinstance(component, AbstractMapping):
            return FixedMapping(component, **values)
        if isinstance(component, AbstractDecisionModel):
            return FixedDecisionModel(component, **values)
        what = f"the class {component.__name__}" if isinstance(component, type) else type(component).__name__
        raise TypeError(
            f"Fixed: expected a learning rule, mapping or decision model instance, got {what}"
        )


class FixedDecisionModel(AbstractWrappedDecisionModel):
    """A decision model with some parameters held at constants (a wrapper; build it
    with [`rlssm.Fixed`][rlssm.Fixed]).

    The constants are settings, not parameters: they leave ``param_names`` (so they are
    neither passed to `loglik` nor sampled by a fit) and are handed to the wrapped
    model's ``logp`` and ``sample`` on every call. Use it for a scale that must be fixed
    for the model to be identified (the drift standard deviation ``s`` of an
    [`LBA`][rlssm.LBA]) or for a constrained variant (an unbiased DDM, ``z = 0.5``).

    Parameters
    ----------
    model
        The decision model.
    **values
        ``name=value`` for each parameter to hold, a finite number inside the
        parameter's domain.

    Examples
    --------
    ```python
    lba = rlssm.Fixed(rlssm.LBA(n_options=3), s=1.0)
    lba.param_names  # ('v0', 'v1', 'v2', 'A', 'B', 't')
    unbiased = rlssm.Fixed(rlssm.DDM(), z=0.5)
    ```
    """

    model: AbstractDecisionModel
    values: tuple[tuple[str, float], ...] = eqx.field(static=True)

    def __init__(self, model: AbstractDecisionModel, **values: float):
        check_component(model, AbstractDecisionModel, "decision model")
        self.model = model
        self.values = held_values(type(model).__name__, model.params, model.domains, values)

    @property
    def held(self) -> dict[str, float]:
        """The held parameters, ``name -> value``."""
        return dict(self.values)

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return without_held(self.model.params, self.held)

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return without_held(self.model.domains, self.held)

    def without_lapse(self) -> AbstractDecisionModel:
        inner = self.model.without_lapse()
        held = {n: v for n, v in self.values if n in inner.params}
        return FixedDecisionModel(inner, **held) if held else inner

    def logp(self, rt: RealLike, choice: RealLike, **params: RealLike) -> Float[Array, "..."]:
        return self.model.logp(rt, choice, **params, **self.held)

    def sample(self, key: PRNGKeyArray, **params: RealLike) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        return self.model.sample(key, **params, **self.held)

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        held = {n: np.asarray(v) for n, v in self.values}
        self.model.check_params({**params, **held})


for _wrapper in (FixedRule, FixedMapping, FixedDecisionModel):
    Fixed.register(_wrapper)
