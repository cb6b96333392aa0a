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

``devices=`` spreads the likelihood's participants over several JAX devices (GPUs, or
a CPU's host devices): the Op then evaluates
[`sharded_logp_fn`][rlssm.sharding.sharded_logp_fn], each device holding and computing
whole participants, and returns one log-likelihood per participant instead of one per
row. The model and its log-density are the same (to rounding); the chains run
vectorised on the devices' mesh.

One job per module: this one checks the arguments and samples; ``hierarchical_model``
writes the PyMC model (and defines the constants below), ``hierarchical_starts`` the
chains' starting points, and ``hierarchical_draws`` reads the posterior per participant
and per row (and holds `group_summary`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..engine import check_fixed
from ..hssm_bridge import check_decision_ranges
from ..sharding import check_devices, sharded_logp_fn
from .formulas import Regression, parse_formulas
from .hierarchical_draws import draw_values, group_summary, participant_values, pointwise_loglik, row_values
from .hierarchical_model import COEFFICIENT_SD, DEFAULT_GROUP_SD, ROW_CAP_SHARPNESS, GroupModel
from .hierarchical_model import build_group_model, coefficient_names
from .hierarchical_starts import chain_points, pooled_optimum
from .links import check_coefficient_prior, default_start, group_scales, prior_spec
from .nondecision import NDT_NAME, fastest_rts, warn_fast_responses
from .nuts import check_sampler_arguments, run_nuts

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr
    from jaxlib._jax import Device  # what jax.Device names (pyright cannot see through it)

    from ..model import RLSSM

__all__ = ["COEFFICIENT_SD", "DEFAULT_GROUP_SD", "NDT_NAME", "ROW_CAP_SHARPNESS", "Hierarchical", "group_summary"]


def _parameter_names(label: str, value: Sequence[str], names: tuple[str, ...]) -> tuple[str, ...]:
    """``value`` (the argument ``label``) as a tuple of names from ``names``: `TypeError`
    for a lone string, which would otherwise be read as its letters, `ValueError`
    naming the unknown ones."""
    if isinstance(value, str):
        raise TypeError(f"{label} must be a sequence of parameter names, e.g. ({value!r},), got the string {value!r}")
    value = tuple(value)
    unknown = [k for k in value if k not in names]
    if unknown:
        raise ValueError(f"{label}: {unknown} are not sampled parameters of this model {names}")
    return value



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
    formulas
        ``name -> formula`` (bambi/HSSM syntax, e.g. ``"1 + condition + (1 + condition |
        participant_id)"``) for parameters with covariates or other group terms; the
        others keep ``1 + (1 | participant_id)``. Coefficients live on the parameter's
        link scale and are named as bambi names them (``a_Intercept``,
        ``a_condition``, ``a_1|participant_id_sigma``); see
        [`rlssm.fitting.formulas`][rlssm.fitting.formulas] and the fitting guide.
    fixed
        ``name -> constant`` for parameters held still (not sampled, no prior), each
        inside its domain, e.g. ``{"z": 0.5}`` or an LBA's ``{"s": 1.0}``.
    correlated
        Parameters whose group-specific effects of one grouping factor (a random
        intercept and slopes) are correlated, through an LKJ Cholesky factor; the
        others' effects are independent.
    lkj_eta
        The LKJ prior's concentration (default 2: mild shrinkage towards no correlation).

    devices
        Spread the likelihood's participants over JAX devices: a number ``n`` (the
        first ``n`` of ``jax.devices()``) or a sequence of ``jax.Device``; see
        [`check_devices`][rlssm.sharding.check_devices]. Default ``None``: one device,
        one log-likelihood per row. Each device holds and computes whole participants
        ([`sharded_logp_fn`][rlssm.sharding.sharded_logp_fn]) and the chains run
        vectorised over the same devices. Parameters with formulas (one value per row)
        cannot be sharded yet. On a CPU, JAX has one device unless Python starts with
        ``XLA_FLAGS=--xla_force_host_platform_device_count=N``.

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
        formulas: Mapping[str, str] | None = None,
        fixed: Mapping[str, float] | None = None,
        correlated: Sequence[str] = (),
        lkj_eta: float = 2.0,
        devices: int | Sequence[Device] | None = None,
    ):
        from ..hssm_bridge import make_params_op

        self.model = model
        self.data = data
        self.fixed = check_fixed(model.composition, fixed)
        names = tuple(n for n in model.param_names if n not in self.fixed)
        self.free_names: tuple[str, ...] = names
        """The sampled parameters: `param_names` less the fixed ones."""
        regressions = {
            n: r for n, r in parse_formulas(formulas, data, model.param_names).items() if not r.is_default
        }
        held = [n for n in (formulas or {}) if n in self.fixed]
        if held:
            raise ValueError(f"formulas and fixed both name {held}; a fixed parameter has no formula")
        self.regressions: dict[str, Regression] = regressions
        """The parameters with a formula other than the default, ``name -> Regression``."""
        correlated = _parameter_names("correlated", correlated, names)
        if not (math.isfinite(lkj_eta) and lkj_eta > 0):
            raise ValueError(f"lkj_eta must be positive and finite, got {lkj_eta!r}")
        priors = dict(priors or {})
        allowed = set(names) - {n for n, r in regressions.items() if r.common}
        allowed |= {v for n, r in regressions.items() for v in coefficient_names(n, r)}
        unknown = [k for k in priors if k not in allowed]
        if unknown:
            hint = [n for n in unknown if n in regressions]
            raise ValueError(
                f"priors: {unknown} are not parameters or coefficients of this model; allowed: {sorted(allowed)}"
                + (f". {hint} have covariates: give priors to their coefficients "
                   f"(e.g. {hint[0]}_Intercept, on the link scale) instead" if hint else "")
            )
        for var, spec in priors.items():  # read (and refused) before any work
            if var in names:
                prior_spec(var, spec)
            else:  # a formula's coefficient
                check_coefficient_prior(var, spec)
        scale = group_scales(group_sd, names, DEFAULT_GROUP_SD)

        centred = _parameter_names("centred", centred, names)
        both = [k for k in centred if k in regressions]
        if both:
            raise ValueError(f"centred: {both} have formulas; centring applies to the default formula only")
        layout = model.prepare(data)  # validates (DataError)
        # A LAN's training box against the priors x the data: one warning at most.
        check_decision_ranges(
            model, data,
            include=[{"name": n, "prior": p} for n, p in priors.items() if n in model.param_names]
            + [{"name": n, "prior": v} for n, v in self.fixed.items()],
            stacklevel=3,
        )
        self.participants = list(layout.participants)
        # The original data (missed trials as NaN), as to_hssm keeps it: what predictive
        # checks and range checks read from a fit.
        self.rlssm_data = data.copy()
        fastest = fastest_rts(layout, lapse=model.has_lapse)
        self.fastest_rt = fastest
        """Each participant's fastest response time (with a lapse mixture: the 5th
        percentile of their response times, where starting points keep ``t`` below)."""
        warn_fast_responses(model, layout, self.participants, stacklevel=3)
        per_row = [n for n in names if n in regressions]
        if devices is not None and per_row:
            raise ValueError(
                f"devices={devices!r}: {per_row} have formulas, so they take one value per row, and "
                "the sharded likelihood takes one per participant; fit without devices"
            )
        self.devices: tuple[Device, ...] | None = None if devices is None else check_devices(devices)
        """The devices the likelihood's participants are spread over (None: not sharded)."""

        # The likelihood of the parameters alone: one value per participant (per row for
        # a parameter with a formula) in; out, one log-likelihood per row of the data,
        # or with devices one per participant (the trial layout is fixed here); fixed
        # parameters enter as constants.
        op = make_params_op(self._likelihood_fn(), names)
        built = build_group_model(
            model, layout, op, names, regressions, priors, scale, centred, signed_spread,
            correlated, lkj_eta, fastest,
        )
        self._built: GroupModel = built
        self.pymc_model: pm.Model = built.pymc_model
        self.initvals = dict(built.initvals)
        self.group_vars: tuple[str, ...] = built.group_vars
        self._links = built.links
        self._signed: tuple[str, ...] = built.signed
        """Parameters whose spread and offsets the sampler moves as signed values."""
        self._internal: tuple[str, ...] = built.internal
        """Their free variables, dropped from the returned posterior (the signs are arbitrary)."""
        self._implied: tuple[str, ...] = built.implied
        """What the signed coordinates imply (spreads, offsets, group effects), checked in their place."""
        self._pooled: dict[tuple[int, int], dict[str, float]] = {}

    @property
    def sampler_only(self) -> tuple[str, ...]:
        """Free variables the sampler moves but the returned posterior drops: the signed
        spreads and offsets (``<name>_sigma_signed``, ``<name>_z_signed``), whose signs
        are arbitrary; what they imply (``<name>_sigma``, ``<name>_z``, group effects)
        is kept."""
        return self._internal

    def logp_fn(self, per_row: bool | None = None) -> Any:
        """The model's ``logp_fn`` for the data with the fixed parameters put in:
        ``f(params) -> (rows,)`` of the sampled parameters. ``per_row`` defaults to
        whether any parameter has a formula (then those take one value per row)."""
        per_row = bool(self.regressions) if per_row is None else per_row
        return _with_constants(self.model.logp_fn(self.data, per_row=per_row), self.fixed)

    def _likelihood_fn(self) -> Callable[[Mapping[str, Any]], Any]:
        """What the Op evaluates: `logp_fn` (one value per row), or with ``devices`` the
        sharded per-participant sums, fixed parameters put in."""
        if self.devices is None:
            return self.logp_fn()
        return _with_constants(sharded_logp_fn(self.model, self.data, self.devices), self.fixed)

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
        if (n_starts, seed) not in self._pooled:
            # The sharded likelihood where there is one: each call sums all participants.
            f = self.logp_fn(per_row=False) if self.devices is None else self._likelihood_fn()
            self._pooled[n_starts, seed] = pooled_optimum(f, self._built, self.fastest_rt, n_starts, seed)
        return dict(self._pooled[n_starts, seed])

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
            for name in self.free_names:
                lo, hi = self._built.support[name]
                value = self.initvals.get(name)
                centre[name] = float(default_start(lo, hi) if value is None else value)
        return chain_points(self._built, centre, self.fastest_rt, chains, seed, jitter)

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
        method: str = "nuts",
        **nuts_kwargs: Any,
    ) -> xr.DataTree:
        """NUTS (numpyro, through PyMC's JAX sampler), or a fast approximation.

        ``method="pathfinder"``, ``"advi"`` or ``"fullrank_advi"`` fits an approximation
        instead, for exploration (see [`approximate`][rlssm.fitting.approximate], which
        takes the keyword arguments such as ``iterations``; the NUTS settings
        ``chains``, ``tune``, ``target_accept``, ``chain_method`` and
        ``max_tree_depth`` do not apply): ``draws`` draws in one chain, in the same
        layout.

        ``target_accept`` defaults to 0.9 rather than NUTS' usual 0.8: each participant's
        ``t`` is pinned just below their fastest response, where the likelihood falls
        steeply, and with a small ``t_sigma`` that makes a narrow neck. On the seed model
        (exact ``Angle``, 4 x (1000 + 1000)) 0.8 gave 26 and 17 divergent draws of 4000
        (seeds 0, 1), 0.9 gave 17 and 14, for 10-25% more sampling time. Those
        divergences were NaN gradients of the bound on ``t`` (see
        [`softplus`][rlssm.fitting.links.softplus]); since that fix the seed model gives 0
        divergent draws at seeds 0 and 1, and so does the seed data cut to 16 x 240.

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
        than vectorised chains on the seed model here. A fit made with ``devices`` spreads
        every chain's participants over its devices instead, and ``"auto"`` runs the chains
        vectorised (``"parallel"`` is refused).

        With ``signed_spread`` (the default) the sampler's signed coordinates
        ``<name>_sigma_signed`` and ``<name>_z_signed`` are dropped from the posterior;
        ``<name>_sigma`` and ``<name>_z`` hold the spread and offsets they imply.

        Returns the posterior as a DataTree, with a ``log_likelihood`` group (variable
        ``loglik``, one value per row of the data, in its order) unless
        ``log_likelihood=False``. Importing PyMC's JAX sampler turns JAX's global
        ``jax_enable_x64`` on (a PyMC side effect; rlssm's float policy does not depend on it).
        """
        if method != "nuts":
            from .variational import approximate

            return approximate(
                self, method=method, draws=draws, seed=seed, log_likelihood=log_likelihood,
                init=init, jitter=jitter, progressbar=progressbar, **nuts_kwargs,
            )
        # Before the pooled start: a bad setting is named before any work.
        check_sampler_arguments(
            chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
            chain_method=chain_method, max_tree_depth=max_tree_depth, nuts_kwargs=nuts_kwargs,
        )
        if self.devices is not None:
            # Each chain's likelihood already spans the devices: the chains go side by side.
            if chain_method == "parallel":
                raise ValueError(
                    "chain_method='parallel' runs one chain per device, but this fit spreads each "
                    "chain's participants over the devices (devices=); use 'vectorized' (what "
                    "'auto' picks here) or 'sequential'"
                )
            if chain_method == "auto":
                chain_method = "vectorized"
        idata = run_nuts(
            self.pymc_model, self.initial_points(chains, seed=seed, jitter=jitter, init=init),
            chains=chains, tune=tune, draws=draws, seed=seed, target_accept=target_accept,
            chain_method=chain_method, max_tree_depth=max_tree_depth, progressbar=progressbar,
            nuts_kwargs=nuts_kwargs,
        )
        # Convergence checks run below, without the signed coordinates.
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
        checked += [model[name] for name in self._implied]
        log_warnings(run_convergence_checks(idata, SimpleNamespace(free_RVs=checked, deterministics=[])))

    # ------------------------------------------------------------------ posterior access
    def participant_draws(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, participants)`` natural-scale values of every sampled
        parameter with the default formula (``<name>_subj``). A parameter with a formula
        varies within participants: see `row_draws`."""
        return participant_values(self._built, idata)

    def row_draws(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, rows)`` natural-scale value of every parameter on
        every row of the data (fixed parameters included), rebuilt from the posterior
        with the fit's own design matrices."""
        rows = np.asarray(self.model.prepare(self.data).row_participant)
        return row_values(self._built, idata, rows, self.fixed, self.model.param_names)

    def pointwise_log_likelihood(self, idata: Any, chunk: int = 250) -> xr.Dataset:
        """Per-row log-likelihood of every posterior draw: ``loglik`` (chain, draw, __obs__)."""
        return pointwise_loglik(self.logp_fn(), draw_values(self._built, idata), chunk)

    def add_likelihood_parameters_to_datatree(self, idata: Any) -> Any:
        """A copy of ``idata`` whose posterior holds every parameter per row of the data.

        (The interface of ``hssm.HSSM`` that [`RLSSM.posterior_predictive`][rlssm.RLSSM.posterior_predictive] reads.)
        """
        import xarray as xr

        posterior = idata["posterior"].to_dataset()
        per_row = {n: (("chain", "draw", "__obs__"), v) for n, v in self.row_draws(idata).items()}
        clash = [n for n in self.model.param_names if n in posterior]
        return xr.DataTree.from_dict({"posterior": posterior.drop_vars(clash).assign(per_row)})



def _with_constants(f: Callable[[Mapping[str, Any]], Any], constants: Mapping[str, float]) -> Callable[[Mapping[str, Any]], Any]:
    """``f`` with the parameters in ``constants`` put in (``f`` itself where there are none)."""
    if not constants:
        return f
    constants = dict(constants)

    def with_fixed(params: Mapping[str, Any]) -> Any:
        return f({**params, **constants})

    return with_fixed
