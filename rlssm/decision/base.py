"""The abstract decision model: likelihood and sampler of (rt, choice)."""

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import equinox as eqx
import numpy as np

from .._spec import ParamDecl, bounds_of, split_decl
from .._types import Array, Bounds, Float, Int, PRNGKeyArray, RealLike

if TYPE_CHECKING:
    # equinox's documented workaround: pyright must see a plain ClassVar, otherwise it
    # treats these class attributes as dataclass fields (pyright issue #4965).
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar


class AbstractDecisionModel(eqx.Module):
    """A sequential sampling model of one decision: density and sampler of (rt, choice).

    Subclasses declare their parameters (each once, with its bounds) and response
    coding as class attributes and implement [`logp`][rlssm.AbstractDecisionModel.logp] and
    [`sample`][rlssm.AbstractDecisionModel.sample]. Both broadcast over their
    arguments, so the composer calls them once for all trials of all participants.

    Attributes
    ----------
    params
        ``name -> (lower, upper)`` or ``(lower, upper, default)`` of every parameter,
        in the order they are listed to users and HSSM, as learning rules and mappings
        declare theirs (ssm-simulators' bounds where a model exists there).
        `param_names` and `bounds` are derived from it.
    domains
        ``name -> interval`` where the process or formula is defined, as a string:
        ``"(0, inf)"``, ``"[0, 1]"``, ``"(-1.5707963, 1.5707963)"`` (default none).
        Wider than the ``params`` bounds, which are default prior ranges:
        ``RLSSM.loglik``, ``RLSSM.values`` and the simulators refuse values outside
        it (computed ones included, naming the mapping), and ``RLSSM(bounds=...)``
        bounds that reach beyond it. A parameter not listed may take any finite real.
    choices
        The model's own response coding, in option order: option ``k`` is
        ``choices[k]``. Two-boundary models use ``(-1, 1)``, ``+1`` being the upper
        boundary; N-option models use ``0 .. N-1``.
    choice_only
        True for a model of the choice alone (e.g. [`Softmax`][rlssm.Softmax]): its
        ``logp`` ignores ``rt``, its ``sample`` returns NaN response times, and data
        for it need no ``rt`` column (a NaN rt is then not a missed trial; a NaN
        response is). Default False.
    """

    params: AbstractClassVar[Mapping[str, ParamDecl]]
    choices: AbstractClassVar[tuple[int, ...]]
    choice_only: ClassVar[bool] = False
    domains: ClassVar[Mapping[str, str]] = {}

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the parameters, in declaration order."""
        return tuple(self.params)

    @property
    def bounds(self) -> dict[str, Bounds]:
        """Default ``(lower, upper)`` of every parameter."""
        return bounds_of(self.params)

    @property
    def defaults(self) -> dict[str, float]:
        """A default value of every parameter (declared, else mid-bound)."""
        return {n: split_decl(n, d)[1] for n, d in self.params.items()}

    @abc.abstractmethod
    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        **params: RealLike,
    ) -> Float[Array, "..."]:
        """Log-density of response time ``rt`` and response ``choice``.

        Parameters
        ----------
        rt
            Response time in seconds (non-decision time included).
        choice
            Response in the model's coding (a value of ``self.choices``).
        **params
            One keyword per name in ``self.param_names``; arrays broadcast against
            ``rt`` and ``choice``.

        Returns
        -------
        Array
            The log-density, broadcast shape of all arguments, in their float dtype.
            It is finite (a documented floor where the density is 0, e.g. ``rt <= t``)
            and differentiable everywhere inside ``bounds``, so that it can be used in
            gradient-based samplers.
        """

    @abc.abstractmethod
    def sample(
        self,
        key: PRNGKeyArray,
        **params: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        """Draw one (rt, choice) per element of the broadcast parameters.

        Parameters
        ----------
        key
            A JAX PRNG key.
        **params
            One keyword per name in ``self.param_names``; arrays broadcast together.

        Returns
        -------
        tuple
            ``(rt, choice)``: response times in seconds and responses in the model's
            coding (values of ``self.choices``), both of the broadcast shape. A process
            that never reaches a boundary within the sampler's horizon reports
            ``rt = inf`` and ``choice = 0``; the sampler's documentation states that
            horizon.
        """

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Inspect decision parameters before they are used (outside jit).

        The composer calls this with the trial-wise decision parameters it is about to
        evaluate (numpy arrays, one entry per trial). The default accepts everything;
        approximate likelihoods override it to warn when parameters leave the region
        they are valid in (see `rlssm.AngleLAN`).
        """
        del params

    @property
    def has_range_check(self) -> bool:
        """True for a model whose `check_params` checks something (a LAN's training
        box): only then do fits run the range checks of `rlssm.hssm_bridge.range_check`.
        Default False."""
        return False

    @property
    def has_lapse(self) -> bool:
        """True for a model that mixes in a lapse process ([`Lapse`][rlssm.Lapse]): its
        density is positive at every response time, so fits do not hold ``t`` below each
        participant's fastest response. Default False."""
        return False

    @property
    def lapse_rt(self) -> Any:
        """The lapse response-time density ([`AbstractLapseRT`][rlssm.decision.lapse.AbstractLapseRT])
        of a model with a lapse mixture, else None."""
        return None

    def without_lapse(self) -> "AbstractDecisionModel":
        """This model without its lapse mixture (itself when it has none): what HSSM is
        given when it mixes the lapses in (see `RLSSM.to_hssm`)."""
        return self

    @property
    def n_options(self) -> int:
        """Number of response options (``len(self.choices)``)."""
        return len(self.choices)


class AbstractWrappedDecisionModel(AbstractDecisionModel):
    """A decision model that wraps another and changes some of what it does (diffrax's
    ``AbstractWrappedSolver``): [`Fixed`][rlssm.Fixed] holds parameters,
    [`Lapse`][rlssm.Lapse] mixes lapses in.

    The response coding, choice-only flag and lapse mixture are the wrapped model's
    unless a subclass changes them; subclasses declare the field ``model`` and implement
    ``params``, ``logp`` and ``sample``.
    """

    model: eqx.AbstractVar[AbstractDecisionModel]

    @property
    def choices(self) -> tuple[int, ...]:  # type: ignore[override]
        return self.model.choices

    @property
    def choice_only(self) -> bool:  # type: ignore[override]
        return self.model.choice_only

    @property
    def has_range_check(self) -> bool:
        return self.model.has_range_check

    @property
    def has_lapse(self) -> bool:
        return self.model.has_lapse

    @property
    def lapse_rt(self) -> Any:
        return self.model.lapse_rt
