"""A mapping with some of its parameters held at constants."""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax.numpy as jnp

from .._spec import ParamDecl
from .._types import Array, Float
from ..learning.fixed import check_component, held_values, without_held
from .base import AbstractMapping, AbstractWrappedMapping

__all__ = ["FixedMapping"]


class FixedMapping(AbstractWrappedMapping):
    """A mapping with some parameters held at constants (a wrapper; build it with
    [`rlssm.Fixed`][rlssm.Fixed]).

    The held parameters leave ``params`` (so they are neither in
    ``RLSSM.param_names`` nor sampled) and are handed to the wrapped mapping on every
    call, in the dtype of the values.

    Parameters
    ----------
    mapping
        The mapping.
    **values
        ``name=value`` for each parameter to hold, a finite number inside the
        parameter's domain.

    Examples
    --------
    ```python
    mapping = rlssm.Fixed(rlssm.DriftScaling(), scaler=1.0)   # v = Q[1] - Q[0]
    rlssm.RLSSM(rlssm.RescorlaWagner(), rlssm.DDM(), mapping).param_names  # ('rl_alpha', 'a', 'z', 't')
    ```
    """

    mapping: AbstractMapping
    values: tuple[tuple[str, float], ...] = eqx.field(static=True)

    def __init__(self, mapping: AbstractMapping, **values: float):
        check_component(mapping, AbstractMapping, "mapping")
        self.mapping = mapping
        self.values = held_values(type(mapping).__name__, mapping.params, mapping.domains, values)

    @property
    def held(self) -> dict[str, float]:
        """The held parameters, ``name -> value``."""
        return dict(self.values)

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return without_held(self.mapping.params, self.held)

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return without_held(self.mapping.domains, self.held)

    def __call__(
        self, values: Float[Array, " options"], **inputs: Float[Array, "..."]
    ) -> dict[str, Float[Array, ""]]:
        held = {n: jnp.asarray(v, dtype=values.dtype) for n, v in self.values}
        return self.mapping(values, **inputs, **held)
