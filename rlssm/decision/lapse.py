"""A decision model mixed with a lapse (contaminant) process.

Real recordings hold responses that the decision process did not produce: fast guesses,
lapses of attention, slow outliers. [`Lapse`][rlssm.Lapse] wraps any decision model and
mixes such responses in with probability ``p_outlier``: on a lapse trial the response
time comes from a lapse density (uniform on ``[0, 20]`` s by default, HSSM's) and the
option is chosen at random, so that the mixture is a proper density over
(response time, option):

``p(rt, k) = (1 - p_outlier) * f(rt, k) + p_outlier * g(rt) / N``

with ``f`` the wrapped model's density, ``g`` the lapse density of the response time and
``N`` the number of options. A choice-only model mixes ``P(k)`` with ``1 / N``.
HSSM's own mixture, ``(1 - p) * f(rt, k) + p * g(rt)``, has no ``1 / N``: it is not a
density over (rt, option) (it integrates to ``1 + (N - 1) p``), and its lapse probability
is therefore not that of rlssm; `RLSSM.to_hssm` gives HSSM exactly rlssm's mixture.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .base import AbstractDecisionModel, AbstractWrappedDecisionModel

__all__ = ["DEFAULT_LAPSE_RT", "LAPSE_PARAM", "AbstractLapseRT", "Lapse", "MixtureRT", "UniformRT"]

LAPSE_PARAM = "p_outlier"
"""The lapse probability's name (HSSM's)."""

DEFAULT_LAPSE_RT: tuple[float, float] = (0.0, 20.0)
"""Seconds: the default lapse density is uniform on this interval (HSSM's ``Uniform(0, 20)``)."""

LAPSE_DECL: ParamDecl = (0.0, 0.2, 0.05)
"""Default bounds and value of ``p_outlier``. Lapse rates of attentive participants are a
few percent; the default prior of a fit (a normal truncated to the bounds, centred
mid-bound) then puts its mass on ``(0, 0.2)``. A wider range is one override away:
``RLSSM(..., bounds={"p_outlier": (0.0, 0.5)})`` (the domain is ``[0, 1]``)."""


class AbstractLapseRT(eqx.Module):
    """The response-time density of lapse trials.

    Subclasses implement [`logpdf`][rlssm.decision.lapse.AbstractLapseRT.logpdf] and
    [`sample`][rlssm.decision.lapse.AbstractLapseRT.sample]; settings are fields.
    """

    @abc.abstractmethod
    def logpdf(self, rt: Float[Array, "..."]) -> Float[Array, "..."]:
        """Log-density of the response time ``rt`` (seconds) of a lapse, ``-inf`` outside
        its support; same shape and dtype as ``rt``."""

    @abc.abstractmethod
    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...], dtype: Any) -> Float[Array, "..."]:
        """Draw lapse response times of ``shape`` in ``dtype``."""


class UniformRT(AbstractLapseRT):
    """Lapse response times uniform on ``[lower, upper]`` seconds (HSSM's default lapse
    distribution is ``Uniform(0, 20)``).

    Parameters
    ----------
    lower, upper
        The interval, ``0 <= lower < upper < inf``.
    """

    lower: float = eqx.field(static=True)
    upper: float = eqx.field(static=True)

    def __init__(self, lower: float = DEFAULT_LAPSE_RT[0], upper: float = DEFAULT_LAPSE_RT[1]):
        for name, value in (("lower", lower), ("upper", upper)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"UniformRT: {name} must be a number of seconds, got {value!r}")
        self.lower = float(lower)
        self.upper = float(upper)

    def __check_init__(self) -> None:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper) and 0.0 <= self.lower < self.upper):
            raise ValueError(
                f"UniformRT needs 0 <= lower < upper < inf (seconds), got lower={self.lower!r}, upper={self.upper!r}"
            )

    def logpdf(self, rt: Float[Array, "..."]) -> Float[Array, "..."]:
        inside = (rt >= self.lower) & (rt <= self.upper)
        value = jnp.asarray(-math.log(self.upper - self.lower), dtype=rt.dtype)
        return jnp.where(inside, value, jnp.asarray(-jnp.inf, dtype=rt.dtype))

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...], dtype: Any) -> Float[Array, "..."]:
        return jax.random.uniform(key, shape, dtype=dtype, minval=self.lower, maxval=self.upper)


class MixtureRT(AbstractLapseRT):
    """Lapse response times from a mixture of lapse densities, e.g. fast guesses and slow
    outliers: ``MixtureRT((UniformRT(0.0, 0.3), UniformRT(0.0, 20.0)))``.

    Parameters
    ----------
    components
        The densities, at least two.
    weights
        Their weights, positive (normalised here); default equal.
    """

    components: tuple[AbstractLapseRT, ...]
    weights: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, components: Sequence[AbstractLapseRT], weights: Sequence[float] | None = None):
        self.components = tuple(components)
        w = [1.0] * len(self.components) if weights is None else [float(x) for x in weights]
        total = sum(w)
        self.weights = tuple(x / total for x in w) if math.isfinite(total) and total > 0 else tuple(w)

    def __check_init__(self) -> None:
        if len(self.components) < 2:
            raise ValueError(f"MixtureRT needs at least two components, got {len(self.components)}")
        bad = [type(c).__name__ for c in self.components if not isinstance(c, AbstractLapseRT)]
        if bad:
            raise TypeError(f"MixtureRT: components must be AbstractLapseRT instances, got {bad}")
        if len(self.weights) != len(self.components) or not all(math.isfinite(w) and w > 0 for w in self.weights):
            raise ValueError(
                f"MixtureRT needs one positive, finite weight per component ({len(self.components)}), "
                f"got {self.weights!r}"
            )

    def logpdf(self, rt: Float[Array, "..."]) -> Float[Array, "..."]:
        parts = jnp.stack([c.logpdf(rt) + jnp.asarray(math.log(w), rt.dtype)
                           for c, w in zip(self.components, self.weights)])
        return jax.nn.logsumexp(parts, axis=0)

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...], dtype: Any) -> Float[Array, "..."]:
        k_which, *keys = jax.random.split(key, len(self.components) + 1)
        which = jax.random.choice(k_which, len(self.components), shape, p=jnp.asarray(self.weights))
        draws = jnp.stack([c.sample(k, shape, dtype) for c, k in zip(self.components, keys)])
        return jnp.take_along_axis(draws, which[None], axis=0)[0]


class Lapse(AbstractWrappedDecisionModel):
    """A decision model mixed with lapses: parameter ``p_outlier`` (a wrapper).

    With probability ``p_outlier`` a trial's response is a lapse: its response time
    comes from ``rt`` (uniform on ``[0, 20]`` s by default) and its option is uniform
    over the model's options; otherwise the wrapped model produced it. The mixture is a
    proper density over (response time, option) (choice-only models: over the option).
    ``p_outlier`` is a parameter like any other (last in ``param_names``): fixed with
    [`Fixed`][rlssm.Fixed], per participant, hierarchical, with formulas. Learning does
    not depend on whether a response was a lapse: the observed choice and feedback update
    the rule on every trial.

    Because the lapse density is positive at every response time (inside its support),
    fits no longer hold ``t`` below each participant's fastest response: a few fast
    guesses no longer decide a participant's non-decision time.

    Parameters
    ----------
    model
        The decision model.
    rt
        The lapse response-time density (default [`UniformRT`][rlssm.decision.lapse.UniformRT]
        ``(0, 20)``); ignored by choice-only models.

    Examples
    --------
    ```python
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Lapse(rlssm.DDM()), choices=(1, 2))
    model.param_names  # ('rl_alpha', 'rl_alpha_neg', 'scaler', 'a', 'z', 't', 'p_outlier')
    fixed = rlssm.Fixed(rlssm.Lapse(rlssm.DDM()), p_outlier=0.05)
    ```
    """

    model: AbstractDecisionModel
    rt: AbstractLapseRT

    def __init__(self, model: AbstractDecisionModel, rt: AbstractLapseRT | None = None):
        if isinstance(model, type) or not isinstance(model, AbstractDecisionModel):
            what = model.__name__ if isinstance(model, type) else type(model).__name__
            raise TypeError(f"Lapse: expected a decision model instance, got {what}")
        rt = UniformRT() if rt is None else rt
        if isinstance(rt, type) or not isinstance(rt, AbstractLapseRT):
            what = rt.__name__ if isinstance(rt, type) else type(rt).__name__
            raise TypeError(f"Lapse: rt must be an instance of rlssm.decision.AbstractLapseRT, got {what}")
        self.model = model
        self.rt = rt

    def __check_init__(self) -> None:
        if self.model.has_lapse:
            raise ValueError("Lapse: the model already mixes in a lapse process; wrap it once")
        if LAPSE_PARAM in self.model.params:
            raise ValueError(f"Lapse: {type(self.model).__name__} already has a parameter {LAPSE_PARAM!r}")

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return MappingProxyType({**self.model.params, LAPSE_PARAM: LAPSE_DECL})

    @property
    def domains(self) -> Mapping[str, str]:  # type: ignore[override]
        return MappingProxyType({**self.model.domains, LAPSE_PARAM: "[0, 1]"})

    @property
    def has_lapse(self) -> bool:
        return True

    def without_lapse(self) -> AbstractDecisionModel:
        return self.model

    @property
    def lapse_rt(self) -> AbstractLapseRT:
        return self.rt

    def lapse_logp(self, rt: RealLike, dtype: Any) -> Float[Array, "..."]:
        """Log-density of a lapse at ``rt`` for one option: ``log g(rt) - log N``
        (``-log N`` for a choice-only model)."""
        log_n = jnp.asarray(math.log(self.n_options), dtype=dtype)
        if self.choice_only:
            return -log_n
        return self.rt.logpdf(jnp.asarray(rt, dtype=dtype)) - log_n

    def logp(self, rt: RealLike, choice: RealLike, **params: RealLike) -> Float[Array, "..."]:
        p = params.pop(LAPSE_PARAM)
        inner = self.model.logp(rt, choice, **params)
        p = jnp.asarray(p, dtype=inner.dtype)
        lapse = self.lapse_logp(rt, inner.dtype)
        # log((1 - p) f + p g / N), stable; the double where keeps the gradient in p
        # finite at p = 0 and p = 1 (fixed values may sit there).
        zero = jnp.zeros((), inner.dtype)
        one = jnp.ones((), inner.dtype)
        safe_p = jnp.where(p > zero, p, one)
        safe_q = jnp.where(p < one, p, zero)
        lapse_term = jnp.where(p > zero, jnp.log(safe_p) + lapse, -jnp.inf)
        model_term = jnp.where(p < one, jnp.log1p(-safe_q) + inner, -jnp.inf)
        return jnp.logaddexp(model_term, lapse_term)

    def sample(self, key: PRNGKeyArray, **params: RealLike) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        p = params.pop(LAPSE_PARAM)
        k_model, k_which, k_rt, k_option = jax.random.split(key, 4)
        rt, choice = self.model.sample(k_model, **params)
        shape = jnp.broadcast_shapes(jnp.shape(rt), jnp.shape(p))
        rt, choice = jnp.broadcast_to(rt, shape), jnp.broadcast_to(choice, shape)
        lapsed = jax.random.uniform(k_which, shape, dtype=rt.dtype) < jnp.asarray(p, dtype=rt.dtype)
        coding = jnp.asarray(self.choices, dtype=choice.dtype)
        lapse_choice = coding[jax.random.randint(k_option, shape, 0, self.n_options)]
        if self.choice_only:
            lapse_rt = jnp.full(shape, jnp.nan, dtype=rt.dtype)
        else:
            lapse_rt = self.rt.sample(k_rt, shape, rt.dtype)
        return jnp.where(lapsed, lapse_rt, rt), jnp.where(lapsed, lapse_choice, choice)

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        self.model.check_params({k: v for k, v in params.items() if k != LAPSE_PARAM})
