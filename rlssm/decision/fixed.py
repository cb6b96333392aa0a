"""A decision model with some of its parameters held at constants."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import equinox as eqx
import numpy as np

from .._spec import Domain, ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .base import AbstractDecisionModel, AbstractWrappedDecisionModel

__all__ = ["Fixed"]


class Fixed(AbstractWrappedDecisionModel):
    """A decision model with some parameters held at constants (a wrapper).

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
        if isinstance(model, type) or not isinstance(model, AbstractDecisionModel):
            what = model.__name__ if isinstance(model, type) else type(model).__name__
            raise TypeError(f"Fixed: expected a decision model instance, got {what}")
        self.model = model
        self.values = tuple((name, _number(name, v)) for name, v in values.items())

    def __check_init__(self) -> None:
        if not self.values:
            raise ValueError("Fixed: name at least one parameter to hold, e.g. Fixed(model, s=1.0)")
        inner = type(self.model).__name__
        for name, value in self.values:
            if name not in self.model.params:
                raise ValueError(
                    f"Fixed: {name!r} is not a parameter of {inner} (its parameters: {self.model.param_names})"
                )
            domain = self.model.domains.get(name)
            if domain is not None:
                if not Domain.parse(domain).contains(np.asarray(value)).all():
                    raise ValueError(f"Fixed: {inner}'s {name} = {value!r} lies outside its domain {domain}")

    @property
    def held(self) -> dict[str, float]:
        """The held parameters, ``name -> value``."""
        return dict(self.values)

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        held = self.held
        return MappingProxyType({n: d for n, d in self.model.params.items() if n not in held})

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        held = self.held
        return MappingProxyType({n: d for n, d in self.model.domains.items() if n not in held})

    def without_lapse(self) -> AbstractDecisionModel:
        inner = self.model.without_lapse()
        held = {n: v for n, v in self.values if n in inner.params}
        return Fixed(inner, **held) if held else inner

    def logp(self, rt: RealLike, choice: RealLike, **params: RealLike) -> Float[Array, "..."]:
        return self.model.logp(rt, choice, **params, **self.held)

    def sample(self, key: PRNGKeyArray, **params: RealLike) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        return self.model.sample(key, **params, **self.held)

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        held = {n: np.asarray(v) for n, v in self.values}
        self.model.check_params({**params, **held})


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Fixed: {name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"Fixed: {name} must be finite, got {value!r}")
    return out
