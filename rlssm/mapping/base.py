"""The abstract mapping: a trial's values (and whatever else it reads) become decision parameters."""

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx

from .._spec import ParamDecl
from .._types import Array, Float

if TYPE_CHECKING:
    # equinox's documented workaround: pyright must see a plain ClassVar, otherwise it
    # treats these class attributes as dataclass fields (pyright issue #4965).
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar


class AbstractMapping(eqx.Module):
    """Turns one trial's values into decision parameters.

    Attributes
    ----------
    params
        ``name -> (lower, upper)`` or ``(lower, upper, default)`` of the mapping's own
        sampled parameters (listed under their own names, e.g. ``scaler``).
    domains
        ``name -> interval`` where the mapping is defined, as a string (``"(0, inf)"``,
        ``"[0, 1]"``; default none): wider than the ``params`` bounds, which are default
        prior ranges. ``loglik``, ``values`` and the simulators refuse values outside
        it, and ``RLSSM(bounds=...)`` bounds that reach beyond it. A parameter not
        listed may take any finite real. (What the mapping computes is checked against
        the decision model's domains.)
    outputs
        Names of the decision-model parameters it computes (e.g. ``("v",)``, or
        ``("v", "a")``); these are not sampled and do not appear in
        ``RLSSM.param_names``. A name containing ``{k}`` stands for one parameter per
        option: ``("v{k}",)`` computes ``v0, v1, ..., v{N-1}`` for a model with N
        options (see `output_names`).
    fields
        Data columns it reads on each trial (default none), e.g. ``("difficulty",)``;
        they join the model's extra fields and are validated with the data.
    rule_state
        Named parts of the learning rule's state it reads besides the values (default
        none), e.g. ``("associability",)``. [`RLSSM`][rlssm.RLSSM] refuses, naming
        both classes, a rule whose state lacks them.
    """

    params: AbstractClassVar[Mapping[str, ParamDecl]]
    outputs: AbstractClassVar[tuple[str, ...]]
    fields: ClassVar[tuple[str, ...]] = ()
    domains: ClassVar[Mapping[str, str]] = {}
    rule_state: ClassVar[tuple[str, ...]] = ()

    def output_names(self, n_options: int) -> tuple[str, ...]:
        """The decision parameters computed for a model with ``n_options`` options:
        `outputs`, each name containing ``{k}`` expanded to one per option."""
        names: list[str] = []
        for name in self.outputs:
            if "{k}" in name:
                names.extend(name.replace("{k}", str(k)) for k in range(n_options))
            else:
                names.append(name)
        return tuple(names)

    @abc.abstractmethod
    def __call__(
        self, values: Float[Array, " options"], **inputs: Float[Array, "..."]
    ) -> dict[str, Float[Array, ""]]:
        """Decision parameters of one trial.

        Parameters
        ----------
        values
            The values of the options before this trial's update.
        **inputs
            One scalar per name in ``params`` and in ``fields``, and the rule's state
            part (before this trial's update) per name in ``rule_state``.

        Returns
        -------
        dict
            One scalar per name in ``output_names(len(values))``.
        """


class AbstractWrappedMapping(AbstractMapping):
    """A mapping that wraps another and changes some of what it does (as
    `rlssm.decision.base.AbstractWrappedDecisionModel`
    does for decision models): [`Fixed`][rlssm.Fixed] holds parameters,
    [`IndecisionPoint`][rlssm.mapping.IndecisionPoint] shifts the values first.

    Everything is the wrapped mapping's (its parameters, domains, outputs, data fields,
    the rule state it reads, and what it computes) unless a subclass changes it;
    subclasses declare the field ``mapping``.
    """

    mapping: eqx.AbstractVar[AbstractMapping]

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return self.mapping.params

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return self.mapping.domains

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.mapping.outputs

    @property
    def fields(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.mapping.fields

    @property
    def rule_state(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.mapping.rule_state

    def output_names(self, n_options: int) -> tuple[str, ...]:
        return self.mapping.output_names(n_options)

    def __call__(
        self, values: Float[Array, " options"], **inputs: Float[Array, "..."]
    ) -> dict[str, Float[Array, ""]]:
        return self.mapping(values, **inputs)
