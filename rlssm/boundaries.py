"""Boundary shapes of a two-boundary diffusion: the half-width ``b(s)`` as a function of
decision time.

The conventions are ssm-simulators' and HSSM's: the bounds sit at ``+b(s)`` and
``-b(s)``, the process starts at ``b(0) (2z - 1)`` and has unit noise. A boundary is
a component like a learning rule or a mapping: it declares its own parameters in
``params`` (and where they are defined in ``domains``) and maps time to the
half-width; [`Diffusion`][rlssm.decision.Diffusion] adds ``v``, ``a``, ``z`` and ``t``
and computes the exact first-passage density for any shape.
"""


import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ._spec import ParamDecl, bounds_of, split_decl
from ._types import Array, Bounds, Float, RealLike

if TYPE_CHECKING:
    # equinox's documented workaround: pyright must see a plain ClassVar, otherwise it
    # treats these class attributes as dataclass fields (pyright issue #4965).
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar

__all__ = ["AbstractBoundary", "Constant", "GeneralizedLogistic", "Linear", "Weibull"]


class AbstractBoundary(eqx.Module):
    """The half-width ``b(s) > 0`` of a pair of symmetric boundaries ``+-b(s)``.

    A subclass declares its own parameters (``a``, the half-width at ``s = 0`` in
    ssm-simulators' convention, belongs to the decision model and is passed to every
    boundary) and implements `__call__`.
    Its slope ``b'(s)``, which the first-passage solver needs, is derived by
    forward-mode autodiff (`value_and_slope`): write ``b`` once, smooth in ``s`` and
    in the parameters for ``s > 0``.

    Attributes
    ----------
    params
        ``name -> (lower, upper)`` or ``(lower, upper, default)`` of the boundary's own
        parameters (not ``a``), in the order they are listed to users and HSSM
        (ssm-simulators' names and bounds where a model exists there).
    domains
        ``name -> interval`` where the shape is defined, as a string (``"(0, inf)"``;
        default none): wider than the ``params`` bounds, which are prior ranges.

    Examples
    --------
    A hyperbolic collapse, ``b(s) = a / (1 + s / k)``:

    ```python
    class Hyperbolic(rlssm.boundaries.AbstractBoundary):
        params = {"k": (0.1, 5.0)}
        domains = {"k": "(0, inf)"}

        def __call__(self, s, a, k):
            return a / (1 + s / k)
    ```
    """

    params: AbstractClassVar[Mapping[str, ParamDecl]]
    domains: ClassVar[Mapping[str, str]] = {}

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the boundary's own parameters, in declaration order."""
        return tuple(self.params)

    @property
    def bounds(self) -> dict[str, Bounds]:
        """Default ``(lower, upper)`` of every own parameter."""
        return bounds_of(self.params)

    @property
    def defaults(self) -> dict[str, float]:
        """A default value of every own parameter (declared, else mid-bound)."""
        return {n: split_decl(n, d)[1] for n, d in self.params.items()}

    @abc.abstractmethod
    def __call__(self, s: RealLike, a: RealLike, **params: RealLike) -> Float[Array, "..."]:
        """The half-width of the bounds at decision time ``s``.

        Parameters
        ----------
        s
            Decision time in seconds (``s >= 0``), any shape.
        a
            The decision model's ``a``: the half-width at ``s = 0`` for the built-in
            shapes. Broadcasts against ``s``.
        **params
            One keyword per name in `params`; broadcast against ``s``.

        Returns
        -------
        Array
            ``b(s)``, broadcast shape, the dtype of ``s``. It must be positive where the
            process is meant to run and finite with finite derivatives (in ``s`` and
            every parameter) for every ``s >= 0``, ``s = 0`` included (write powers of
            ``s`` so that ``s = 0`` is not differentiated through, as `Weibull` does).
            A shape that closes may return 0 from the closing time on (as `Linear`
            does); the density is 0 from there.
        """

    def value_and_slope(
        self, s: RealLike, a: RealLike, **params: RealLike
    ) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
        """``b(s)`` and ``b'(s)``, the slope by forward-mode autodiff (``jax.jvp``)."""
        s = jnp.asarray(s)
        shape = jnp.broadcast_shapes(s.shape, *(jnp.shape(x) for x in (a, *params.values())))
        s = jnp.broadcast_to(s, shape)
        return jax.jvp(lambda x: self(x, a, **params), (s,), (jnp.ones_like(s),))


def _power(x: Array, p: Array) -> Array:
    """``x ** p`` for ``x >= 0`` and ``p > 0``, 0 at ``x = 0`` with finite derivatives
    (``0 ** p`` differentiated in ``p`` is ``log 0 * 0``, NaN)."""
    positive = x > 0
    safe = jnp.where(positive, x, jnp.ones_like(x))
    return jnp.where(positive, jnp.exp(p * jnp.log(safe)), jnp.zeros_like(x))


class Constant(AbstractBoundary):
    """Constant bounds, ``b(s) = a``: the drift diffusion model (ssm-simulators'
    ``constant``; HSSM's ``ddm``)."""

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType({})

    def __call__(self, s: RealLike, a: RealLike) -> Float[Array, "..."]:
        return jnp.broadcast_to(a, jnp.broadcast_shapes(jnp.shape(s), jnp.shape(a))).astype(jnp.result_type(s))


class Linear(AbstractBoundary):
    """Linear collapse, ``b(s) = max(a - s tan(theta), 0)`` (ssm-simulators' ``angle``).

    ``theta > 0`` closes the bounds at ``s = a / tan(theta)`` (the density is 0 from
    there, as in ssm-simulators, whose walker stops when the bounds cross);
    ``theta < 0`` opens them.
    """

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType({"theta": (-0.1, 1.3)})
    # tan(theta) finite.
    domains: ClassVar[Mapping[str, str]] = MappingProxyType({"theta": "(-1.5707963, 1.5707963)"})

    def __call__(
        self, s: RealLike, a: RealLike, theta: RealLike
    ) -> Float[Array, "..."]:
        return jnp.maximum(a - s * jnp.tan(theta), 0.0)


class Weibull(AbstractBoundary):
    """Weibull collapse, ``b(s) = a exp(-(s / beta) ** alpha)`` (ssm-simulators'
    ``weibull_cdf``, HSSM's ``weibull``; their bounds for ``alpha`` and ``beta``).

    ``alpha < 1`` collapses fastest at the start (infinite slope at ``s = 0``),
    ``alpha > 1`` holds the bounds near ``a`` until about ``beta`` and then closes them.
    """

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType(
        {"alpha": (0.31, 4.99), "beta": (0.31, 6.99)}
    )
    domains: ClassVar[Mapping[str, str]] = MappingProxyType({"alpha": "(0, inf)", "beta": "(0, inf)"})

    def __call__(
        self, s: RealLike, a: RealLike, alpha: RealLike, beta: RealLike
    ) -> Float[Array, "..."]:
        ratio = jnp.asarray(s) / jnp.asarray(beta)
        return jnp.asarray(a) * jnp.exp(-_power(ratio, jnp.asarray(alpha)))


class GeneralizedLogistic(AbstractBoundary):
    """A collapse along a generalized logistic (Richards) curve.

    ``b(s) = a [1 - d (R(s) - R(0)) / (1 - R(0))]`` with
    ``R(s) = (1 + nu exp(-k (s - m))) ** (-1 / nu)``: the bounds start at ``a`` and
    close towards ``a (1 - d)``, fastest around ``s = m`` at rate ``k``; ``nu``
    shifts the steepest point towards the start (``nu > 1``) or the end (``nu < 1``)
    of the collapse, ``nu = 1`` being the logistic. With ``d < 1`` the bounds never
    meet; ``m >= 0`` keeps ``R(0)`` away from 1. (ssm-simulators' ``generalized_logistic`` adds a logistic offset to ``a``
    instead, so that its ``b(0)`` is not ``a``; this parameterisation keeps ``a`` the
    starting half-width, as in the other shapes.)
    """

    params: ClassVar[Mapping[str, ParamDecl]] = MappingProxyType(
        {"d": (0.0, 0.9), "k": (0.5, 10.0), "m": (0.0, 3.0), "nu": (0.2, 5.0, 1.0)}
    )
    domains: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"d": "[0, 1)", "k": "(0, inf)", "m": "[0, inf)", "nu": "(0, inf)"}
    )

    def __call__(
        self,
        s: RealLike,
        a: RealLike,
        d: RealLike,
        k: RealLike,
        m: RealLike,
        nu: RealLike,
    ) -> Float[Array, "..."]:
        def richards(x: Array) -> Array:
            # (1 + nu e^{-k(x - m)})^(-1/nu) in logs: e^{-k(x-m)} may overflow for x << m.
            return jnp.exp(-jnp.logaddexp(0.0, jnp.log(nu) - k * (x - m)) / nu)

        s = jnp.asarray(s)
        r0 = richards(jnp.zeros_like(s))
        return jnp.asarray(a) * (1 - jnp.asarray(d) * (richards(s) - r0) / (1 - r0))

