"""The advantage racing diffusion model (win-all rule) of N options."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._spec import ParamDecl
from .._types import Array, PRNGKeyArray
from .accumulators import (
    LOGP_FLOOR,
    race_outcome,
    saturated,
    stage,
    wald_first_passage,
    wald_window,
)
from .race import AbstractRace

__all__ = ["AdvantageRDM"]

_REST = ("urgency", "wd", "ws", "A", "B", "t")
# The log-density or log-probability that stands for a negligible one (below exp(-700)).
_NEGLIGIBLE_LOG = -1e4


def _pair_drifts(v: Array, urgency: Array, wd: Array, ws: Array) -> Array:
    """Drifts of the accumulators ``(i, j)``, ``i != j``: ``(N, N - 1) + shape``,
    ``urgency + wd (v_i - v_j) + ws (v_i + v_j)``; row ``i`` holds option ``i``'s."""
    n = v.shape[0]
    rows = np.array([[i] * (n - 1) for i in range(n)])
    cols = np.array([[j for j in range(n) if j != i] for i in range(n)])
    vi, vj = v[rows], v[cols]
    return urgency + wd * (vi - vj) + ws * (vi + vj)


@jax.jit
def _advantage_logp(
    rt: Array, won: Array, v: Array, urgency: Array, wd: Array, ws: Array, A: Array, B: Array, t: Array
) -> Array:
    """`AdvantageRDM.logp` on broadcast arrays (``v``, ``won``: ``(N,) + shape``)."""
    # (Materialised, and so are their cotangents: see `RDM`.)
    rt, v, urgency, wd, ws, A, B, t = stage(rt, v, urgency, wd, ws, A, B, t)
    (drift,) = stage(_pair_drifts(v, urgency, wd, ws))  # (N, N - 1) + shape
    s = rt - t
    positive = s > 0
    s_pos = jnp.where(positive, s, 1.0)
    # Every term of the winner's density has one of its accumulators' densities as a
    # factor, and all but one its distribution function: negligible when all the
    # densities are, or when one accumulator surely has not finished. A loser whose
    # accumulators have all surely finished has finished too. Those cells get the floor
    # without the formulas (see `RDM`).
    sat = saturated(drift, s_pos, B, A, jnp.sqrt(s_pos), wald=True)
    winner_negligible = jnp.all(sat.density_negligible, axis=1) | jnp.any(sat.waiting, axis=1)
    live = (
        positive
        & jnp.any(won, axis=0)
        & ~jnp.any(won & winner_negligible, axis=0)
        & ~jnp.any(~won & jnp.all(sat.finished, axis=1), axis=0)
    )
    # Settled accumulators, and every one outside the live cells, are evaluated at drift
    # 0 (s = 1 outside), where nothing overflows, and their results replaced: log f
    # negligible, log F 0 once finished and negligible while waiting.
    settled = sat.finished | sat.waiting | ~live
    quiet = jnp.where(settled, jnp.zeros((), drift.dtype), drift)
    # Per-accumulator copies, materialised (see `RDM`).
    s_all, B_all, A_all = stage(*(jnp.broadcast_to(x, drift.shape) for x in (jnp.where(live, s, 1.0), B, A)))
    log_f, _, log_cdf = wald_window(quiet, s_all, B_all, A_all, cdf=True)
    # (Finite stand-ins far below any log-density: no inf - inf, in unused branches
    # either, where a NaN would still reach the gradient.)
    negligible = jnp.asarray(_NEGLIGIBLE_LOG, log_f.dtype)
    log_f = jnp.where(sat.finished | sat.waiting, negligible, log_f)
    log_cdf = jnp.where(sat.finished, jnp.zeros((), log_cdf.dtype), jnp.where(sat.waiting, negligible, log_cdf))
    log_all = jnp.sum(log_cdf, axis=1)  # log prod_j F_ij
    # d/ds prod_j F_ij = sum_j f_ij prod_{l != j} F_il, and the other options not all done.
    log_win = jax.nn.logsumexp(log_f - log_cdf, axis=1) + log_all
    tiny = jnp.finfo(log_all.dtype).tiny
    log_not_done = jnp.log(-jnp.expm1(jnp.minimum(log_all, -tiny)))
    total = jnp.sum(jnp.where(won, log_win, log_not_done), axis=0)
    floor = jnp.asarray(LOGP_FLOOR, dtype=total.dtype)
    return jnp.where(live, jnp.logaddexp(total, floor), floor)


@jax.jit
def _advantage_draw(
    key: PRNGKeyArray, v: Array, urgency: Array, wd: Array, ws: Array, A: Array, B: Array, t: Array
) -> tuple[Array, Array]:
    """`AdvantageRDM.sample` on broadcast arrays (``v``: ``(N,) + shape``)."""
    drift = _pair_drifts(v, urgency, wd, ws)
    full = (jnp.broadcast_to(x, drift.shape) for x in (B, A))
    times = wald_first_passage(key, drift, *full)
    return race_outcome(jnp.max(times, axis=1), t)


class AdvantageRDM(AbstractRace):
    """The advantage racing diffusion model of ``N`` options, win-all rule (Van
    Ravenzwaaij, Brown, Marley & Heathcote, 2020; Miletic et al., 2021).

    Each ordered pair of options ``(i, j)``, ``i != j``, has a Wald (diffusion)
    accumulator, as in [`RDM`][rlssm.RDM] (start uniform on ``(0, A)``, threshold
    ``A + B``, unit noise), with drift

        v_ij = urgency + wd (v_i - v_j) + ws (v_i + v_j)

    from per-option inputs ``v0 .. v{N-1}`` (in an RL model the learned values, through
    the [`Values`][rlssm.Values] mapping): an urgency signal common to all (the
    papers' ``V0``), the advantage of ``i`` over ``j`` weighted by ``wd`` and the pair's
    summed value weighted by ``ws``. Option ``i`` is chosen when *all* its ``N - 1``
    accumulators have finished, before any other option's have; ``rt = t +`` that
    time. With ``F_ij``, ``f_ij`` the accumulators' distribution functions and densities,
    the density of ``(rt, i)`` at decision time ``s`` is

        d/ds [prod_j F_ij(s)] * prod_{k != i} (1 - prod_{j != k} F_kj(s))

    (the win-all rule of Van Ravenzwaaij et al., 2020). For ``N = 2`` each option has
    one accumulator: the model is ``RDM(2)`` with drifts ``v_01`` and ``v_10`` (and the
    same ``A``, ``B``, ``t``) for every parameter value, that is ``RDM(2)`` behind the
    [`Advantage`][rlssm.Advantage] mapping, which Miletic et al. (2021) combine with
    Rescorla-Wagner learning as the RL-ARD model (``A = 0`` there).

    **Likelihood.** Exact, in logs, from the accumulators of [`RDM`][rlssm.RDM]: the
    derivative of the product as ``sum_j f_ij prod_{l != j} F_il`` (a log-sum-exp),
    each ``log F`` accurate near 0 and near 1 (from the survival function), and
    ``log(1 - prod F)`` through ``expm1``. `logp` returns ``log(p + exp(LOGP_FLOOR))``
    (``LOGP_FLOOR = -66.1``): exactly the floor where ``rt <= t``, where ``choice`` is not
    one of ``0 .. N-1``, where all the winner's accumulators have densities below
    about ``exp(-700)`` or one of them surely has not finished, and where another
    option's accumulators have all surely finished. Such settled accumulators (at
    extreme weights, e.g. ``wd = 1e20``, most are) are not evaluated by the formulas,
    so values and gradients stay finite inside the domains. Drifts may take any real value; where some are negative the
    density is defective (some trials never end).

    **Sampler.** Exact: ``N (N - 1)`` Wald accumulators drawn as in `RDM`, option ``i``'s
    finishing time the largest of its own; the winner is the option that finishes
    first. A trial on which no option finishes (possible only with negative drifts)
    returns ``rt = inf`` and ``choice = 0``.

    Parameters
    ----------
    n_options
        Number of options ``N`` (at least 2); responses are coded ``0 .. N-1``.

    Notes
    -----
    Parameters, in order: ``v0 .. v{N-1}`` (unbounded: a mapping computes them),
    ``urgency`` in (0, 10) (default 2), ``wd`` in (0, 10) (default 1), ``ws`` in
    (0, 10) (default 0.5), as [`Advantage`][rlssm.Advantage] declares them (values in
    [0, 1]); ``A`` in (0, 1) (default 0.5), ``B`` in (0.1, 3) (default 1), ``t`` in
    (0, 2) (default 0.3), as [`RDM`][rlssm.RDM]. Domains: ``A`` in [0, inf), ``B`` in
    (0, inf), ``t`` in [0, inf); the others any real.

    References
    ----------
    Van Ravenzwaaij, D., Brown, S. D., Marley, A. A. J., & Heathcote, A. (2020).
    Accumulating advantages: a new conceptualization of rapid multiple choice.
    *Psychological Review*, 127, 186-215.

    Miletic, S., Boag, R. J., Trutti, A. C., Stevenson, N., Forstmann, B. U., &
    Heathcote, A. (2021). A new model of decision processing in instrumental learning
    tasks. *eLife*, 10, e63055.
    """

    # A field named like the base's `n_options` property (see `Softmax`).
    n_options: int = eqx.field(static=True, default=2)

    domains: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"A": "[0, inf)", "B": "(0, inf)", "t": "[0, inf)"}
    )

    race_params: ClassVar[tuple[str, ...]] = _REST

    def __init__(self, n_options: int):
        self.n_options = n_options

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        inf = float("inf")
        decls: dict[str, ParamDecl] = {f"v{k}": (-inf, inf) for k in range(self.n_options)}
        decls |= {
            "urgency": (0.0, 10.0, 2.0),
            "wd": (0.0, 10.0, 1.0),
            "ws": (0.0, 10.0, 0.5),
            "A": (0.0, 1.0, 0.5),
            "B": (0.1, 3.0, 1.0),
            "t": (0.0, 2.0, 0.3),
        }
        return MappingProxyType(decls)

    def race_logp(self, rt: Array, won: Array, v: Array, *rest: Array) -> Array:
        return _advantage_logp(rt, won, v, *rest)

    def race_draw(self, key: PRNGKeyArray, v: Array, *rest: Array) -> tuple[Array, Array]:
        return _advantage_draw(key, v, *rest)
