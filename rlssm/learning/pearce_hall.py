"""The Pearce-Hall hybrid: learning rates that follow surprise."""

import equinox as eqx
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class PearceHall(AbstractLearningRule):
    """Rescorla-Wagner whose per-option learning rate (associability) tracks |prediction error|.

    The hybrid of Li, Schiller, Schoenbaum, Phelps & Daw (2011), *Nature Neuroscience*
    14, 1250-1252: with chosen option ``c`` and feedback ``r``,

    ``delta = r - Q[c]``; ``Q[c] += kappa * A[c] * delta``; then
    ``A[c] = eta * |delta| + (1 - eta) * A[c]``.

    Every associability ``A`` starts at ``alpha0``, every value at ``initial_value``;
    unchosen options keep both. With ``eta = 0`` it is
    [`RescorlaWagner`][rlssm.RescorlaWagner] with rate ``kappa * alpha0``. The state
    (`PearceHall.State`) holds ``values`` and ``associability``; mappings may read
    ``associability`` and [`RLSSM.values`][rlssm.RLSSM.values] reports it per option.

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5).
    """

    initial_value: float = 0.5
    params = {"kappa": (0.0, 1.0), "eta": (0.0, 1.0), "alpha0": (0.0, 1.0)}
    # An associability follows |prediction error|, whose scale is the feedback's.
    domains = {"kappa": "[0, 1]", "eta": "[0, 1]", "alpha0": "[0, inf)"}
    fields = ("feedback",)

    class State(eqx.Module):
        """Values and associabilities of the options."""

        values: Float[Array, " options"]
        associability: Float[Array, " options"]

    def init(self, n_options: int, dtype, kappa, eta, alpha0) -> "PearceHall.State":
        start = jnp.full((n_options,), self.initial_value, dtype)
        return PearceHall.State(start, jnp.full((n_options,), alpha0, dtype))

    def update(
        self,
        state: "PearceHall.State",
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        kappa: Float[Array, ""],
        eta: Float[Array, ""],
        alpha0: Float[Array, ""],
    ) -> "PearceHall.State":
        delta = feedback - state.values[option]
        values = state.values.at[option].add(kappa * state.associability[option] * delta)
        old = state.associability[option]
        assoc = state.associability.at[option].set(eta * jnp.abs(delta) + (1 - eta) * old)
        return PearceHall.State(values, assoc)
