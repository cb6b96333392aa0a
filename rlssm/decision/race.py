"""Race models of N options: the racing diffusion model (RDM) and the linear ballistic
accumulator (LBA).

One accumulator per option, all starting at the same time and racing to a common
threshold; the first to arrive gives the response, its arrival time plus the
non-decision time ``t`` the response time. With per-accumulator densities ``f_k`` and
distribution functions ``F_k`` of the decision time ``s = rt - t``, the density of
(``rt``, option ``k``) is ``f_k(s) prod_{j != k} (1 - F_j(s))``; the accumulator
helpers are in [`rlssm.decision.accumulators`][rlssm.decision.accumulators].
"""

import abc
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .._spec import ParamDecl
from .._types import Array, Float, Int, PRNGKeyArray, RealLike
from .accumulators import (
    LOGP_FLOOR,
    broadcast_with_choice,
    check_n_options,
    check_names,
    lba_first_passage,
    lba_survival,
    log_window_density,
    race_outcome,
    saturated,
    stack_inputs,
    stage,
    wald_first_passage,
    wald_survival,
    winner_and_losers,
    winner_mask,
)
from .base import AbstractDecisionModel

if TYPE_CHECKING:
    # equinox's documented workaround (see `rlssm.decision.base`).
    from typing import ClassVar as AbstractClassVar
else:
    from equinox import AbstractClassVar

__all__ = ["LBA", "LOGP_FLOOR", "RDM", "AbstractRace"]


# Jitted at module level so that eager calls compile once per shape and dtype.
@jax.jit
def _race_logp(rt: Array, won: Array, v: Array, A: Array, B: Array, t: Array, sd: Array | None) -> Array:
    """`RDM.logp` (``sd`` None: Wald accumulators) and `LBA.logp` (drift sd ``sd``) on
    broadcast arrays (``v``, ``won``: ``(N,) + shape``).

    The winner's density times the losers' survival functions, each evaluated alone
    (not both functions for every option, which would double the cost).
    """
    # (Materialised, and so are their cotangents: XLA would otherwise fuse the whole
    # gradient into each option's slice of it.)
    rt, v, A, B, t = stage(rt, v, A, B, t)
    if sd is not None:
        (sd,) = stage(sd)
    s = rt - t
    positive = s > 0
    s_pos = jnp.where(positive, s, 1.0)
    # The density is below exp(-700) where the winner's density is (its window lies more
    # than Z_NEGLIGIBLE standard deviations, sqrt(s) for Wald, sd s for LBA, from the
    # threshold: early, or at extreme drifts long past) or a loser has surely finished:
    # the floor, without the formulas (whose gradients overflow as rt -> t, and whose
    # values overflow at extreme drifts or drift sds). A loser that surely has not
    # finished survives with probability 1.
    if sd is not None:
        # A drift sd whose product with s underflows is the sd -> 0 limit, to which the
        # likelihood is continuous: kept at a small normal product (a few times the
        # smallest, so that rounding cannot make it subnormal, which flushes to 0).
        sd = jnp.maximum(sd, jax.lax.stop_gradient(4.0 * jnp.finfo(sd.dtype).tiny / s_pos))
    spread = jnp.sqrt(s_pos) if sd is None else sd * s_pos
    sat = saturated(v, s_pos, B, A, spread, wald=sd is None)
    live = (
        positive
        & jnp.any(won, axis=0)
        & ~jnp.any(won & sat.density_negligible, axis=0)
        & ~jnp.any(~won & sat.finished, axis=0)
    )
    s_live = jnp.where(live, s, 1.0)
    # Inputs the formulas can take where their result is not used (a drift of 0 at
    # s = 1): no overflow there, in the value or the gradient.
    quiet = ~live | sat.waiting
    v_win, v_lose = winner_and_losers(won, jnp.where(quiet, jnp.zeros((), v.dtype), v))
    _, lose_waiting = winner_and_losers(won, sat.waiting.astype(v.dtype))
    # Per-loser copies, materialised: the gradients of the shared inputs are then sums
    # of materialised per-loser cotangents, not one fused copy of the whole backward
    # pass per input.
    if sd is None:
        log_f = log_window_density(v_win, 1.0 / jnp.sqrt(s_live), s_live, B, A)
        s_all, B_all, A_all = stage(*(jnp.broadcast_to(x, v_lose.shape) for x in (s_live, B, A)))
        log_surv = wald_survival(v_lose, s_all, B_all, A_all)
    else:
        log_f = log_window_density(v_win, sd, s_live, B, A)
        s_all, sd_all, B_all, A_all = stage(*(jnp.broadcast_to(x, v_lose.shape) for x in (s_live, sd, B, A)))
        log_surv = lba_survival(v_lose, sd_all, s_all, B_all, A_all)
    log_surv = jnp.where(lose_waiting > 0, jnp.zeros((), log_surv.dtype), log_surv)
    total = log_f + jnp.sum(log_surv, axis=0)
    floor = jnp.asarray(LOGP_FLOOR, dtype=total.dtype)
    return jnp.where(live, jnp.logaddexp(total, floor), floor)


@jax.jit
def _rdm_draw(key: PRNGKeyArray, v: Array, A: Array, B: Array, t: Array) -> tuple[Array, Array]:
    """`RDM.sample` on broadcast arrays (``v``: ``(N,) + shape``)."""
    times = wald_first_passage(key, v, jnp.broadcast_to(B, v.shape), jnp.broadcast_to(A, v.shape))
    return race_outcome(times, t)


@jax.jit
def _lba_draw(
    key: PRNGKeyArray, v: Array, A: Array, B: Array, t: Array, sd: Array
) -> tuple[Array, Array]:
    """`LBA.sample` on broadcast arrays (``v``: ``(N,) + shape``)."""
    full = (jnp.broadcast_to(x, v.shape) for x in (sd, B, A))
    times = lba_first_passage(key, v, *full)
    return race_outcome(times, t)


class AbstractRace(AbstractDecisionModel):
    """A race of accumulators over ``N`` options, coded ``0 .. N-1``, whose inputs are
    the per-option ``v0 .. v{N-1}`` followed by the parameters `race_params`.

    `logp` and `sample` check the parameter names, stack the per-option inputs on a
    leading axis, broadcast everything (against ``choice`` too) and call
    `race_logp` / `race_draw` on the arrays. A final subclass holds the field
    ``n_options`` (with its ``__init__``), declares ``params``, ``race_params`` and
    ``domains``, and implements those two methods (usually by calling a function
    jitted at module level, so that eager calls compile once per shape and dtype).
    """

    race_params: AbstractClassVar[tuple[str, ...]]

    def __check_init__(self) -> None:
        check_n_options(type(self).__name__, self.n_options)

    @property
    def choices(self) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(range(self.n_options))

    @abc.abstractmethod
    def race_logp(self, rt: Array, won: Array, v: Array, *rest: Array) -> Array:
        """`logp` on broadcast arrays.

        Parameters
        ----------
        rt
            Response times, ``shape``.
        won
            ``(N,) + shape`` mask of the chosen option (all False for a response
            outside ``0 .. N-1``).
        v
            The per-option inputs stacked, ``(N,) + shape``.
        *rest
            The parameters `race_params`, in that order, each ``shape``.
        """

    @abc.abstractmethod
    def race_draw(self, key: PRNGKeyArray, v: Array, *rest: Array) -> tuple[Array, Array]:
        """`sample` on arrays: ``v`` the per-option inputs stacked, ``(N,) + shape``,
        ``rest`` the parameters `race_params` broadcast to ``shape``; returns ``(rt,
        choice)``."""

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        **params: RealLike,
    ) -> Float[Array, "..."]:
        check_names(self, self.param_names, params)
        v, rest, (rt,) = stack_inputs(self.n_options, params, self.race_params, rt)
        v, *rest, rt = broadcast_with_choice(v, (*rest, rt), choice)
        return self.race_logp(rt, winner_mask(choice, self.n_options, rt), v, *rest)

    def sample(
        self,
        key: PRNGKeyArray,
        **params: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        check_names(self, self.param_names, params)
        v, rest, _ = stack_inputs(self.n_options, params, self.race_params)
        return self.race_draw(key, v, *rest)


class RDM(AbstractRace):
    """The racing diffusion model of ``N`` options (Tillman, Van Zandt & Logan, 2020).

    One Wald (diffusion) accumulator per option: evidence starts uniformly on
    ``(0, A)``, grows as ``x(s) = x0 + v_k s + W(s)`` (unit noise, drift ``v_k`` for
    option ``k``) and finishes on reaching the threshold ``A + B``; the first to finish
    is the response ``k`` (coded ``0 .. N-1``), at ``rt = t + s``. The threshold is
    parameterised as in EMC2, by its distance ``B > 0`` above the highest start, so that
    every ``A >= 0`` and ``B > 0`` is valid. Given the distance ``d`` (uniform on
    ``(B, B + A)``) an accumulator finishes at an inverse Gaussian time,

        f(s | d) = d / sqrt(2 pi s^3) exp(-(d - v s)^2 / (2 s))
        F(s | d) = Phi((v s - d) / sqrt s) + exp(2 v d) Phi(-(v s + d) / sqrt s)

    and the density of ``(rt, k)`` is ``f_k(s) prod_{j != k} (1 - F_j(s))``, with
    ``f_k``, ``F_k`` the averages over ``d``, which have closed forms (Tillman et al.,
    2020). ``A = 0`` is the race of fixed-start Wald accumulators (Logan, Van Zandt,
    Verbruggen & Wagenmakers, 2014). This is HSSM's ``racing_diffusion_3``
    (``logp_rdm3``, whose ``b`` is ``A + B``) for ``N = 3``, and ssm-simulators'
    ``racing_diffusion_3`` (the test suite checks the likelihood against HSSM's).

    **Drifts.** Any real ``v_k``: an accumulator with ``v_k < 0`` finishes only with
    probability ``E[exp(2 v_k d)] < 1`` (its density is defective), so with every drift
    negative some trials never end; ``v_k = 0`` finishes surely, at a heavy-tailed
    (Levy) time.

    **Likelihood.** Exact, in logs: the averages over the start have closed forms,
    evaluated with the cancellations of the textbook formulas removed: Taylor series
    about the start window's midpoint where ``A`` is small against ``sqrt(s)``, so that
    ``A -> 0`` is continuous (and differentiable) into the Wald race; the ``1 / v``
    terms of the closed-form survival function replaced by their series in ``v`` near
    ``v = 0``; normal tails differenced on their small side. In float64 it is within about 1e-12 (relative) of 500-digit arithmetic
    over drifts -20..20, decision times 1e-4..100 s, ``A`` 0..3, ``B`` 0.01..3 (the
    inherent loss, about ``log10(v s / d)`` digits in the far right tail, aside).
    `logp` returns ``log(p + exp(LOGP_FLOOR))`` (``LOGP_FLOOR = -66.1``): exactly the
    floor where ``rt <= t``, where ``choice`` is not one of ``0 .. N-1``, and where the
    winner's density is below about ``exp(-700)`` or a loser has surely finished (at
    extreme drifts, e.g. ``1e8`` in float32, every accumulator has finished long before
    any observed rt); value and gradients are finite and continuous inside the domains.

    **Sampler.** Exact: per accumulator a start ``U(0, A)`` and an inverse Gaussian
    finishing time (Michael, Schucany & Haas, 1976), reached with probability
    ``exp(2 v d)`` where ``v < 0``; the winner is the first to finish. There is no time
    step and no horizon; a trial on which no accumulator finishes (possible only with
    negative drifts) returns ``rt = inf`` and ``choice = 0``.

    Parameters
    ----------
    n_options
        Number of options ``N`` (at least 2); responses are coded ``0 .. N-1``.

    Notes
    -----
    Parameters, in order: ``v0 .. v{N-1}`` in (0, 2.5) (default 1), ``A`` in (0, 1)
    (default 0.5), ``B`` in (0.1, 3) (default 1) and ``t`` in (0, 2) (default 0.3):
    ssm-simulators' ranges for ``racing_diffusion_3`` (its ``b = A + B`` in (0.5, 3)),
    ``B`` from HSSM's lower bound 0.1 on ``b``. Domains: ``A`` in [0, inf), ``B`` in
    (0, inf), ``t`` in [0, inf); drifts any real.

    References
    ----------
    Tillman, G., Van Zandt, T., & Logan, G. D. (2020). Sequential sampling models
    without random between-trial variability: the racing diffusion model of speeded
    decision making. *Psychonomic Bulletin & Review*, 27, 911-936.

    Logan, G. D., Van Zandt, T., Verbruggen, F., & Wagenmakers, E.-J. (2014). On the
    ability to inhibit thought and action: general and special theories of an act of
    control. *Psychological Review*, 121, 66-95.

    Michael, J. R., Schucany, W. R., & Haas, R. W. (1976). Generating random variates
    using transformations with multiple roots. *The American Statistician*, 30, 88-90.
    """

    # A field named like the base's `n_options` property (see `Softmax`): `__init__`
    # makes the argument required; the default is never used.
    n_options: int = eqx.field(static=True, default=2)

    domains: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)"}
    )

    race_params: ClassVar[tuple[str, ...]] = ("A", "B", "t")

    def __init__(self, n_options: int):
        self.n_options = n_options

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        decls: dict[str, ParamDecl] = {f"v{k}": (0.0, 2.5, 1.0) for k in range(self.n_options)}
        decls |= {"A": (0.0, 1.0, 0.5), "B": (0.1, 3.0, 1.0), "t": (0.0, 2.0, 0.3)}
        return MappingProxyType(decls)

    def race_logp(self, rt: Array, won: Array, v: Array, *rest: Array) -> Array:
        A, B, t = rest
        return _race_logp(rt, won, v, A, B, t, None)

    def race_draw(self, key: PRNGKeyArray, v: Array, *rest: Array) -> tuple[Array, Array]:
        return _rdm_draw(key, v, *rest)


class LBA(AbstractRace):
    """The linear ballistic accumulator model of ``N`` options (Brown & Heathcote, 2008).

    One accumulator per option: evidence starts uniformly on ``(0, A)`` and grows
    linearly at a drift drawn once per trial, ``D_k ~ N(v_k, s^2)``, to the threshold
    ``A + B`` (EMC2's parameterisation: every ``A >= 0``, ``B > 0`` is valid); the
    first to arrive is the response ``k`` (coded ``0 .. N-1``) at ``rt = t + time``.
    An accumulator whose drift is negative never arrives. With ``z = (d - v s) / (s_d
    s)`` (``s`` the decision time, ``s_d`` the drift sd, ``d`` the distance travelled),
    the finishing time's density and distribution function averaged over the start are
    (Brown & Heathcote, 2008)

        f(s) = (1 / A) [v (Phi(z1) - Phi(z0)) + s_d (phi(z0) - phi(z1))]
        F(s) = 1 - (s_d s / A) [J(z1) - J(z0)],   J(z) = z Phi(z) + phi(z)

    (``z0``, ``z1`` at ``d = B``, ``B + A``) and the density of ``(rt, k)`` is
    ``f_k(s) prod_{j != k} (1 - F_j(s))``: the standard, *defective* density. It
    integrates to ``1 - prod_k Phi(-v_k / s)``, the probability that some drift is
    positive, and is not renormalised by it (HSSM's ``logp_lba2/3/4`` divide by it, and
    fix ``s = 0.1`` and ``t = 0``).

    The drift sd ``s`` is a parameter; one scale of the model must be fixed for it to be
    identified, usually ``s = 1``: use ``rlssm.Fixed(LBA(n_options=N), s=1.0)``.

    **Likelihood.** Exact, in logs, with the cancellations of the textbook formulas
    removed: a Taylor series about the window's midpoint where ``A`` is small against
    ``s_d s`` (continuous into the ``A = 0`` limit, ``f = B / (s_d s^2) phi(z)``,
    ``F = Phi(-z)``), normal tails differenced on their small side, ``1 - F`` taken from
    ``J(-z)`` where it is near 1. In float64 within about 1e-12 (relative) of 500-digit
    arithmetic (drifts -20..20, ``s_d`` 0.05..5, decision times 1e-4..100 s, ``A``
    0..3, ``B`` 0.01..3), except for the inherent loss of about ``log10(v s / d)``
    digits in the density's far right tail. `logp` returns ``log(p +
    exp(LOGP_FLOOR))``: exactly the floor where ``rt <= t``, where ``choice`` is not
    one of ``0 .. N-1``, and where the winner's density is below about ``exp(-700)`` or a
    loser has surely finished; values are finite inside the domains, at extreme drifts
    too, and tend to the race of fixed drifts as ``s -> 0`` (``s = 1e-300`` in float64
    included); gradients are finite unless the standardised distance, about
    ``(A + B) / (s (rt - t))``, exceeds the square root of the float type's largest
    number (about 1e19 in float32, 1e154 in float64: ``s`` below about 1e-18 or
    1e-150).

    **Sampler.** Exact: starts ``U(0, A)``, drifts ``N(v_k, s^2)``, times
    ``(A + B - start) / drift`` for positive drifts; a trial on which no drift is
    positive returns ``rt = inf`` and ``choice = 0``.

    Parameters
    ----------
    n_options
        Number of options ``N`` (at least 2); responses are coded ``0 .. N-1``.

    Notes
    -----
    Parameters, in order: ``v0 .. v{N-1}`` in (0, 5) (default 1), ``A`` in (0, 1)
    (default 0.3), ``B`` in (0.05, 2) (default 0.5), ``t`` in (0, 2) (default 0.3),
    ``s`` in (0, 5) (default 1). ``A`` follows ssm-simulators' ``lba2`` (in (0, 1),
    default 0.3); its drift range (0, 1) is for HSSM's ``s = 0.1``, so the drifts'
    range here is scaled for the default ``s = 1``. Domains: ``A`` in [0, inf), ``B`` and ``s`` in (0, inf), ``t`` in
    [0, inf); drifts any real.

    References
    ----------
    Brown, S. D., & Heathcote, A. (2008). The simplest complete model of choice response
    time: linear ballistic accumulation. *Cognitive Psychology*, 57, 153-178.
    """

    n_options: int = eqx.field(static=True, default=2)

    domains: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)", "s": "(0, inf)"}
    )

    race_params: ClassVar[tuple[str, ...]] = ("A", "B", "t", "s")

    def __init__(self, n_options: int):
        self.n_options = n_options

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        decls: dict[str, ParamDecl] = {f"v{k}": (0.0, 5.0, 1.0) for k in range(self.n_options)}
        decls |= {
            "A": (0.0, 1.0, 0.3),
            "B": (0.05, 2.0, 0.5),
            "t": (0.0, 2.0, 0.3),
            "s": (0.0, 5.0, 1.0),
        }
        return MappingProxyType(decls)

    def race_logp(self, rt: Array, won: Array, v: Array, *rest: Array) -> Array:
        A, B, t, sd = rest
        return _race_logp(rt, won, v, A, B, t, sd)

    def race_draw(self, key: PRNGKeyArray, v: Array, *rest: Array) -> tuple[Array, Array]:
        return _lba_draw(key, v, *rest)
