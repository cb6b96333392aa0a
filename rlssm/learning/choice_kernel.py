"""Rescorla-Wagner with a choice kernel: a trace of past choices, kept beside the values."""

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Float, Int
from .base import AbstractLearningRule


class ChoiceKernel(AbstractLearningRule):
    """Rescorla-Wagner values plus a choice kernel (a decaying trace of one's choices).

    Model 5 ("Rescorla-Wagner + choice kernel") of Wilson & Collins (2019), "Ten
    simple rules for the computational modeling of behavioral data", *eLife* 8,
    e49547. With chosen option ``c`` and feedback ``r``, on each trial

    ``Q[c] <- Q[c] + alpha * (r - Q[c])`` (unchosen values unchanged);
    ``CK[k] <- CK[k] + alpha_ck * (1[k = c] - CK[k])`` for every option ``k``.

    The kernel starts at 0 for every option, the values at ``initial_value``; a
    block reset resets both. The values are
    [`RescorlaWagner`][rlssm.RescorlaWagner]'s exactly. The kernel drives choices
    only through a mapping that reads it: in Wilson & Collins the choice rule is
    ``softmax(beta * Q + beta_c * CK)``; for a two-boundary decision model,
    [`KernelDrift`][rlssm.KernelDrift] gives
    ``v = scaler * (Q[1] - Q[0]) + beta_ck * (CK[1] - CK[0])``. With the default
    mapping ([`DriftScaling`][rlssm.DriftScaling]) the kernel is kept but unused.

    The state (`ChoiceKernel.State`) holds ``values`` and ``kernel``;
    [`RLSSM.values`][rlssm.RLSSM.values] reports the kernel per option
    (``kernel_<choice>``).

    Parameters
    ----------
    initial_value
        Value of every option before the first trial (default 0.5).

    Notes
    -----
    Sampled parameters (``rl_``-prefixed in ``RLSSM.param_names``): ``alpha`` in
    (0, 1), the learning rate; ``alpha_ck`` in (0, 1), the kernel's rate.
    """

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "alpha_ck": (0.0, 1.0)}
    domains = {"alpha": "[0, 1]", "alpha_ck": "[0, 1]"}
    fields = ("feedback",)

    class State(eqx.Module):
        """Values and choice kernel of the options."""

        values: Float[Array, " options"]
        kernel: Float[Array, " options"]

    def init(self, n_options: int, dtype, alpha, alpha_ck) -> "ChoiceKernel.State":
        start = jnp.full((n_options,), self.initial_value, dtype)
        return ChoiceKernel.State(start, jnp.zeros((n_options,), dtype))

    def update(
        self,
        state: "ChoiceKernel.State",
        option: Int[Array, ""],
        feedback: Float[Array, ""],
        alpha: Float[Array, ""],
        alpha_ck: Float[Array, ""],
    ) -> "ChoiceKernel.State":
        values, kernel = state.values, state.kernel
        chosen = jax.nn.one_hot(option, values.shape[0], dtype=bool)  # one-hot: see RescorlaWagner
        prediction_error = feedback - jnp.sum(jnp.where(chosen, values, 0))
        values = values + jnp.where(chosen, alpha * prediction_error, 0)
        kernel = kernel + alpha_ck * (chosen.astype(kernel.dtype) - kernel)
        return ChoiceKernel.State(values, kernel)
