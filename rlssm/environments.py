"""Task environments for closed-loop simulation: what a chosen option pays.

An environment is a pure function of a PRNG key, the trial index and the chosen
option, so that the simulator can ``lax.scan`` it over trials and ``vmap`` it over
participants and posterior draws. The bandits hold their settings as numpy arrays
(pytree leaves, traced by the simulator's jit): a new setting of the same shape reuses
the compiled simulator.

Reversals
---------
``reversals`` lists trial indices at which the arms' reward distributions are
permuted. From trial ``reversals[j]`` on (``j + 1`` reversals so far), arm ``k`` pays
what arm ``(k + j + 1) % n_options`` paid before the first reversal: for two arms the
arms swap at every reversal; for more arms the distributions rotate by one arm each
time. The best option moves with its distribution.

Complete feedback
-----------------
With ``complete_feedback=True`` a two-armed bandit also shows what the other arm would
have paid: `outcome` returns ``feedback`` (the chosen arm's draw, the same draw as
without complete feedback under the same key) and ``feedback_unchosen`` (an independent
draw of the other arm, reversals applied), and the bandit declares both in ``fields``.
This is what [`CounterfactualRW`][rlssm.CounterfactualRW] reads. Complete feedback is
defined for two arms only (a ``ValueError`` otherwise): with more arms, one
``feedback_unchosen`` number cannot say what each unchosen arm paid.
"""

import abc
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from equinox import AbstractVar

from ._types import Array, ArrayLike, Float, Int, PRNGKeyArray


class AbstractEnvironment(eqx.Module):
    """A task that answers a choice with feedback (a reward), one trial at a time.

    Subclasses are pure: [`reward`][rlssm.AbstractEnvironment.reward] and
    [`best_option`][rlssm.AbstractEnvironment.best_option] depend only on their
    arguments and the environment's settings, so they can be jitted and vmapped.
    Computations follow JAX's default float dtype, which
    [`simulate`][rlssm.simulation.simulate] sets through the model's ``precision``.

    Attributes
    ----------
    n_options
        Number of options (arms) the environment answers.
    fields
        The data fields a choice produces, what `outcome` returns (default
        ``("feedback",)``): a closed-loop simulation can drive a learning rule that
        reads only these.
    """

    n_options: AbstractVar[int]
    fields: ClassVar[tuple[str, ...]] = ("feedback",)  # a property where it depends on settings

    def outcome(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> dict[str, Float[Array, ""]]:
        """The data fields that choosing ``option`` on trial ``trial`` produces.

        Parameters
        ----------
        key
            A JAX PRNG key, used once.
        trial
            The trial index.
        option
            Index of the chosen option, ``0 .. n_options - 1``.

        Returns
        -------
        dict
            One scalar per name in `fields`. The default is ``{"feedback":
            self.reward(key, trial, option)}``; an environment that produces more
            (a forgone outcome, a cue) declares it in `fields` and overrides this.
        """
        return {"feedback": self.reward(key, trial, option)}

    @abc.abstractmethod
    def reward(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> Float[Array, ""]:
        """Feedback for choosing option ``option`` on trial ``trial``.

        Parameters
        ----------
        key
            A JAX PRNG key, used once.
        trial
            The trial index (``0, 1, ...`` within a participant); environments whose
            payoffs change over time (reversals) read it.
        option
            Index of the chosen option, ``0 .. n_options - 1`` (not a response code).

        Returns
        -------
        Array
            A scalar of JAX's default float dtype: the feedback the learning rule sees.
        """

    @abc.abstractmethod
    def best_option(self, trial: Int[ArrayLike, ""]) -> Int[Array, ""]:
        """The option with the highest expected feedback on trial ``trial``.

        Parameters
        ----------
        trial
            The trial index.

        Returns
        -------
        Array
            An ``int32`` scalar in ``0 .. n_options - 1`` (ties go to the lowest index).
            The simulator's ``correct`` column is 1 where the choice equals it.
        """


# ---------------------------------------------------------------------- shared checks
def _arm_values(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.array(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence with one value per arm, got shape {arr.shape}")
    if arr.shape[0] < 2:
        raise ValueError(f"{name} must list at least 2 arms, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite, got {tuple(arr.tolist())}")
    return arr


def _check_reversals(reversals: np.ndarray) -> None:
    listed = tuple(reversals.tolist())
    if reversals.ndim != 1:
        raise ValueError(f"reversals must be a 1-D sequence of trial indices, got shape {reversals.shape}")
    if (reversals < 0).any():
        raise ValueError(f"reversals must be non-negative trial indices, got {listed}")
    if (np.diff(reversals) <= 0).any():
        raise ValueError(f"reversals must be strictly increasing trial indices, got {listed}")


def _as_int_array(reversals: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(reversals)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int32)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or (arr != np.round(arr)).any():
        raise ValueError(f"reversals must be integer trial indices, got {reversals!r}")
    # Ints are int32 under both precisions (see rlssm._precision).
    return arr.astype(np.int32)


def _n_reversals(reversals: Array | np.ndarray, trial: Int[ArrayLike, ""]) -> Int[Array, ""]:
    """How many reversals have happened by ``trial`` (inclusive), as int32."""
    trial = jnp.asarray(trial, dtype=jnp.int32)
    return jnp.sum(trial >= jnp.asarray(reversals, dtype=jnp.int32), dtype=jnp.int32)


def _source_arm(n: int, reversals, trial, option) -> Int[Array, ""]:
    """The arm (in pre-reversal numbering) whose distribution ``option`` pays now."""
    option = jnp.asarray(option, dtype=jnp.int32)
    return (option + _n_reversals(reversals, trial)) % n


def _current_best(values, n: int, reversals, trial) -> Int[Array, ""]:
    # Inverse of `_source_arm`: the arm k with (k + r) % n == argmax(values).
    best = jnp.argmax(jnp.asarray(values)).astype(jnp.int32)
    return (best - _n_reversals(reversals, trial)) % n


_COMPLETE_FIELDS = ("feedback", "feedback_unchosen")


def _check_complete_feedback(name: str, n_options: int, complete_feedback: bool) -> None:
    if complete_feedback and n_options != 2:
        raise ValueError(
            f"{name}(complete_feedback=True) needs exactly 2 arms, got {n_options}: with more "
            "arms one feedback_unchosen value cannot say what each unchosen arm paid"
        )


def _complete_outcome(
    env: AbstractEnvironment,
    key: PRNGKeyArray,
    trial: Int[ArrayLike, ""],
    option: Int[ArrayLike, ""],
) -> dict[str, Float[Array, ""]]:
    """The chosen arm's feedback (drawn with ``key``, as `reward` alone would) and the
    other arm's (drawn with a key folded from it) of a two-armed bandit."""
    other = 1 - jnp.asarray(option, dtype=jnp.int32)
    return {
        "feedback": env.reward(key, trial, option),
        "feedback_unchosen": env.reward(jax.random.fold_in(key, 1), trial, other),
    }


# ---------------------------------------------------------------------- bandits
class GaussianBandit(AbstractEnvironment):
    """A multi-armed bandit with Gaussian feedback: ``feedback ~ Normal(means[arm], sd[arm])``.

    Parameters
    ----------
    means
        Mean feedback of each arm (at least 2).
    sd
        Standard deviation of the feedback: one value for all arms, or one per arm
        (positive).
    reversals
        Trial indices at which the arms' distributions are permuted (swapped for two
        arms, rotated by one arm for more; see the module docs). Non-negative,
        strictly increasing.
    complete_feedback
        Also show the other arm's draw, as ``feedback_unchosen`` (two arms only; see
        the module docs). Default False: ``fields`` is ``("feedback",)``.

    Examples
    --------
    ```python
    env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1, reversals=(100,))
    ```
    """

    means: Float[np.ndarray, " options"]
    sd: Float[np.ndarray, " options"]
    reversals: Int[np.ndarray, " reversals"]
    complete_feedback: bool = eqx.field(static=True)

    def __init__(
        self,
        means: Sequence[float] | np.ndarray,
        sd: float | Sequence[float] | np.ndarray = 1.0,
        reversals: Sequence[int] | np.ndarray = (),
        complete_feedback: bool = False,
    ):
        self.means = _arm_values("means", means)
        sd_arr = np.array(sd, dtype=float)
        if sd_arr.ndim == 0:
            sd_arr = np.full(len(self.means), float(sd_arr))
        elif sd_arr.shape != (len(self.means),):
            raise ValueError(
                f"sd must be a scalar or have one value per arm ({len(self.means)}), "
                f"got shape {sd_arr.shape}"
            )
        self.sd = sd_arr
        self.reversals = _as_int_array(reversals)
        self.complete_feedback = bool(complete_feedback)

    def __check_init__(self) -> None:
        if not (np.isfinite(self.sd).all() and (self.sd > 0).all()):
            raise ValueError(f"sd must be positive and finite, got {tuple(self.sd.tolist())}")
        _check_reversals(self.reversals)
        _check_complete_feedback("GaussianBandit", self.n_options, self.complete_feedback)

    @property
    def n_options(self) -> int:
        return len(self.means)

    @property
    def fields(self) -> tuple[str, ...]:
        return _COMPLETE_FIELDS if self.complete_feedback else ("feedback",)

    def outcome(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> dict[str, Float[Array, ""]]:
        if self.complete_feedback:
            return _complete_outcome(self, key, trial, option)
        return {"feedback": self.reward(key, trial, option)}

    def reward(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> Float[Array, ""]:
        arm = _source_arm(self.n_options, self.reversals, trial, option)
        mean = jnp.asarray(self.means, dtype=float)[arm]
        sd = jnp.asarray(self.sd, dtype=float)[arm]
        return mean + sd * jax.random.normal(key, (), dtype=mean.dtype)

    def best_option(self, trial: Int[ArrayLike, ""]) -> Int[Array, ""]:
        return _current_best(self.means, self.n_options, self.reversals, trial)


class BernoulliBandit(AbstractEnvironment):
    """A multi-armed bandit with binary feedback: ``feedback ~ Bernoulli(p[arm])`` in {0, 1}.

    Parameters
    ----------
    p
        Probability of feedback 1 for each arm (at least 2), in ``[0, 1]``.
    reversals
        Trial indices at which the arms' probabilities are permuted (swapped for two
        arms, rotated by one arm for more; see the module docs). Non-negative,
        strictly increasing.
    complete_feedback
        Also show the other arm's draw, as ``feedback_unchosen`` (two arms only; see
        the module docs). Default False: ``fields`` is ``("feedback",)``.

    Examples
    --------
    ```python
    env = rlssm.BernoulliBandit(p=(0.3, 0.7), reversals=(50, 100, 150))
    ```
    """

    p: Float[np.ndarray, " options"]
    reversals: Int[np.ndarray, " reversals"]
    complete_feedback: bool = eqx.field(static=True)

    def __init__(
        self,
        p: Sequence[float] | np.ndarray,
        reversals: Sequence[int] | np.ndarray = (),
        complete_feedback: bool = False,
    ):
        self.p = _arm_values("p", p)
        self.reversals = _as_int_array(reversals)
        self.complete_feedback = bool(complete_feedback)

    def __check_init__(self) -> None:
        if not ((self.p >= 0.0) & (self.p <= 1.0)).all():
            raise ValueError(f"p must hold probabilities in [0, 1], got {tuple(self.p.tolist())}")
        _check_reversals(self.reversals)
        _check_complete_feedback("BernoulliBandit", self.n_options, self.complete_feedback)

    @property
    def n_options(self) -> int:
        return len(self.p)

    @property
    def fields(self) -> tuple[str, ...]:
        return _COMPLETE_FIELDS if self.complete_feedback else ("feedback",)

    def outcome(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> dict[str, Float[Array, ""]]:
        if self.complete_feedback:
            return _complete_outcome(self, key, trial, option)
        return {"feedback": self.reward(key, trial, option)}

    def reward(
        self,
        key: PRNGKeyArray,
        trial: Int[ArrayLike, ""],
        option: Int[ArrayLike, ""],
    ) -> Float[Array, ""]:
        arm = _source_arm(self.n_options, self.reversals, trial, option)
        p = jnp.asarray(self.p, dtype=float)[arm]
        return (jax.random.uniform(key, (), dtype=p.dtype) < p).astype(p.dtype)

    def best_option(self, trial: Int[ArrayLike, ""]) -> Int[Array, ""]:
        return _current_best(self.p, self.n_options, self.reversals, trial)
