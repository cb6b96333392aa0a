"""Hierarchical fits with the geometry NUTS needs, written directly in PyMC.

[`Hierarchical`][rlssm.fitting.Hierarchical] builds the model ``p_i = link^-1(mu_p +
sigma_p * z_{p,i})`` for every parameter ``p`` of an [`RLSSM`][rlssm.RLSSM] and every
participant ``i``, where

* ``link`` maps the parameter's bounds onto the real line (logit for ``(lower, upper)``,
  log for ``(lower, inf)``, identity for unbounded parameters): a participant's value can
  never leave its bounds, so there are no out-of-bounds penalty floors for NUTS to fall
  off, and learning rates near 1 are not pressed against a wall;
* the group *location* ``p`` (the population median in natural units, the value of a
  participant with offset 0) has a prior that users write in natural units, e.g.
  ``{"a": {"name": "TruncatedNormal", "mu": 1.0, "sigma": 1.0}}``, restricted to the
  parameter's bounds;
* ``p_sigma`` is the between-participant spread on the link scale (``HalfNormal``) and
  ``z`` the participants' standard-normal offsets: the non-centred form, which has no
  funnel when the spread is small (the seed data's spreads are 2-5% of the means);
* the sampler moves a *signed* spread ``s_p ~ Normal(0, scale)`` with ``p_sigma = |s_p|``
  and ``p_i = link^-1(mu_p + s_p * zs_{p,i})``, ``zs ~ Normal(0, 1)`` (default
  ``signed_spread=True``): the same model, since ``(s, zs)`` and ``(-s, -zs)`` give the
  same participants and ``|s|`` is ``HalfNormal``. On the usual ``log p_sigma`` scale a
  spread the data cannot tell from 0 has a long, exponential tail towards minus infinity
  and a sharp upper edge, which NUTS crosses slowly; the signed spread passes through 0
  smoothly instead. On the seed model (exact ``Angle``, 4 x (1000 + 1000)) the smallest
  bulk ESS of the group variables went from 411 (``a_sigma``) to 812 in the same time.
  The signed coordinates (``<name>_sigma_signed``, ``<name>_z_signed``) are dropped from
  the returned posterior: their sign is arbitrary (a spread the data pin away from 0 keeps
  one sign per chain), while ``p_sigma = |s|`` and ``z = sign(s) zs`` are not;
* parameters named in ``centred`` (default: none) are centred instead:
  ``link(p_i) ~ Normal(link(p), p_sigma)`` with ``link(p_i)`` free, which suits a
  parameter that each participant's data pin down more tightly than the population
  spreads it (on the seed data, centring ``t`` made its spread mix worse: R-hat 1.03);
* the non-decision time ``t`` of participant ``i`` must lie below the participant's
  fastest response time ``m_i`` (the likelihood is 0 above it). Instead of a cliff there,
  it is a smooth bijection of an unconstrained variable, with the Jacobian added:
  centred, ``link(t_i) = cap_i - softplus(cap_i - xi_i)`` with ``cap_i = link(m_i)``;
  non-centred, ``z_i = c_i - softplus(c_i - zeta_i)`` with ``c_i = (cap_i - link(t)) /
  t_sigma``. Either way ``t_i`` has the population prior restricted to ``t_i < m_i``, the
  same model (the likelihood is 0 beyond), and far from the cap the map is the identity.

The likelihood, [`RLSSM.logp_fn`][rlssm.RLSSM.logp_fn], enters as a PyTensor Op of the
parameters alone ([`make_params_op`][rlssm.hssm_bridge.make_params_op]), fed one value
per participant; sampling is PyMC's JAX NUTS (numpyro), one chain per device or
vectorised, every chain started near the pooled maximum-likelihood point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .._errors import DataError
from .links import Link, default_start, inside, link_inverse, location
from ..hssm_bridge import check_decision_ranges

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

    from ..model import RLSSM

__all__ = ["DEFAULT_GROUP_SD", "NDT_NAME", "Hierarchical", "group_summary"]

NDT_NAME = "t"
"""The parameter held below each participant's fastest response time (ssm-simulators' name)."""

DEFAULT_GROUP_SD = 0.5
"""Scale of the ``HalfNormal`` prior on a group spread ``p_sigma`` (link scale)."""

_INIT_SIGMA = 0.2


class Hierarchical:
    """A hierarchical RLSSM in PyMC: bounded links, non-centred, ``t`` below the fastest rt.

    Every parameter gets a group location (natural units, named as the parameter), a
    group spread ``<name>_sigma`` on the link scale and one value per participant
    (``<name>_subj``, natural units, dimension ``participant_id``); a centred parameter
    also ``<name>_eta`` (its participants' values on the link scale). See the
    [module docs][rlssm.fitting.hierarchical] for the parameterisation.

    Parameters
    ----------
    model
        The model.
    data
        The data (validated; missed trials allowed).
    priors
        Priors of group locations in natural units, ``name -> {"name": dist, **kwargs}``
        or ``hssm.Prior``; ``Normal`` / ``TruncatedNormal`` / ``Uniform`` are restricted
        to the parameter's bounds (a support outside them is an error), other PyMC
        distributions are truncated to them. An ``initval`` entry is the first start
        of `pooled_estimate` (and the chains' start with ``sample(init="initvals")``).
        Default: a normal truncated to the bounds, centred mid-bound with a quarter of
        the range as scale.
    group_sd
        Scale of each ``HalfNormal`` spread prior (link scale), a number for all or
        ``name -> number``; default [`DEFAULT_GROUP_SD`][rlssm.fitting.hierarchical.DEFAULT_GROUP_SD].
    centred
        Parameters to parameterise centred (default: none); the others are
        non-centred. Centre a parameter that each participant's data pin down more
        tightly than the population spreads it.
    signed_spread
        Sample the spreads of non-centred parameters as signed values (default), see the
        [module docs][rlssm.fitting.hierarchical]; ``False`` samples ``log p_sigma`` instead. The
        non-decision time ``t`` held below the fastest response, and centred parameters,
        always use ``log p_sigma`` (their offsets are divided by the spread).

    Examples
    --------
    ```python
    fit = rlssm.fitting.Hierarchical(model, data, priors={"a": {"name": "TruncatedNormal", "mu": 1.0, "sigma": 1.0}})
    idata = fit.sample(chains=4, tune=1000, draws=1000)
    fit.group_vars  # ('rl_alpha', 'rl_alpha_sigma', ..., 'theta', 'theta_sigma')
    ```
    """

    def __init__(
        self,
        model: RLSSM,
        data: pd.DataFrame,
        priors: Mapping[str, Any] | None = None,
        group_sd: float | Mapping[str, float] | None = None,
        centred: Sequence[str] = (),
        signed_spread: bool = True,
    ):
        import pymc as pm
        import pytensor.tensor as pt

        from ..hssm_bridge import make_params_op

        self.model = model
        self.data = data
        priors = dict(priors or {})
        unknown = [k for k in priors if k not in model.param_names]
        if unknown:
            raise ValueError(f"priors: {unknown} are not parameters of this model {model.param_names}")
        if group_sd is None or isinstance(group_sd, (int, float)):
            scale = {n: float(DEFAULT_GROUP_SD if group_sd is None else group_sd) for n in model.param_names}
        else:
            unknown = [k for k in group_sd if k not in model.param_names]
            if unknown:
                raise ValueError(f"group_sd: {unknown} are not parameters of this model {model.param_names}")
            scale = {n: float(group_sd.get(n, DEFAULT_GROUP_SD)) for n in model.param_names}
        bad = {n: s for n, s in scale.items() if not (math.isfinite(s) and s > 0)}
        if bad:
            raise ValueError(f"group_sd must be positive and finite, got {bad}")

        if isinstance(centred, str):
            # A lone name would otherwise be read as its letters.
            raise TypeError(f"centred must be a sequence of parameter names, e.g. ({centred!r},), got the string {centred!r}")
        centred = tuple(centred)
        unknown = [k for k in centred if k not in model.param_names]
        if unknown:
            raise ValueError(f"centred: {unknown} are not parameters of this model {model.param_names}")
        layout = model.prepare(data)  # validates (DataError)
        # A LAN's training box against the priors x the data: one warning at most.
        check_decision_ranges(
            model, data, include=[{"name": n, "prior": p} for n, p in priors.items()], stacklevel=3
        )
        self.participants = list(layout.participants)
        # The original data (missed trials as NaN), as to_hssm keeps it: what predictive
        # checks and range checks read from a fit.
        self.rlssm_data = data.copy()
        fastest = np.array(
            [np.min(layout.rt[i][layout.observed[i]]) if layout.observed[i].any() else np.inf
             for i in range(layout.n_participants)]
        )
        self.fastest_rt = fastest

        # The likelihood of the parameters alone: one value per participant in, one
        # log-likelihood per row of the data out (the trial layout is fixed here).
        op = make_params_op(model.logp_fn(data, per_row=False), model.param_names)

        coords = {"participant_id": [str(p) for p in self.participants]}
        initvals: dict[str, Any] = {}
        support: dict[str, tuple[float, float]] = {}
        links: dict[str, Link] = {}
        group_vars: list[str] = []
        signed_names: list[str] = []
        with pm.Model(coords=coords) as pm_model:
            subj = []
            for name in model.param_names:
                lower, upper = model.bounds[name]
                link = Link(lower, upper)
                loc, init, support[name] = location(name, priors.get(name), lower, upper)
                links[name] = link
                mu: Any = link.forward(loc)
                # Participants whose fastest response lies below t's upper bound.
                capped = np.isfinite(fastest) & (fastest < upper)
                is_capped = name == NDT_NAME and bool(capped.any())
                signed = signed_spread and not is_capped and name not in centred
                spread: Any = None
                if signed:
                    spread = pm.Normal(f"{name}_sigma_signed", 0.0, scale[name])
                    sigma: Any = pm.Deterministic(f"{name}_sigma", pt.abs(spread))
                    signed_names.append(name)
                else:
                    sigma = pm.HalfNormal(f"{name}_sigma", sigma=scale[name])
                cap_eta: Any = None
                if is_capped:
                    too_fast = np.flatnonzero(fastest <= lower)
                    if too_fast.size:
                        i = int(too_fast[0])
                        raise DataError(
                            f"participant {self.participants[i]!r}: fastest rt {fastest[i]!r} is not "
                            f"above the lower bound of {name!r} ({lower}); no non-decision time fits"
                        )
                    if init is None:
                        init = 0.5 * float(np.median(fastest[np.isfinite(fastest)]))
                    # The cap on the link scale; participants without one get it far away.
                    middle = 0.5 * (lower + upper) if math.isfinite(upper) else lower + 1.0
                    cap_eta = np.where(capped, link.forward(np.where(capped, fastest, middle)), 1e3)
                if name in centred:
                    # eta_i ~ Normal(mu, sigma) on the link scale, free per participant;
                    # below the cap through eta = cap - softplus(cap - xi) (Jacobian added).
                    if is_capped:
                        xi: Any = pm.Flat(f"{name}_xi", dims="participant_id")
                        eta: Any = pm.Deterministic(
                            f"{name}_eta", cap_eta - pt.softplus(cap_eta - xi), dims="participant_id"
                        )
                        prior_eta: Any = pm.logp(pm.Normal.dist(mu=mu, sigma=sigma), eta)
                        jacobian: Any = pt.softplus(xi - cap_eta)
                        pm.Potential(f"{name}_eta_prior", prior_eta.sum() - jacobian.sum())
                    else:
                        eta = pm.Normal(f"{name}_eta", mu=mu, sigma=sigma, dims="participant_id")
                    natural = link.inverse(eta)
                else:
                    if is_capped:
                        # z < c, smoothly: z = c - softplus(c - zeta), Jacobian sigmoid(c - zeta).
                        c: Any = (cap_eta - mu) / sigma
                        zeta: Any = pm.Flat(f"{name}_zeta", dims="participant_id")
                        z: Any = pm.Deterministic(
                            f"{name}_z", c - pt.softplus(c - zeta), dims="participant_id"
                        )
                        prior_z: Any = pm.logp(pm.Normal.dist(), z)
                        jac_z: Any = pt.softplus(zeta - c)
                        pm.Potential(f"{name}_z_prior", prior_z.sum() - jac_z.sum())
                    elif signed:
                        zs: Any = pm.Normal(f"{name}_z_signed", 0.0, 1.0, dims="participant_id")
                        pm.Deterministic(f"{name}_z", pt.switch(spread < 0, -zs, zs), dims="participant_id")
                        z = zs
                        sigma = spread  # mu + s * zs = mu + |s| * sign(s) zs
                    else:
                        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims="participant_id")
                    natural = link.inverse(mu + sigma * z)
                value = pm.Deterministic(f"{name}_subj", natural, dims="participant_id")
                subj.append(value)
                initvals[name] = init
                initvals[f"{name}_sigma"] = _INIT_SIGMA
                group_vars += [name, f"{name}_sigma"]
            loglik: Any = op(*subj)
            pm.Potential("loglik", loglik.sum())
        self.pymc_model: pm.Model = pm_model
        self.initvals = {k: v for k, v in initvals.items() if v is not None}
        self.group_vars: tuple[str, ...] = tuple(group_vars)
        self._support = support
        self._links = links
        self._centred = centred
        self._signed: tuple[str, ...] = tuple(signed_names)
        """Parameters whose spread and offsets the sampler moves as signed values."""
        self._internal: tuple[str, ...] = tuple(f"{n}_{v}_signed" for n in signed_names for v in ("sigma", "z"))
        """Their free variables, dropped from the returned posterior (the signs are arbitrary)."""
        self._pooled: dict[tuple[int, int], dict[str, float]] = {}

    # ------------------------------------------------------------------ starting points
    def pooled_estimate(self, n_starts: int = 4, seed: int = 0) -> dict[str, float]:
        """Group values that maximise the likelihood when all participants share them.

        L-BFGS-B within each location prior's support (``t`` below the fastest response
        time of the data), from the initial values (the priors' ``initval`` entries, the
        default start elsewhere) and from ``n_starts - 1`` further points drawn
        uniformly from the middle 80% of each support. The best optimum wins: a
        likelihood with more than one mode (a LAN's, for instance: on the seed data
        ``AngleLAN`` has a second one at ``t`` ~ 0, wide bounds and steep collapse,
        about 114 log-likelihood units below the first) still gives the start near its main
        mode. Cached per ``(n_starts, seed)``.

        Returns
        -------
        dict
            ``name -> value`` in natural units, one per model parameter.
        """
        import jax
        import jax.numpy as jnp
        from scipy.optimize import minimize

        if (n_starts, seed) in self._pooled:
            return dict(self._pooled[n_starts, seed])
        names = self.model.param_names
        f = self.model.logp_fn(self.data, per_row=False)
        fastest = float(np.min(self.fastest_rt))
        box = []
        for name in names:
            lo, hi = self._support[name]
            if name == NDT_NAME and math.isfinite(fastest):
                hi = min(hi, fastest)
            # Clear of the edges, where a link's Jacobian vanishes.
            lo, hi = inside(lo, lo, hi), inside(hi, lo, hi)
            box.append((lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None))

        def objective(x: Any) -> Any:
            return -jnp.sum(f({n: x[i] for i, n in enumerate(names)}))

        value_and_grad = jax.jit(jax.value_and_grad(objective))

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            v, g = value_and_grad(jnp.asarray(x))
            return float(v), np.asarray(g, dtype=float)

        first = []
        for name, (lo, hi) in zip(names, box):
            init = self.initvals.get(name)
            if init is None:
                init = default_start(lo, hi)
            low = -np.inf if lo is None else lo
            high = np.inf if hi is None else hi
            first.append(float(np.clip(init, low, high)))
        rng = np.random.default_rng(seed)
        starts = [np.array(first)]
        for _ in range(max(n_starts, 1) - 1):
            point = [
                rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))
                if lo is not None and hi is not None
                else x0 + rng.uniform(-0.5, 0.5)
                for x0, (lo, hi) in zip(first, box)
            ]
            starts.append(np.array(point))
        best: tuple[float, np.ndarray] | None = None
        for x0 in starts:
            result = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=box, options={"maxiter": 500})
            if np.isfinite(result.fun) and (best is None or result.fun < best[0]):
                best = (float(result.fun), np.asarray(result.x, dtype=float))
        if best is None:
            raise RuntimeError("pooled_estimate: the log-likelihood was not finite at any start")
        estimate = {n: float(v) for n, v in zip(names, best[1])}
        self._pooled[n_starts, seed] = dict(estimate)
        return estimate

    def initial_points(
        self, chains: int, seed: int = 0, jitter: float = 0.25, init: str = "pooled"
    ) -> list[dict[str, np.ndarray]]:
        """One starting point per chain (values of the PyMC model's free variables).

        Group locations start at `pooled_estimate` (``init="pooled"``) or at the
        initial values (``init="initvals"``), moved by a uniform draw in
        ``(-jitter, jitter)`` on their link scale; spreads at 0.2 on the link scale
        times ``exp`` of such a draw; participants' offsets uniform in ``(-2 jitter,
        2 jitter)``. Small moves around one good point rather than PyMC's default
        ``(-1, 1)`` on every variable, which can start chains in a minor mode of a
        multimodal likelihood (and then R-hat flags the fit as unconverged).
        """
        if init not in ("pooled", "initvals"):
            raise ValueError(f"init must be 'pooled' or 'initvals', got {init!r}")
        if not (math.isfinite(jitter) and jitter >= 0):
            raise ValueError(f"jitter must be a non-negative number, got {jitter!r}")
        if init == "pooled":
            centre = self.pooled_estimate()
        else:
            centre = {}
            for name in self.model.param_names:
                lo, hi = self._support[name]
                value = self.initvals.get(name)
                centre[name] = float(default_start(lo, hi) if value is None else value)
        fastest = self.fastest_rt
        rng = np.random.default_rng(seed)
        n_part = len(self.participants)
        free = self.pymc_model.named_vars
        points = []
        for _ in range(chains):
            point: dict[str, np.ndarray] = {}
            for name in self.model.param_names:
                link = self._links[name]
                lo, hi = self._support[name]
                eta = float(link.forward(float(centre[name]))) + rng.uniform(-jitter, jitter)
                value = float(link_inverse(link, eta))
                if name == NDT_NAME:
                    # Below every participant's fastest response, with room to spare.
                    value = min(value, 0.9 * float(np.min(fastest)))
                point[name] = np.asarray(inside(value, lo, hi))
                sigma = _INIT_SIGMA * math.exp(rng.uniform(-jitter, jitter))
                offsets = rng.uniform(-2 * jitter, 2 * jitter, n_part)
                if name in self._signed:
                    point[f"{name}_sigma_signed"] = np.asarray(sigma)
                    point[f"{name}_z_signed"] = offsets
                    continue
                point[f"{name}_sigma"] = np.asarray(sigma)
                if name in self._centred:
                    # A capped t is free as t_xi (its eta is derived); others as eta.
                    key = f"{name}_xi" if f"{name}_xi" in free else f"{name}_eta"
                    point[key] = float(link.forward(value)) + sigma * offsets
                elif f"{name}_zeta" in free:  # the capped, non-centred t
                    point[f"{name}_zeta"] = offsets
                else:
                    point[f"{name}_z"] = offsets
            points.append(point)
        return points

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        chains: int = 4,
        tune: int = 1000,
        draws: int = 1000,
        seed: int = 0,
        target_accept: float = 0.9,
        chain_method: str = "auto",
        init: str = "pooled",
        jitter: float = 0.25,
        max_tree_depth: int | tuple[int, int] = (7, 10),
        log_likelihood: bool = True,
        progressbar: bool = True,
        **nuts_kwargs: Any,
    ) -> xr.DataTree:
        """NUTS (numpyro, through PyMC's JAX sampler).

        ``target_accept`` defaults to 0.9 rather than NUTS' usual 0.8: each participant's
        ``t`` is pinned just below their fastest response, where the likelihood falls
        steeply, and with a small ``t_sigma`` that makes a narrow neck. On the seed model
        (exact ``Angle``, 4 x (1000 + 1000)) 0.8 gave 26 and 17 divergent draws of 4000
        (seeds 0, 1), 0.9 gave 17 and 14, for 10-25% more sampling time.

        Chains start near `pooled_estimate` (``init="pooled"``, the default) or near the
        initial values (``init="initvals"``), each moved by ``jitter`` as
        `initial_points` describes.

        ``max_tree_depth`` is NUTS' limit on the doubling of each trajectory, ``(warm-up,
        sampling)`` or one number for both. The default ``(7, 10)`` caps warm-up
        trajectories at 127 leapfrog steps and keeps NUTS' usual 1023 for the draws. Until
        the first mass-matrix update (iteration 100) NUTS works with an identity mass
        matrix, and the step size that reaches ``target_accept`` there is ~15 times smaller
        than after it (0.01 against 0.15 on the seed model); uncapped, those 100 iterations
        ran 433 steps each, 38% of all the gradient evaluations of a 4 x (1000 + 1000) run.
        Capped at 127 they ran about 122, later windows adapted to the same step size
        (~0.15), and the run took 112 s instead of 153 s (exact ``Angle``, seed 0; min
        bulk ESS 568 against 660, so 5.1 instead of 4.3 ESS/s; ``benchmarks/bench_warmup.py``).
        The cap touches no draw: those are made with the second number.

        ``chain_method="auto"`` runs one chain per device (``"parallel"``) when JAX has at
        least ``chains`` devices, else all chains as one vectorised batch. On a CPU,
        JAX has one device unless told otherwise: start Python with
        ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the command line does
        this) and the chains run in parallel on all cores, about three times faster
        than vectorised chains on the seed model here.

        With ``signed_spread`` (the default) the sampler's signed coordinates
        ``<name>_sigma_signed`` and ``<name>_z_signed`` are dropped from the posterior;
        ``<name>_sigma`` and ``<name>_z`` hold the spread and offsets they imply.

        Returns the posterior as a DataTree, with a ``log_likelihood`` group (variable
        ``loglik``, one value per row of the data, in its order) unless
        ``log_likelihood=False``. Importing PyMC's JAX sampler turns JAX's global
        ``jax_enable_x64`` on (a PyMC side effect; rlssm's float policy does not depend on it).
        """
        import jax
        from pymc.sampling.jax import sample_jax_nuts

        if chain_method == "auto":
            chain_method = "parallel" if len(jax.devices()) >= chains else "vectorized"
        depths = (max_tree_depth, max_tree_depth) if isinstance(max_tree_depth, int) else tuple(max_tree_depth)
        if len(depths) != 2 or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in depths):
            raise ValueError(
                f"max_tree_depth must be a positive integer or a (warm-up, sampling) pair of them, got {max_tree_depth!r}"
            )

        idata = sample_jax_nuts(
            draws=draws,
            tune=tune,
            chains=chains,
            target_accept=target_accept,
            random_seed=seed,
            initvals=cast(Any, self.initial_points(chains, seed=seed, jitter=jitter, init=init)),
            jitter=False,
            model=self.pymc_model,
            chain_method=chain_method,  # type: ignore[arg-type]
            progressbar=progressbar,
            nuts_sampler="numpyro",
            nuts_kwargs={"max_tree_depth": depths, **nuts_kwargs},
            idata_kwargs={"log_likelihood": False},
            compute_convergence_checks=False,  # run below, without the signed coordinates
        )
        if self._internal:
            idata["posterior"] = idata["posterior"].to_dataset().drop_vars(list(self._internal))
        self._convergence_warnings(idata)
        if log_likelihood:
            idata["log_likelihood"] = self.pointwise_log_likelihood(idata)
        return idata

    def _convergence_warnings(self, idata: Any) -> None:
        """PyMC's convergence warnings (divergences, tree depth, R-hat, ESS) for the posterior
        as returned. The signed coordinates' arbitrary signs would raise false R-hat alarms,
        so the spreads and offsets they imply are checked in their place."""
        from types import SimpleNamespace

        from pymc.stats.convergence import log_warnings, run_convergence_checks

        model = self.pymc_model
        checked = [v for v in model.free_RVs if v.name not in self._internal]
        checked += [model[f"{n}_{v}"] for n in self._signed for v in ("sigma", "z")]
        log_warnings(run_convergence_checks(idata, SimpleNamespace(free_RVs=checked, deterministics=[])))

    # ------------------------------------------------------------------ posterior access
    def participant_draws(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, participants)`` natural-scale values of every parameter."""
        posterior = idata["posterior"]
        return {n: np.asarray(posterior[f"{n}_subj"].values, dtype=float) for n in self.model.param_names}

    def pointwise_log_likelihood(self, idata: Any, chunk: int = 250) -> xr.Dataset:
        """Per-row log-likelihood of every posterior draw: ``loglik`` (chain, draw, __obs__)."""
        import jax
        import xarray as xr

        draws = self.participant_draws(idata)
        n_chain, n_draw, _ = next(iter(draws.values())).shape
        f = self.model.logp_fn(self.data, per_row=False)
        batched = jax.jit(jax.vmap(f))
        flat = {k: v.reshape(n_chain * n_draw, -1) for k, v in draws.items()}
        out = np.concatenate(
            [
                np.asarray(batched({k: v[i : i + chunk] for k, v in flat.items()}))
                for i in range(0, n_chain * n_draw, chunk)
            ]
        )
        out = out.reshape(n_chain, n_draw, -1)
        return xr.Dataset({"loglik": (("chain", "draw", "__obs__"), out)})

    def add_likelihood_parameters_to_datatree(self, idata: Any) -> Any:
        """A copy of ``idata`` whose posterior holds every parameter per row of the data.

        (The interface of ``hssm.HSSM`` that [`RLSSM.posterior_predictive`][rlssm.RLSSM.posterior_predictive] reads.)
        """
        import xarray as xr

        layout = self.model.prepare(self.data)
        rows = np.asarray(layout.row_participant)
        posterior = idata["posterior"].to_dataset()
        per_row = {
            n: (("chain", "draw", "__obs__"), v[:, :, rows])
            for n, v in self.participant_draws(idata).items()
        }
        return xr.DataTree.from_dict({"posterior": posterior.drop_vars(self.model.param_names).assign(per_row)})


def group_summary(fit: Hierarchical, idata: Any, truth: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Posterior mean, 5%/95% quantiles, R-hat and bulk ESS of the group variables."""
    import arviz as az

    posterior = idata["posterior"]
    rows = []
    for name in fit.group_vars:
        x = np.asarray(posterior[name].values, dtype=float)
        row = {
            "param": name,
            "mean": float(x.mean()),
            "q05": float(np.quantile(x, 0.05)),
            "q95": float(np.quantile(x, 0.95)),
        }
        if truth is not None and name in truth:
            row["truth"] = float(truth[name])
        rows.append(row)
    out = pd.DataFrame(rows).set_index("param")
    ess = az.ess(idata, var_names=list(fit.group_vars), method="bulk")
    rhat = az.rhat(idata, var_names=list(fit.group_vars))
    ess = ess["posterior"] if hasattr(ess, "children") and "posterior" in ess.children else ess
    rhat = rhat["posterior"] if hasattr(rhat, "children") and "posterior" in rhat.children else rhat
    out["ess_bulk"] = [float(np.asarray(ess[n])) for n in fit.group_vars]
    out["r_hat"] = [float(np.asarray(rhat[n])) for n in fit.group_vars]
    return out

