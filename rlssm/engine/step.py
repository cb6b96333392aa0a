"""The per-trial step: one owner for how a trial updates the rule's state and how a
state becomes decision parameters.

Used by the likelihood (grid and row paths), the closed-loop and conditional
simulators and the range checks. A trial of one participant, in order:

1. where the trial starts a participant or a block, the state is reset to
   ``rule.init(...)``;
2. the state of the trial's ``state`` (stimulus) is read: its values (and named parts)
   *before* the update drive this trial's decision;
3. the rule updates that state from the chosen option and the trial's fields, unless
   the trial was missed.

`scan_states` runs steps 1-3 with ``lax.scan`` over trials, ``vmap``-ed over
participants; `decision_params` applies the mapping to what step 2 read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._types import Array
from .composition import RL_PREFIX, Composition
from .trials import GridTrials

__all__ = [
    "Readout",
    "cue_inputs",
    "decision_params",
    "initial_state",
    "option_index",
    "readout",
    "rule_inputs",
    "rule_params",
    "scan_states",
    "update_state",
]


class Readout(NamedTuple):
    """What a trial's decision sees of the rule's state: the values and the named parts
    the mapping reads (each with the batch shape in front)."""

    values: Array
    parts: dict[str, Array]


def rule_params(comp: Composition, params: Mapping[str, Array]) -> dict[str, Array]:
    """The rule's parameters from ``params`` keyed by model name (``rl_``-prefixed)."""
    return {n: params[RL_PREFIX + n] for n in comp.learning_rule.params}


def initial_state(comp: Composition, dtype: Any, rl: Mapping[str, Array]) -> Any:
    """The rule's state before a participant's (or block's) first trial."""
    return comp.learning_rule.init(comp.n_options, dtype, **rl)


def rule_inputs(comp: Composition) -> tuple[str, ...]:
    """The per-trial inputs `update` reads: the rule's fields, then its cues."""
    rule = comp.learning_rule
    return tuple(dict.fromkeys((*rule.fields, *rule.cues)))


def cue_inputs(comp: Composition, fields: Mapping[str, Array], rl: Mapping[str, Array]) -> dict[str, Array]:
    """What `values_of` reads: the rule's cues (from ``fields``) and its parameters."""
    return {c: fields[c] for c in comp.learning_rule.cues} | dict(rl)


def update_state(
    comp: Composition,
    state: Any,
    option: Array,
    observed: Array,
    fields: Mapping[str, Array],
    rl: Mapping[str, Array],
) -> Any:
    """One trial's update; a missed trial (``observed`` False) leaves the state as it was."""
    rule = comp.learning_rule
    inputs = {f: fields[f] for f in rule_inputs(comp)} | dict(rl)
    new = rule.update(state, option, **inputs)
    return jax.tree.map(lambda n, s: jnp.where(observed, n, s), new, state)


def readout(
    comp: Composition, state: Any, inputs: Mapping[str, Array], batch_dims: int = 0
) -> Readout:
    """What the decision sees of a state with ``batch_dims`` leading batch axes: the
    values (``values_of``, given `cue_inputs` of the same batch shape) and the named
    state parts the mapping reads. The rule's methods see one trial at a time."""
    rule = comp.learning_rule

    def one(s: Any, i: Mapping[str, Array]) -> Readout:
        named = rule.named_state(s) if comp.mapping.rule_state else {}
        return Readout(rule.values_of(s, **i), {k: named[k] for k in comp.mapping.rule_state})

    for _ in range(batch_dims):
        one = jax.vmap(one)
    return one(state, dict(inputs))


def scan_states(
    comp: Composition,
    grid: GridTrials,
    rl: Mapping[str, Array],
    n_states: int,
    plain: bool = False,
) -> Any:
    """The rule's state before each trial's update, leaves ``(P, T, ...)``.

    Parameters
    ----------
    comp
        The components.
    grid
        The trials.
    rl
        The rule's parameters (without prefix), each ``(P, T)``.
    n_states
        Number of distinct ``state`` values of the data (one rule state each).
    plain
        (static) The data has one state, no block changes and no missed trials, so
        the step needs no state indexing, reset or mask (the scan's body is most of the
        likelihood's cost besides the decision model). Padding cells come after a
        participant's last trial, so updating on them changes nothing read back.
    """
    rule = comp.learning_rule
    names = tuple(rule.params)
    fields = rule_inputs(comp)
    dtype = grid.rt.dtype

    def participant(option, reset, observed, state_index, f, p):
        def start(ps):
            one = initial_state(comp, dtype, dict(zip(names, ps)))
            return jax.tree.map(lambda x: jnp.broadcast_to(x, (n_states, *x.shape)), one)

        def step(carry, x):
            opt, rst, obs, st, fs, ps = x
            carry = jax.tree.map(lambda i, c: jnp.where(rst, i, c), start(ps), carry)
            current = jax.tree.map(lambda c: c[st], carry)
            new = update_state(comp, current, opt, obs, dict(zip(fields, fs)), dict(zip(names, ps)))
            carry = jax.tree.map(lambda c, n: c.at[st].set(n), carry, new)
            return carry, current

        def plain_step(state, x):
            opt, fs, ps = x
            inputs = dict(zip(fields, fs)) | dict(zip(names, ps))
            return rule.update(state, opt, **inputs), state

        first = tuple(q[0] for q in p)
        if plain:
            init = initial_state(comp, dtype, dict(zip(names, first)))
            _, before = jax.lax.scan(plain_step, init, (option, f, p))
            return before
        _, before = jax.lax.scan(step, start(first), (option, reset, observed, state_index, f, p))
        return before

    return jax.vmap(participant)(
        grid.option,
        grid.reset,
        grid.observed,
        grid.state,
        tuple(grid.fields[f] for f in fields),
        tuple(rl[n] for n in names),
    )


def decision_params(
    comp: Composition,
    seen: Readout,
    fields: Mapping[str, Array],
    params: Mapping[str, Array],
    batch_dims: int,
) -> dict[str, Array]:
    """Every decision parameter of a batch of trials: computed by the mapping, or given.

    Parameters
    ----------
    comp
        The components.
    seen
        The trials' `Readout`, values ``(*batch, options)``.
    fields
        The mapping's data fields, each ``(*batch,)``.
    params
        The mapping's parameters and the decision model's free ones (model names),
        each broadcastable to ``(*batch,)``.
    batch_dims
        Number of batch dimensions (the mapping is vmapped over each).
    """
    mapping = comp.mapping
    inputs = {n: params[n] for n in mapping.params} | {f: fields[f] for f in mapping.fields} | seen.parts
    per_trial = mapping
    for _ in range(batch_dims):
        per_trial = jax.vmap(per_trial)
    computed = per_trial(seen.values, **inputs)
    return {n: computed[n] if n in computed else params[n] for n in comp.decision_model.param_names}


def option_index(choice: Array, coding: Sequence[int]) -> Array:
    """Position of each decision-model response in its coding ``choices`` (int32)."""
    codes = jnp.asarray(coding, dtype=jnp.int32)
    hits = choice.astype(jnp.int32)[..., None] == codes
    return jnp.argmax(hits, axis=-1).astype(jnp.int32)
