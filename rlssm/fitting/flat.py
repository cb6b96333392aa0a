"""Non-hierarchical fits: each participant's parameters on their own, with a fixed prior.

[`Flat`][rlssm.fitting.Flat] gives every participant ``i`` its own value of every
parameter ``p``, a priori independent of the other participants' values, with the same
prior for everyone. With one participant in the data this is the usual single-subject
fit; with several it fits them all at once, without pooling. (The joint posterior is
then the product of the participants' own posteriors, so every participant's marginal
posterior is the one a fit of that participant alone would give: what
[`rlssm.calibration`][rlssm.calibration] uses to fit many simulated data sets in one run.)

The geometry follows [`Hierarchical`][rlssm.fitting.Hierarchical]:

* each value is sampled on a link scale ``eta = link(p)`` of its prior's support (logit for
  ``(lower, upper)``, log for ``(lower, inf)``, identity for unbounded), so NUTS never meets
  a bound; the prior, written in natural units and restricted to the parameter's bounds,
  enters with the link's Jacobian;
* the non-decision time ``t`` of a participant with fastest response ``m`` lies below ``m``
  (the likelihood is 0 above it) through the smooth bijection ``eta = cap - softplus(cap -
  xi)``, ``cap = link(m)``, of a free ``xi``, Jacobian added: the prior restricted to
  ``t < m`` without a cliff, and the identity far below the cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .._errors import DataError
from ..hssm_bridge import default_prior_args
from .nondecision import caps_ndt, fastest_rts, warn_fast_responses
from .nuts import check_sampler_arguments, run_nuts
from .links import Link, default_start, distribution, inside, prior_spec, prior_support, softplus

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

    from ..model import RLSSM

__all__ = ["Flat", "prior_distribution"]

def prior_distribution(name: str, spec: Any, lower: float, upper: float) -> tuple[Any, tuple[float, float]]:
    """A parameter's prior as an unnamed PyMC distribution, and its support.

    The rules of `rlssm.fitting.links.location`: ``Normal`` /
    ``TruncatedNormal`` / ``Uniform`` are restricted to their ``lower`` / ``upper``
    (default: the parameter's bounds ``(lower, upper)``; a support outside them is an
    error), other PyMC distributions are truncated there; without ``spec``, the HSSM
    bridge's default intercept prior. An ``initval`` entry is ignored.

    Returns
    -------
    tuple
        The distribution (``pm.<Dist>.dist(...)``) and its support ``(lo, hi)``.
    """
    import pymc as pm

    dist, kwargs, (lo, hi), _ = prior_support(name, spec, lower, upper)
    low = None if math.isinf(lo) else lo
    high = None if math.isinf(hi) else hi
    if dist in ("Normal", "TruncatedNormal"):
        if low is None and high is None:
            return pm.Normal.dist(**kwargs), (lo, hi)
        return pm.TruncatedNormal.dist(lower=low, upper=high, **kwargs), (lo, hi)
    if dist == "Uniform":
        if low is None or high is None:
            raise ValueError(f"priors[{name!r}]: Uniform needs a finite support, got ({lo}, {hi})")
        uniform: Any = pm.Uniform  # (its stub types the bounds as int)
        return uniform.dist(lower=lo, upper=hi, **kwargs), (lo, hi)
    return pm.Truncated.dist(distribution(name, dist).dist(**kwargs), lower=low, upper=high), (lo, hi)


def _log_jacobian(link: Link, width: float, eta: Any) -> Any:
    """``log |d link^-1(eta) / d eta|`` (PyTensor); ``width`` is the support's for a logit."""
    import pytensor.tensor as pt

    if link.kind == "logit":
        left: Any = softplus(-eta)
        right: Any = softplus(eta)
        return math.log(width) - left - right
    if link.kind == "log":
        return eta
    return pt.zeros_like(eta)


class Flat:
    """Every participant's parameters on their own, each with the same prior (no pooling).

    The posterior holds every parameter under its own name, in natural units, with
    dimension ``participant_id`` (length 1 for one participant). See the
    [module docs][rlssm.fitting.flat] for the parameterisation.

    Parameters
    ----------
    model
        The model.
    data
        The data (validated; missed trials allowed). One participant for a
        single-subject fit; several are fitted side by side, independently.
    priors
        Prior of each parameter in natural units, ``name -> {"name": dist, **kwargs}`` or
        ``hssm.Prior``, as in [`Hierarchical`][rlssm.fitting.Hierarchical]: ``Normal`` /
        ``TruncatedNormal`` / ``Uniform`` are restricted to the parameter's bounds (a
        support outside them is an error), other PyMC distributions are truncated to
        them. Default: a normal truncated to the bounds, centred mid-bound with a
        quarter of the range as scale.

    Raises
    ------
    DataError
        When a participant's fastest response time is not above the lower bound of ``t``.
    """

    def __init__(self, model: RLSSM, data: pd.DataFrame, priors: Mapping[str, Any] | None = None):
        import pymc as pm
        import pytensor.tensor as pt

        from ..hssm_bridge import make_params_op

        self.model = model
        self.data = data
        priors = dict(priors or {})
        unknown = [k for k in priors if k not in model.param_names]
        if unknown:
            raise ValueError(f"priors: {unknown} are not parameters of this model {model.param_names}")
        layout = model.prepare(data)  # validates (DataError)
        self.participants = list(layout.participants)
        n_part = layout.n_participants
        fastest = fastest_rts(layout, lapse=model.has_lapse)
        self.fastest_rt = fastest
        warn_fast_responses(model, layout, self.participants, stacklevel=3)
        op = make_params_op(model.logp_fn(data, per_row=False), model.param_names)

        self._links: dict[str, Link] = {}
        self._support: dict[str, tuple[float, float]] = {}
        self._free: dict[str, str] = {}
        self._caps: dict[str, np.ndarray] = {}
        self._centre: dict[str, float | None] = {}
        coords = {"participant_id": [str(p) for p in self.participants]}
        with pm.Model(coords=coords) as pm_model:
            values = []
            for name in model.param_names:
                lower, upper = model.bounds[name]
                dist, (lo, hi) = prior_distribution(name, priors.get(name), lower, upper)
                link = Link(lo, hi)
                self._links[name], self._support[name] = link, (lo, hi)
                mu = (default_prior_args(lower, upper) if priors.get(name) is None else prior_spec(name, priors[name]))[1].get("mu")
                self._centre[name] = float(mu) if isinstance(mu, (int, float)) and lo < mu < hi else None
                capped = np.isfinite(fastest) & (fastest < hi) if caps_ndt(model, name) else np.zeros(n_part, bool)
                if capped.any():
                    too_fast = np.flatnonzero(fastest <= lo)
                    if too_fast.size:
                        i = int(too_fast[0])
                        raise DataError(
                            f"participant {self.participants[i]!r}: fastest rt {fastest[i]!r} is not "
                            f"above the lower end ({lo}) of {name!r}'s prior; no non-decision time fits"
                        )
                    # Link-scale caps; participants without one get it far away.
                    cap = np.where(capped, link.forward(np.where(capped, fastest, 0.5 * (lo + hi))), 1e3)
                    xi: Any = pm.Flat(f"{name}_xi", dims="participant_id")
                    eta: Any = xi - softplus(xi - cap)  # = cap - softplus(cap - xi)
                    gap: Any = softplus(xi - cap)
                    log_jac: Any = -gap  # log d eta / d xi
                    self._free[name], self._caps[name] = f"{name}_xi", cap
                else:
                    eta = pm.Flat(f"{name}_eta", dims="participant_id")
                    log_jac = pt.zeros_like(eta)
                    self._free[name] = f"{name}_eta"
                natural: Any = link.inverse(eta)
                prior: Any = pm.logp(dist, natural) + _log_jacobian(link, hi - lo, eta) + log_jac
                pm.Potential(f"{name}_prior", prior.sum())
                values.append(pm.Deterministic(name, natural, dims="participant_id"))
            loglik: Any = op(*values)
            pm.Potential("loglik", loglik.sum())
        self.pymc_model: pm.Model = pm_model
        self.priors = priors

    def prior(self, name: str) -> tuple[Any, tuple[float, float]]:
        """The prior of parameter ``name`` as used here: a PyMC distribution and its support."""
        lower, upper = self.model.bounds[name]
        return prior_distribution(name, self.priors.get(name), lower, upper)

    def initial_points(self, chains: int, seed: int = 0, jitter: float = 0.5) -> list[dict[str, np.ndarray]]:
        """One starting point per chain: each value at its prior's ``mu`` (if it has one inside
        the support, else the middle of the support; ``t`` at 0.9 times
        the participant's fastest response if that is lower), moved on the link scale by a
        uniform draw in ``(-jitter, jitter)``."""
        if not (math.isfinite(jitter) and jitter >= 0):
            raise ValueError(f"jitter must be a non-negative number, got {jitter!r}")
        rng = np.random.default_rng(seed)
        n_part = len(self.participants)
        centre = {}
        for name in self.model.param_names:
            lo, hi = self._support[name]
            mu = self._centre.get(name)
            value = default_start(lo, hi) if mu is None else float(mu)
            centre[name] = inside(value, lo, hi)
        points = []
        for _ in range(chains):
            point: dict[str, np.ndarray] = {}
            for name in self.model.param_names:
                link = self._links[name]
                lo, hi = self._support[name]
                value = np.full(n_part, centre[name])
                if name in self._caps:
                    # Below each participant's fastest response, with room to spare.
                    value = np.minimum(value, np.maximum(0.9 * self.fastest_rt, lo + 1e-3 * (min(hi, 1.0) - lo)))
                eta = link.forward(value) + rng.uniform(-jitter, jitter, n_part)
                if name in self._caps:
                    cap = self._caps[name]
                    # Invert eta = cap - softplus(cap - xi): xi = cap - log(expm1(cap - eta)).
                    # (softplus is the identity beyond 30, as for participants without a cap.)
                    gap = np.maximum(cap - eta, 0.05)
                    eta = np.where(gap > 30.0, eta, cap - np.log(np.expm1(np.minimum(gap, 30.0))))
                point[self._free[name]] = eta
            points.append(point)
        return points

    def sample(
        self,
        chains: int = 4,
        tune: int = 1000,
        draws: int = 1000,
        seed: int = 0,
        target_accept: float = 0.9,
        chain_method: str = "auto",
        jitter: float = 0.5,
        max_tree_depth: int | tuple[int, int] = (7, 10),
        progressbar: bool = True,
        **nuts_kwargs: Any,
    ) -> xr.DataTree:
        """NUTS (numpyro, through PyMC's JAX sampler), as [`Hierarchical.sample`][rlssm.fitting.Hierarchical.sample].

        Chains start as `initial_points` says. ``max_tree_depth`` is ``(warm-up,
        sampling)`` or one number for both: the default caps the warm-up's trajectories
        at 127 steps, where the identity mass matrix of the first adaptation window
        otherwise makes NUTS take hundreds of tiny steps per iteration (on 25 seed-model
        replicates, 840 per iteration over a 20-iteration warm-up), and keeps 1023 for the
        draws. ``chain_method="auto"`` runs one chain per
        device when JAX has at least ``chains`` devices, else all chains as one
        vectorised batch. Returns the posterior (every parameter, natural units,
        dimension ``participant_id``) and the sampler statistics as a DataTree; the
        link-scale coordinates the sampler moves are dropped.
        """
        # Before the starting points: a bad setting is named before any work.
        check_sampler_arguments(
            chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
            chain_method=chain_method, max_tree_depth=max_tree_depth, nuts_kwargs=nuts_kwargs,
        )
        idata = run_nuts(
            self.pymc_model, self.initial_points(chains, seed=seed, jitter=jitter),
            chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
            chain_method=chain_method, max_tree_depth=max_tree_depth, progressbar=progressbar,
            nuts_kwargs=nuts_kwargs,
        )
        idata["posterior"] = idata["posterior"].to_dataset().drop_vars(list(self._free.values()))
        return idata

    def participant_draws(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, participants)`` natural-scale values of every parameter."""
        posterior = idata["posterior"]
        return {n: np.asarray(posterior[n].values, dtype=float) for n in self.model.param_names}
