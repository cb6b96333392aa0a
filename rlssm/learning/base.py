"""The abstract learning rule: a history of choices and feedback becomes values."""

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING

import equinox as eqx
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


class AbstractLearningRule(eqx.Module):
    """How the values of the options change after one trial.

    A learning rule is written for one trial of one participant; rlssm scans it over
    trials, vmaps it over participants, resets it at block starts, keeps one set of
    values per ``state``, and skips missed trials. A subclass declares:

    Attributes
    ----------
    initial_value
        The value every option starts with (a setting: a field of the final class,
        default 0.5 in the library's rules).
    params
        ``name -> (lower, upper)`` or ``(lower, upper, default)`` for each sampled
        parameter. [`RLSSM`][rlssm.RLSSM] lists them with the prefix ``rl_``
        (``alpha`` becomes ``rl_alpha``), and passes them to `update` without it.
    fields
        Data columns that `update` reads, e.g. ``("feedback",)``. They become HSSM
        extra fields.

    Examples
    --------
    ```python
    class DecayRW(rlssm.AbstractLearningRule):
        initial_value: float = 0.5
        params = {"alpha": (0.0, 1.0), "decay": (0.0, 1.0)}
        fields = ("feedback",)

        def update(self, values, choice, feedback, alpha, decay):
            decayed = values + decay * (self.initial_value - values)
            learned = values[choice] + alpha * (feedback - values[choice])
            return decayed.at[choice].set(learned)
    ```
    """

    initial_value: AbstractVar[float]
    params: AbstractClassVar[Mapping[str, ParamDecl]]
    fields: AbstractClassVar[tuple[str, ...]]

    def init(self, n_options: int, dtype: jnp.dtype) -> Float[Array, " options"]:
        """Values of ``n_options`` options before the first trial (and after a reset)."""
        return jnp.full((n_options,), self.initial_value, dtype=dtype)

    @abc.abstractmethod
    def update(
        self,
        values: Float[Array, " options"],
        choice: Int[Array, ""],
        **inputs: Float[Array, ""],
    ) -> Float[Array, " options"]:
        """Values after one trial.

        Parameters
        ----------
        values
            The values before this trial, one per option (of the trial's state).
        choice
            Index of the chosen option (``0 .. n_options - 1``), not the data's
            response coding.
        **inputs
            One scalar per name in ``fields`` (this trial's data) and one per name in
            ``params`` (without the ``rl_`` prefix; the trial's parameter value).
            Write them as named arguments: ``update(self, values, choice, feedback,
            alpha)``.

        Returns
        -------
        Array
            The values after this trial's update, same shape and dtype as ``values``.
        """
