"""A learning rule, a mapping and a decision model, and what follows from them alone."""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .._spec import Domain, check_decl_bounds, domains_of, split_decl
from .._types import Bounds
from ..decision.base import AbstractDecisionModel
from ..learning.base import AbstractLearningRule
from ..mapping import AbstractMapping

__all__ = ["DERIVED_FIELDS", "RL_PREFIX", "Composition"]

RL_PREFIX = "rl_"
"""Prefix of a learning rule's parameters in a model's ``param_names``."""

DERIVED_FIELDS = ("trial_index",)
"""Fields rlssm computes from the trial layout (no data column): ``trial_index`` is a
trial's position within its participant, ``0, 1, ...`` in ``trial_id`` order, missed
trials counted."""


def _instance(role: str, value: object, base: type) -> None:
    if isinstance(value, type):
        raise TypeError(
            f"{role}: got the class {value.__name__}, not an instance of it; write {value.__name__}()"
        )
    if not isinstance(value, base):
        raise TypeError(f"{role}: expected an instance of rlssm.{base.__name__}, got {type(value).__name__}")


class Composition(eqx.Module):
    """The three components of an RLSSM and everything derived from them alone.

    The parameter names (with their sources), the data fields the components read,
    and the checks that the parts fit together: the mapping computes only parameters
    the decision model takes, reads only state parts the rule keeps, and every
    component's per-trial function runs on dummy inputs with the shapes rlssm will
    give it (each traced once, abstractly, at construction).

    Parameters
    ----------
    learning_rule, mapping, decision_model
        The components.
    n_options
        Number of options.
    """

    learning_rule: AbstractLearningRule
    mapping: AbstractMapping
    decision_model: AbstractDecisionModel
    n_options: int = eqx.field(static=True)

    def __check_init__(self) -> None:
        _instance("learning_rule", self.learning_rule, AbstractLearningRule)
        _instance("mapping", self.mapping, AbstractMapping)
        _instance("decision_model", self.decision_model, AbstractDecisionModel)
        rule, mapping, decision = self.learning_rule, self.mapping, self.decision_model
        if self.n_options != decision.n_options:
            # Before the mapping's outputs are compared with the decision model's
            # inputs: a per-option mapping would otherwise be blamed for the extra option.
            raise ValueError(
                f"choices lists {self.n_options} response values (one per option) but "
                f"{type(decision).__name__} has {decision.n_options} options (its choices "
                f"{decision.choices}): give choices with {decision.n_options} values, or a "
                f"decision model of {self.n_options} options"
            )
        columns = (*rule.fields, *rule.cues)
        for column, text in rule.field_domains.items():
            if column not in columns:
                raise ValueError(
                    f"{type(rule).__name__}: field_domains names {column!r}, which is not one of "
                    f"its fields or cues {columns}"
                )
            try:
                Domain.parse(text)
            except ValueError as err:
                raise ValueError(f"{type(rule).__name__}: field_domains[{column!r}]: {err}") from None
        start = rule.initial_value
        if start is not None and not (isinstance(start, (int, float)) and math.isfinite(start)):
            raise ValueError(f"{type(rule).__name__}: initial_value must be a finite number, got {start!r}")
        unknown = set(self.computed) - set(decision.param_names)
        if unknown:
            raise ValueError(
                f"{type(mapping).__name__} computes {sorted(unknown)}, which "
                f"{type(decision).__name__} does not take (its parameters: {decision.param_names})"
            )
        names = self.param_names
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names clash between components: {names}")
        for part in (rule, mapping, decision):
            check_decl_bounds(type(part).__name__, part.params, self.component_domains(part))
        self._trace()

    # ------------------------------------------------------------------ names
    @property
    def rl_names(self) -> tuple[str, ...]:
        """The rule's parameters with the ``rl_`` prefix."""
        return tuple(RL_PREFIX + n for n in self.learning_rule.params)

    @property
    def computed(self) -> tuple[str, ...]:
        """Decision parameters the mapping computes (its outputs for `n_options`)."""
        return self.mapping.output_names(self.n_options)

    @property
    def decision_free(self) -> tuple[str, ...]:
        """Decision parameters that the mapping does not compute (sampled)."""
        computed = set(self.computed)
        return tuple(p for p in self.decision_model.param_names if p not in computed)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Sampled parameters: ``rl_``-prefixed rule parameters, mapping, decision."""
        return self.rl_names + tuple(self.mapping.params) + self.decision_free

    @property
    def trial_fields(self) -> tuple[str, ...]:
        """Every per-trial input the components read: the rule's fields and cues, then
        the mapping's fields (derived ones such as ``trial_index`` included)."""
        rule = self.learning_rule
        names = (*rule.fields, *rule.cues, *self.mapping.fields)
        return tuple(dict.fromkeys(names))

    @property
    def data_fields(self) -> tuple[str, ...]:
        """Data columns the components read (`trial_fields` less the derived ones)."""
        return tuple(f for f in self.trial_fields if f not in DERIVED_FIELDS)

    @property
    def default_bounds(self) -> dict[str, Bounds]:
        """``name -> (lower, upper)`` as the components declare them."""
        return {name: split_decl(name, decl)[0] for name, decl in self._decls().items()}

    @property
    def defaults(self) -> dict[str, float]:
        """A default value of every parameter (declared, else from the bounds)."""
        return {name: split_decl(name, decl)[1] for name, decl in self._decls().items()}

    @staticmethod
    def component_domains(part: Any) -> dict[str, Domain]:
        """A component's own parameters' domains (unprefixed names; computed decision
        parameters included), from its declared ``domains``."""
        return domains_of(type(part).__name__, part.params, part.domains)

    @property
    def domains(self) -> dict[str, Domain]:
        """The [`Domain`][rlssm.engine.Domain] of every name in `param_names` (the rule's
        with the ``rl_`` prefix) and in `computed` (the decision model's): where the
        component is defined, wider than the default bounds. The eager entry points
        refuse values outside it (see [`check_values`][rlssm.engine.check_values])."""
        out = {RL_PREFIX + n: d for n, d in self.component_domains(self.learning_rule).items()}
        out |= self.component_domains(self.mapping)
        decision = self.component_domains(self.decision_model)
        out |= {n: decision[n] for n in (*self.decision_free, *self.computed)}
        return out

    def owner(self, name: str) -> tuple[str, str]:
        """``(class name, parameter name as that class declares it)`` of a name in
        `param_names` or `computed`."""
        if name in self.rl_names:
            return type(self.learning_rule).__name__, name[len(RL_PREFIX):]
        if name in self.mapping.params:
            return type(self.mapping).__name__, name
        return type(self.decision_model).__name__, name

    def _decls(self) -> dict[str, Any]:
        out: dict[str, Any] = {RL_PREFIX + n: d for n, d in self.learning_rule.params.items()}
        out |= dict(self.mapping.params)
        out |= {n: self.decision_model.params[n] for n in self.decision_free}
        return out

    # ------------------------------------------------------------------ checks
    def _trace(self) -> None:
        """Run each per-trial function once on abstract inputs; name what is wrong."""
        rule, mapping = self.learning_rule, self.mapping
        rule_name, mapping_name = type(rule).__name__, type(mapping).__name__
        dtype = jnp.float32
        scalar = jax.ShapeDtypeStruct((), dtype)
        rl = {n: scalar for n in rule.params}
        fields = {f: scalar for f in (*rule.fields, *rule.cues)}
        cues = {f: scalar for f in rule.cues}
        option = jax.ShapeDtypeStruct((), jnp.int32)

        def call(what: str, fn, *args, **kwargs):
            try:
                return jax.eval_shape(fn, *args, **kwargs)
            except Exception as err:  # what the user's code raised, named
                raise TypeError(f"{what} failed on inputs of the shapes rlssm gives it: {err}") from err

        state = call(
            f"{rule_name}.init(n_options={self.n_options}, dtype, **params)",
            lambda p: rule.init(self.n_options, dtype, **p), rl,
        )
        values, named = call(
            f"{rule_name}.values_of(state, **cues, **params) / named_state(state)",
            lambda st, i: (rule.values_of(st, **i), rule.named_state(st)), state, cues | rl,
        )
        if not (isinstance(values, jax.ShapeDtypeStruct) and tuple(values.shape) == (self.n_options,)):
            raise TypeError(
                f"{rule_name}.init must give values of shape ({self.n_options},) (one per option); "
                f"got {getattr(values, 'shape', values)!r}"
            )
        new = call(
            f"{rule_name}.update(state, option, **fields, **params)",
            lambda s, o, i: rule.update(s, o, **i), state, option, fields | rl,
        )
        if jax.tree.structure(new) != jax.tree.structure(state) or any(
            a.shape != b.shape for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(state))
        ):
            shapes = jax.tree.map(lambda x: tuple(x.shape), state)
            got = jax.tree.map(lambda x: tuple(getattr(x, "shape", ())), new)
            raise TypeError(
                f"{rule_name}.update must return a state of the structure and shapes of its input "
                f"(here {shapes}); it returned {got}"
            )
        lacking = [s for s in mapping.rule_state if s not in named]
        if lacking:
            raise ValueError(
                f"{mapping_name} reads the learning-rule state {lacking}, which {rule_name} does not "
                f"keep (its state parts besides the values: {tuple(named) or 'none'})"
            )
        inputs = (
            {n: scalar for n in mapping.params}
            | {f: scalar for f in mapping.fields}
            | {s: named[s] for s in mapping.rule_state}
        )
        out = call(
            f"{mapping_name}(values, **inputs)",
            lambda v, i: mapping(v, **i), values, inputs,
        )
        if not isinstance(out, dict) or set(out) != set(self.computed):
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise TypeError(
                f"{mapping_name} must return a dict with exactly its outputs {self.computed}; got {got}"
            )
        bad = {k: tuple(v.shape) for k, v in out.items() if tuple(v.shape) != ()}
        if bad:
            raise TypeError(f"{mapping_name} must return one scalar per output; got shapes {bad}")
