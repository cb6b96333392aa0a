"""The abstract learning rule: a history of choices and feedback becomes values."""

import abc
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from equinox import AbstractVar

from .._spec import ParamDecl
from .._types import Array, Float, Int

if TYPE_CHECKING:
    # equinox's documented workaround: pyright must see a plain ClassVar, otherwise it
    # treats these class attributes as dataclass fields (pyright issue #4965).
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar

RuleState = Any
"""A learning rule's state: the values array itself, or a pytree (an ``eqx.Module``,
``NamedTuple`` or dict) with a ``values`` entry and any other named parts."""


class AbstractLearningRule(eqx.Module):
    """How a learning rule's state (the values of the options, and anything else it
    keeps) changes after one trial.

    A learning rule is written for one trial of one participant; rlssm scans it over
    trials, vmaps it over participants, resets it at block starts, keeps one state per
    ``state`` (stimulus) of the data, and skips missed trials. A subclass declares:

    Attributes
    ----------
    initial_value
        The value every option starts with (a setting: a field of the final class,
        default 0.5 in the library's rules).
    params
        ``name -> (lower, upper)`` or ``(lower, upper, default)`` for each sampled
        parameter. [`RLSSM`][rlssm.RLSSM] lists them with the prefix ``rl_``
        (``alpha`` becomes ``rl_alpha``), and passes them to `update` without it.
    domains
        ``name -> interval`` where the rule is defined, as a string: ``"[0, 1]"``,
        ``"(0, inf)"``, ``"(-inf, inf)"`` (default none). Wider than the ``params``
        bounds, which are default prior ranges: ``loglik``, ``values`` and the
        simulators refuse values outside it, and ``RLSSM(bounds=...)`` bounds that
        reach beyond it. A parameter not listed may take any finite real.
    fields
        Data columns that `update` reads, e.g. ``("feedback",)``. They become HSSM
        extra fields.
    cues
        Data columns known *before* the choice that `values_of` (and `update`) read,
        e.g. ``("set_size",)`` (default none). ``"trial_index"``, the trial's position
        within the participant (``0, 1, ...``, missed trials counted, in ``trial_id``
        order), is provided by rlssm and needs no column.
    field_domains
        ``column -> interval`` where the values of a data column in ``fields`` or
        ``cues`` must lie, as a string like ``domains`` (default none: any finite
        number). Checked when the data is prepared, on every row that gives a value
        (a cue gives one on every row), with a [`DataError`][rlssm.DataError] naming
        the column, participant, row and value.

    The simplest rules keep only the values: `update` maps the values array to the new
    values array. A rule that keeps more (associabilities, variances, a choice trace)
    returns a pytree from [`init`][rlssm.AbstractLearningRule.init], an ``eqx.Module``
    with named fields one of which is ``values``, and `update` maps it to the next one.
    Mappings may read the other named parts (see
    [`AbstractMapping.rule_state`][rlssm.AbstractMapping]).

    Examples
    --------
    ```python
    class DecayRW(rlssm.AbstractLearningRule):
        initial_value: float = 0.5
        params = {"alpha": (0.0, 1.0), "decay": (0.0, 1.0)}
        fields = ("feedback",)

        def update(self, values, option, feedback, alpha, decay):
            decayed = values + decay * (self.initial_value - values)
            learned = values[option] + alpha * (feedback - values[option])
            return decayed.at[option].set(learned)
    ```
    """

    initial_value: AbstractVar[float]
    params: AbstractClassVar[Mapping[str, ParamDecl]]
    fields: AbstractClassVar[tuple[str, ...]]
    cues: ClassVar[tuple[str, ...]] = ()
    domains: ClassVar[Mapping[str, str]] = {}
    field_domains: ClassVar[Mapping[str, str]] = {}

    def init(self, n_options: int, dtype: Any, **params: Float[Array, ""]) -> RuleState:
        """The state before the first trial (and after a reset).

        Parameters
        ----------
        n_options
            Number of options.
        dtype
            The float dtype of the computation.
        **params
            One scalar per name in ``params`` (without the ``rl_`` prefix): the
            participant's parameter values, for rules whose start depends on them
            (Pearce-Hall's initial associability). The default ignores them.

        Returns
        -------
        RuleState
            Default: the values, ``n_options`` copies of ``initial_value``.
        """
        del params
        return jnp.full((n_options,), self.initial_value, dtype=dtype)

    @abc.abstractmethod
    def update(
        self,
        state: RuleState,
        option: Int[Array, ""],
        **inputs: Float[Array, ""],
    ) -> RuleState:
        """The state after one trial.

        Parameters
        ----------
        state
            The state before this trial (of the trial's ``state``, where the data has
            several): for a rule that keeps only values, the values array.
        option
            Index of the chosen option (``0 .. n_options - 1``), not the data's
            response coding. (It is passed by position; name it as you like.)
        **inputs
            One scalar per name in ``fields`` and ``cues`` (this trial's data) and one
            per name in ``params`` (without the ``rl_`` prefix; the trial's parameter
            value). Write them as named arguments: ``update(self, values, option,
            feedback, alpha)``.

        Returns
        -------
        RuleState
            The state after this trial's update: same structure, shapes and dtypes
            as ``state``.
        """

    def values_of(self, state: RuleState, **inputs: Float[Array, ""]) -> Float[Array, " options"]:
        """The values of the options that drive this trial's decision.

        Parameters
        ----------
        state
            The state before this trial's update.
        **inputs
            One scalar per name in ``cues`` and in ``params`` (this trial's), for rules
            whose values at decision time depend on them (working memory decayed to
            this trial, weighted by the set size). The default ignores them.

        Returns
        -------
        Array
            The state itself when it is an array, else its ``values`` entry (a field of
            an ``eqx.Module`` or ``NamedTuple``, or a dict key).
        """
        del inputs
        if isinstance(state, jax.Array):
            return state
        parts = state_parts(state)
        if "values" not in parts:
            raise TypeError(
                f"{type(self).__name__}: its state {type(state).__name__} has no 'values' entry "
                f"(named parts: {tuple(parts)}); name the values 'values' or override values_of"
            )
        return parts["values"]

    def named_state(self, state: RuleState) -> dict[str, Array]:
        """The named parts of ``state`` other than the values (for mappings and
        ``RLSSM.values``). The default lists the fields of a Module, ``NamedTuple`` or
        dict state; an array state has none."""
        if isinstance(state, jax.Array):
            return {}
        return {k: v for k, v in state_parts(state).items() if k != "values"}


def state_parts(state: Any) -> dict[str, Any]:
    """The named parts of a pytree state: dataclass (``eqx.Module``) fields, a
    ``NamedTuple``'s fields or a dict's items; ``{}`` for anything else."""
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    if isinstance(state, tuple) and hasattr(type(state), "_fields"):
        return dict(zip(type(state)._fields, state))  # type: ignore[attr-defined]
    if isinstance(state, Mapping):
        return dict(state)
    return {}


class AbstractWrappedLearningRule(AbstractLearningRule):
    """A learning rule that wraps another and changes some of what it does (as
    `rlssm.decision.base.AbstractWrappedDecisionModel`
    does for decision models): [`Fixed`][rlssm.Fixed] holds parameters,
    [`SignOfFeedback`][rlssm.SignOfFeedback] learns from the sign of the feedback.

    Everything is the wrapped rule's (its initial value, parameters, domains, data
    columns, state, update and readout) unless a subclass changes it; subclasses declare
    the field ``rule``.
    """

    rule: AbstractVar[AbstractLearningRule]

    @property
    def initial_value(self) -> float:  # type: ignore[override]
        return self.rule.initial_value

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return self.rule.params

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return self.rule.domains

    @property
    def fields(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.rule.fields

    @property
    def cues(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.rule.cues

    @property
    def field_domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return self.rule.field_domains

    def init(self, n_options: int, dtype: Any, **params: Float[Array, ""]) -> RuleState:
        return self.rule.init(n_options, dtype, **params)

    def update(self, state: RuleState, option: Int[Array, ""], **inputs: Float[Array, ""]) -> RuleState:
        return self.rule.update(state, option, **inputs)

    def values_of(self, state: RuleState, **inputs: Float[Array, ""]) -> Float[Array, " options"]:
        return self.rule.values_of(state, **inputs)

    def named_state(self, state: RuleState) -> dict[str, Array]:
        return self.rule.named_state(state)
