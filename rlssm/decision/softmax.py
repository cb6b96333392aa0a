"""The softmax (Luce) choice rule: a decision model of the choice alone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from .._precision import input_float_dtype as _float_dtype
from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .base import AbstractDecisionModel

__all__ = ["LOGP_FLOOR", "Softmax"]

LOGP_FLOOR: float = -66.1
"""Log-probability returned for a response outside ``0 .. N-1`` (probability 0).

The floor of [`DDM`][rlssm.DDM] (HSSM's ``LOGP_LB``). Every response inside the coding
has a positive probability and gets its exact log-probability, however small.
"""


# Jitted on their own so that eager calls of `Softmax.logp` / `Softmax.sample` compile
# once per shape, not op by op.
@jax.jit
def _log_softmax(x: Array, beta: Array) -> Array:
    """``log softmax(beta * x)`` along the last axis (``x``: ``(..., N)``, ``beta``: ``(...)``).

    From ``beta * (x - max x)``: every scaled input is at most 0 and the best one exactly
    0, so the sum in the logsumexp lies in ``[1, N]`` and every log-probability is at most
    0. (Scaling first, ``beta * x - logsumexp(beta * x)``, rounds ``beta * x`` to the
    spacing of its own magnitude: +0.25 in float32 at ``beta = 1e7``.) An infinite
    ``beta`` (a large one cast to float32) is the argmax rule, its limit; a scaled
    input below ``-finfo.max`` is kept at it, so that the log-probability of an option
    far below the best one is finite, however large ``beta``.
    """
    # The shift is constant in the result: no gradient flows through it.
    diff = x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    b = beta[..., None]
    # beta = inf: 0 at the best options (not inf * 0), the floor below them.
    finite = jnp.isfinite(b)
    scaled = jnp.where(finite, jnp.where(finite, b, 1.0) * diff, jnp.where(diff < 0, -jnp.inf, 0.0))
    scaled = jnp.maximum(scaled, jnp.finfo(scaled.dtype).min)
    return scaled - logsumexp(scaled, axis=-1, keepdims=True)


@jax.jit
def _lapse(log_p: Array, epsilon: Array) -> Array:
    """``log((1 - epsilon) p + epsilon / N)`` from ``log p`` (``(..., N)``), in logs.

    At ``epsilon = 0`` and ``1`` the terms ``log(epsilon)`` and ``log(1 - epsilon)`` are
    ``-inf``; those ends take their limits, and the mixture formula there gets a harmless
    ``epsilon`` so that its unused infinite derivative cannot make NaN gradients.
    """
    n = log_p.shape[-1]
    eps = epsilon[..., None]
    inside = (eps > 0) & (eps < 1)
    safe = jnp.where(inside, eps, 0.5)
    mixed = jnp.logaddexp(jnp.log1p(-safe) + log_p, jnp.log(safe) - math.log(n))
    uniform = jnp.full_like(log_p, -math.log(n))
    return jnp.where(inside, mixed, jnp.where(eps >= 1, uniform, log_p))


@jax.jit
def _chosen(log_p: Array, choice: Array) -> Array:
    """The entry of ``log_p`` (``(..., N)``) at each ``choice``; `LOGP_FLOOR` for a
    response that is not one of ``0 .. N-1``."""
    n = log_p.shape[-1]
    hit = choice[..., None] == jnp.arange(n, dtype=choice.dtype)
    picked = jnp.sum(jnp.where(hit, log_p, 0.0), axis=-1)
    floor = jnp.asarray(LOGP_FLOOR, dtype=log_p.dtype)
    return jnp.where(jnp.any(hit, axis=-1), picked, floor)


@jax.jit
def _draw(key: PRNGKeyArray, log_p: Array) -> Array:
    """One option per row of ``log_p`` (``(..., N)``), with those log-probabilities."""
    return jax.random.categorical(key, log_p, axis=-1).astype(jnp.int32)


class Softmax(AbstractDecisionModel):
    """The softmax choice rule over ``N`` options: a model of the choice alone.

    The probability of option ``k`` given per-option inputs ``x = (v0, ..., v{N-1})``
    (usually the learned values, through the [`Values`][rlssm.Values] mapping) is

        P(k) = exp(beta * x_k) / sum_j exp(beta * x_j)

    with the inverse temperature ``beta >= 0``: ``beta = 0`` chooses uniformly, and as
    ``beta`` grows the choice concentrates on the option with the largest input. This is
    Luce's (1959) choice axiom with strengths ``exp(beta * x_k)``, the "soft-max" (Gibbs,
    Boltzmann) action selection of reinforcement learning (Sutton & Barto, 2018), and
    the decision rule of most bandit models of human choice (Daw et al., 2006). For two
    options it is the logistic ``P(1) = 1 / (1 + exp(-beta * (v1 - v0)))``. Only the
    differences between inputs matter: adding a constant to every ``v`` changes nothing.

    With ``lapse=True`` a lapse rate ``epsilon`` mixes in a uniformly random choice
    (e.g. inattention; Wilson & Collins, 2019, discuss such "noise" terms):

        P(k) = (1 - epsilon) * softmax(beta * x)_k + epsilon / N

    so that no choice has a probability below ``epsilon / N``, however large ``beta``
    is. Without it there is no ``epsilon`` parameter.

    ``logp(rt, choice, v0=..., ..., beta=...[, epsilon=...])`` is the log-probability of
    ``choice``; ``rt`` is accepted for the common signature and ignored (it may be NaN,
    and neither the value nor its gradient then is). It is computed from
    ``beta * (x - max x)`` with logsumexp, so it is exact, finite and at most 0 for any
    finite inputs, however large ``beta`` (in float32 too; the log-probability of an
    option far below the best is kept at ``-finfo.max`` at most); the lapse mixture is
    taken in logs too. A response outside ``0 .. N-1`` gets
    `LOGP_FLOOR`. ``sample`` draws a categorical choice with those probabilities and
    returns NaN response times.

    Parameters
    ----------
    n_options
        Number of options ``N`` (at least 2); the responses are coded ``0 .. N-1``.
    lapse
        Whether to add the lapse rate ``epsilon`` (default False).

    Notes
    -----
    Parameters, in order: ``v0 .. v{N-1}`` (unbounded: in an [`RLSSM`][rlssm.RLSSM] a
    mapping computes them), ``beta`` in (0, 100) (default 5; for values in [0, 1],
    ``beta`` above about 20 is nearly deterministic), and with ``lapse=True``
    ``epsilon`` in (0, 0.5) (default 0.05). Domains: ``beta`` in [0, inf),
    ``epsilon`` in [0, 1].

    This is HSSM's ``softmax_inv_temperature`` likelihood with its ``logit_k`` equal to
    ``v_k - v0``, ssm-simulators' ``inv_temp_softmax_N`` simulator with ``q_k = v_k``,
    and hBayesDM's ``bandit2arm_delta`` choice rule ``categorical_logit(tau * ev)``
    (``tau = beta``); the test suite checks all three.

    References
    ----------
    Luce, R. D. (1959). *Individual Choice Behavior: A Theoretical Analysis*. Wiley.

    Sutton, R. S., & Barto, A. G. (2018). *Reinforcement Learning: An Introduction*
    (2nd ed.). MIT Press. Section 2.8 (soft-max distribution over action preferences).

    Daw, N. D., O'Doherty, J. P., Dayan, P., Seymour, B., & Dolan, R. J. (2006).
    Cortical substrates for exploratory decisions in humans. *Nature*, 441, 876-879.

    Wilson, R. C., & Collins, A. G. E. (2019). Ten simple rules for the computational
    modeling of behavioral data. *eLife*, 8, e49547.
    """

    # The coding is stored; `n_options` is the base's len(choices).
    choices: tuple[int, ...] = eqx.field(static=True)
    lapse: bool = eqx.field(static=True)
    choice_only: ClassVar[bool] = True

    def __init__(self, n_options: int, lapse: bool = False):
        if isinstance(n_options, bool) or not isinstance(n_options, int) or n_options < 2:
            raise ValueError(f"Softmax: n_options must be an integer >= 2, got {n_options!r}")
        self.choices = tuple(range(n_options))
        self.lapse = lapse

    def __check_init__(self) -> None:
        if not isinstance(self.lapse, bool):
            raise TypeError(f"Softmax: lapse must be True or False, got {self.lapse!r}")

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        """``v0 .. v{N-1}``, ``beta`` and, with ``lapse``, ``epsilon``."""
        decls: dict[str, ParamDecl] = {f"v{k}": (-math.inf, math.inf) for k in range(self.n_options)}
        decls["beta"] = (0.0, 100.0, 5.0)
        if self.lapse:
            decls["epsilon"] = (0.0, 0.5, 0.05)
        return MappingProxyType(decls)

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        """``beta`` in [0, inf), ``epsilon`` in [0, 1]; the inputs any finite real."""
        out = {"beta": "[0, inf)"}
        if self.lapse:
            out["epsilon"] = "[0, 1]"
        return MappingProxyType(out)

    def _check_names(self, params: Mapping[str, RealLike]) -> None:
        """``TypeError`` unless ``params`` names exactly this model's parameters."""
        expected = self.param_names
        if set(params) != set(expected):
            missing = [p for p in expected if p not in params]
            unknown = sorted(set(params) - set(expected))
            raise TypeError(
                f"Softmax(n_options={self.n_options}, lapse={self.lapse}) takes the parameters "
                f"{expected}; missing {missing}, unknown {unknown}"
            )

    def _log_probs(
        self, params: Mapping[str, RealLike], shape: tuple[int, ...], dtype: np.dtype
    ) -> Array:
        """Log-probability of every option, ``shape + (N,)``."""

        def full(x: RealLike) -> Array:
            return jnp.broadcast_to(jnp.asarray(x, dtype=dtype), shape)

        x = jnp.stack([full(params[f"v{k}"]) for k in range(self.n_options)], axis=-1)
        log_p = _log_softmax(x, full(params["beta"]))
        if self.lapse:
            log_p = _lapse(log_p, full(params["epsilon"]))
        return log_p

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        **params: RealLike,
    ) -> Float[Array, "..."]:
        self._check_names(params)
        # rt only sets the shape (and, as for every decision model, may set the dtype);
        # its values are never read.
        dtype = _float_dtype(rt, *params.values())
        shape = jnp.broadcast_shapes(jnp.shape(rt), jnp.shape(choice), *map(jnp.shape, params.values()))
        choice = jnp.broadcast_to(jnp.asarray(choice), shape)
        return _chosen(self._log_probs(params, shape, dtype), choice)

    def sample(
        self,
        key: PRNGKeyArray,
        **params: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        self._check_names(params)
        dtype = _float_dtype(*params.values())
        shape = jnp.broadcast_shapes(*map(jnp.shape, params.values()))
        choice = _draw(key, self._log_probs(params, shape, dtype))
        return jnp.full(shape, jnp.nan, dtype=dtype), choice
