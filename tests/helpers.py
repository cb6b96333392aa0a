"""Learning rules and mappings a user would write in a notebook, shared by the tests.

They live here, not in rlssm: the tests use them as a user would, through the public
extension points only.
"""

from __future__ import annotations

import jax.numpy as jnp

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
