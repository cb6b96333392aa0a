"""Learning rules and mappings a user would write in a notebook, shared by the tests.

They live here, not in rlssm: the tests use them as a user would, through the public
extension points only.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

import rlssm


class DecayRW(rlssm.AbstractLearningRule):
    """Rescorla-Wagner whose values all decay toward their start (the docs' rule)."""

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "decay": (0.0, 1.0)}
    fields = ("feedback",)

    def update(self, values, option, feedback, alpha, decay):
        decayed = values + decay * (self.initial_value - values)
        learned = values[option] + alpha * (feedback - values[option])
        return decayed.at[option].set(learned)


class PearceHall(rlssm.AbstractLearningRule):
    """Li et al. (2011) hybrid: each option's learning rate follows |prediction error|."""

    initial_value: float = 0.5
    params = {"kappa": (0.0, 1.0), "eta": (0.0, 1.0), "alpha0": (0.0, 1.0)}
    fields = ("feedback",)

    class State(eqx.Module):
        values: Float[Array, " options"]
        associability: Float[Array, " options"]

    def init(self, n_options, dtype, kappa, eta, alpha0):
        start = jnp.full(n_options, self.initial_value, dtype)
        return self.State(start, jnp.full(n_options, alpha0, dtype))

    def update(self, state, option, feedback, kappa, eta, alpha0):
        delta = feedback - state.values[option]
        values = state.values.at[option].add(kappa * state.associability[option] * delta)
        old = state.associability[option]
        assoc = state.associability.at[option].set(eta * jnp.abs(delta) + (1 - eta) * old)
        return self.State(values, assoc)


class DifficultyMapping(rlssm.AbstractMapping):
    """Drift from the value difference; boundary separation from a data column."""

    params = {"scaler": (0.0, 10.0), "a_base": (0.3, 2.0), "a_slope": (-1.0, 1.0)}
    outputs = ("v", "a")
    fields = ("difficulty",)

    def __call__(self, values, scaler, a_base, a_slope, difficulty):
        return {"v": scaler * (values[1] - values[0]), "a": a_base + a_slope * difficulty}


class AssociabilityDrift(rlssm.AbstractMapping):
    """Drift scaled up by the summed associability (reads the rule's state)."""

    params = {"scaler": (0.0, 10.0), "gain": (0.0, 5.0)}
    outputs = ("v",)
    rule_state = ("associability",)

    def __call__(self, values, scaler, gain, associability):
        return {"v": scaler * (values[1] - values[0]) * (1.0 + gain * jnp.sum(associability))}
