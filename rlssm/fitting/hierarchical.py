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
from ..engine import check_fixed
from .formulas import Regression, parse_formulas
from .nondecision import NDT_NAME, caps_ndt, fastest_rts, warn_fast_responses
from .nuts import check_sampler_arguments, run_nuts
from .links import Link, check_coefficient_prior, check_prior_arguments, default_start, group_scales, inside
from .links import link_inverse, location, prior_spec
from .links import softplus as _softplus
from ..hssm_bridge import check_decision_ranges

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

    from ..model import RLSSM

__all__ = ["COEFFICIENT_SD", "DEFAULT_GROUP_SD", "NDT_NAME", "ROW_CAP_SHARPNESS", "Hierarchical", "group_summary"]


DEFAULT_GROUP_SD = 0.5
"""Scale of the ``HalfNormal`` prior on a group spread ``p_sigma`` (link scale)."""

COEFFICIENT_SD = 1.0
"""Default prior scale of a formula's coefficients on the link scale: ``Normal(0, 1)``
for each coefficient, ``Normal(link(middle of the bounds), 1)`` for the intercept."""

ROW_CAP_SHARPNESS = 10.0
"""How sharply a ``t`` with a formula bends below each row's response time on its link
scale: ``eta_t = cap - softplus(k (cap - eta)) / k``. With ``k = 1`` (the bend of the
participant-level ``t``, where it is a change of variables and leaves the model as it
is) the per-row bend would move a row's ``t`` by up to a link unit below its rt and let
a slow ``t`` fit fast responses; with ``k = 10`` the value is ``eta`` to within 0.013
until 0.2 below the cap."""

_INIT_SIGMA = 0.2


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
    ):
        import pymc as pm
        import pytensor.tensor as pt

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
        allowed |= {v for n, r in regressions.items() for v in _coefficient_names(n, r)}
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

        # The likelihood of the parameters alone: one value per participant (per row for
        # a parameter with a formula) in, one log-likelihood per row of the data out (the
        # trial layout is fixed here); fixed parameters enter as constants.
        op = make_params_op(self.logp_fn(), names)
        # Each row's response time (inf on missed trials): the cap of a t with a formula.
        position = np.asarray(layout.row_position)
        rt_rows = np.where(layout.observed.reshape(-1)[position], layout.rt.reshape(-1)[position], np.inf)
        self._pieces: dict[str, list[tuple[str, np.ndarray, bool]]] = {}
        self._row_cap: dict[str, np.ndarray] = {}
        implied: list[str] = []

        coords = {"participant_id": [str(p) for p in self.participants]}
        initvals: dict[str, Any] = {}
        support: dict[str, tuple[float, float]] = {}
        links: dict[str, Link] = {}
        group_vars: list[str] = []
        signed_names: list[str] = []
        with pm.Model(coords=coords) as pm_model:
            subj = []
            for name in names:
                lower, upper = model.bounds[name]
                link = Link(lower, upper)
                if name in regressions:
                    links[name] = link
                    value, found = self._regression(
                        pm_model, regressions[name], link, priors, scale[name], signed_spread,
                        name in correlated, lkj_eta, rt_rows, implied, group_vars,
                    )
                    subj.append(value)
                    support[name] = (lower, upper)
                    initvals.update(found)
                    continue
                loc, init, support[name] = location(name, priors.get(name), lower, upper)
                links[name] = link
                mu: Any = link.forward(loc)
                # Participants whose fastest response lies below t's upper bound.
                capped = np.isfinite(fastest) & (fastest < upper)
                is_capped = caps_ndt(model, name) and bool(capped.any())
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
                            f"{name}_eta", xi - _softplus(xi - cap_eta), dims="participant_id"
                        )
                        prior_eta: Any = pm.logp(pm.Normal.dist(mu=mu, sigma=sigma), eta)
                        jacobian: Any = _softplus(xi - cap_eta)
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
                            f"{name}_z", zeta - _softplus(zeta - c), dims="participant_id"
                        )
                        prior_z: Any = pm.logp(pm.Normal.dist(), z)
                        jac_z: Any = _softplus(zeta - c)
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
        internal = [f"{n}_{v}_signed" for n in signed_names for v in ("sigma", "z")]
        internal += [f"{v}_{w}_signed" for v in implied for w in ("sigma", "z")]
        self._internal: tuple[str, ...] = tuple(internal)
        """Their free variables, dropped from the returned posterior (the signs are arbitrary)."""
        self._implied: tuple[str, ...] = tuple(
            [f"{n}_{v}" for n in signed_names for v in ("sigma", "z")] + [f"{v}{w}" for v in implied for w in ("_sigma", "")]
        )
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
        f = self.model.logp_fn(self.data, per_row=per_row)
        constants = dict(self.fixed)
        if not constants:
            return f

        def with_fixed(params: Mapping[str, Any]) -> Any:
            return f({**params, **constants})

        return with_fixed

    def _regression(
        self,
        pm_model: Any,
        reg: Regression,
        link: Link,
        priors: Mapping[str, Any],
        scale: float,
        signed_spread: bool,
        correlated: bool,
        lkj_eta: float,
        rt_rows: np.ndarray,
        implied: list[str],
        group_vars: list[str],
    ) -> tuple[Any, dict[str, Any]]:
        """One parameter's linear predictor, per row of the data, as a PyMC expression.

        Returns the natural values ``(rows,)`` and the initial values it suggests. Records
        the pieces (variable, design matrix, whether the variable is a natural-unit
        location) that `row_draws` rebuilds the same values from.
        """
        import pymc as pm
        import pytensor.tensor as pt

        name = reg.param
        lower, upper = link.lower, link.upper
        n_rows = len(self.data)
        pieces: list[tuple[str, np.ndarray, bool]] = []
        initvals: dict[str, Any] = {}
        eta: Any = pt.zeros(n_rows)
        if reg.intercept:
            ones = np.ones((n_rows, 1))
            if reg.common:
                var = f"{name}_Intercept"
                centre = float(link.forward(default_start(lower, upper)))
                b0 = _coefficient(var, priors.get(var), centre, COEFFICIENT_SD, None, None)
                pieces.append((var, ones, False))
                eta = eta + b0
            else:
                loc, init, _ = location(name, priors.get(name), lower, upper)
                var = name
                pieces.append((var, ones, True))
                eta = eta + link.forward(loc)
                initvals[name] = init
            group_vars.append(var)
        for term in reg.common:
            var = f"{name}_{term.name}"
            k = term.columns.shape[1]
            dims = None
            if term.levels is not None:
                dims = f"{var}_dim"
                pm_model.add_coord(dims, list(term.levels))
            beta = _coefficient(var, priors.get(var), 0.0, COEFFICIENT_SD, (k,) if dims is None and k > 1 else None, dims)
            flat = beta if dims is not None or k > 1 else _reshape(beta, (1,))
            pieces.append((var, term.columns, False))
            eta = eta + pt.dot(term.columns, flat)
            group_vars.append(var)
        by_factor: dict[str, list[Any]] = {}
        for term in reg.group:
            by_factor.setdefault(term.factor, []).append(term)
        for factor, terms in by_factor.items():
            groups = terms[0].groups
            factor_dim = f"{factor}__factor_dim"
            if factor_dim not in pm_model.coords:
                pm_model.add_coord(factor_dim, list(groups))
            elif tuple(pm_model.coords[factor_dim]) != tuple(groups):
                raise ValueError(f"formula of {name!r}: levels of {factor!r} differ between terms")
            total = sum(t.k for t in terms)
            if correlated and total > 1:
                # Correlated effects of one factor: b_g = L z_g, L the Cholesky factor of
                # an LKJ covariance (non-centred).
                chol: Any
                stds: Any
                chol, _, stds = pm.LKJCholeskyCov(
                    f"{name}_{factor}", n=total, eta=lkj_eta,
                    sd_dist=pm.HalfNormal.dist(sigma=scale, shape=total), compute_corr=True,
                )
                z = pm.Normal(f"{name}_{factor}_z", 0.0, 1.0, shape=(len(groups), total))
                effects = pt.dot(z, chol.T)
                start = 0
                for term in terms:
                    var = f"{name}_{term.name}"
                    cols = slice(start, start + term.k)
                    b = _effects(pm_model, var, effects[:, cols], term, factor_dim)
                    sd_dim = _expr_dim(var, term)
                    pm.Deterministic(f"{var}_sigma", stds[cols] if sd_dim is not None else stds[start], dims=sd_dim)
                    eta = eta + pt.dot(term.design, _reshape(b, (-1,)))
                    pieces.append((var, term.design, False))
                    group_vars.append(f"{var}_sigma")
                    start += term.k
                group_vars.append(f"{name}_{factor}_corr")
                continue
            for term in terms:
                var = f"{name}_{term.name}"
                shape = (term.k,) if term.k > 1 or term.levels is not None else ()
                offsets_shape = (len(groups), term.k)
                if signed_spread:
                    signed = pm.Normal(f"{var}_sigma_signed", 0.0, scale, shape=shape)
                    pm.Deterministic(f"{var}_sigma", pt.abs(signed), dims=_expr_dim(var, term))
                    zs = pm.Normal(f"{var}_z_signed", 0.0, 1.0, shape=offsets_shape)
                    raw = zs * _reshape(signed, (1, -1))
                    implied.append(var)
                    initvals[f"{var}_sigma"] = _INIT_SIGMA
                else:
                    sigma = pm.HalfNormal(f"{var}_sigma", sigma=scale, shape=shape, dims=_expr_dim(var, term))
                    z = pm.Normal(f"{var}_z", 0.0, 1.0, shape=offsets_shape)
                    raw = z * _reshape(sigma, (1, -1))
                b = _effects(pm_model, var, raw, term, factor_dim)
                eta = eta + pt.dot(term.design, _reshape(b, (-1,)))
                pieces.append((var, term.design, False))
                group_vars.append(f"{var}_sigma")
        if caps_ndt(self.model, name):
            # Each row's t below that row's response time, smoothly on the link scale:
            # far below the cap the map is the identity (rows of missed trials have none).
            observed = np.isfinite(rt_rows)
            too_fast = np.flatnonzero(observed & (rt_rows <= lower))
            if too_fast.size:
                i = int(too_fast[0])
                raise DataError(
                    f"row {i}: rt {rt_rows[i]!r} is not above the lower bound of {name!r} ({lower}); "
                    "no non-decision time fits"
                )
            capped = observed & (rt_rows < upper)
            middle = 0.5 * (lower + upper) if math.isfinite(upper) else lower + 1.0
            cap = np.where(capped, link.forward(np.where(capped, rt_rows, middle)), 1e3)
            self._row_cap[name] = cap
            # = cap - softplus(k (cap - eta)) / k: eta itself up to 0.013 link units until
            # 0.2 below the cap (k = 10), then bending onto it.
            eta = eta - _softplus(ROW_CAP_SHARPNESS * (eta - cap)) / ROW_CAP_SHARPNESS
        self._pieces[name] = pieces
        return link.inverse(eta), initvals

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
        names = self.free_names
        f = self.logp_fn(per_row=False)
        fastest = float(np.min(self.fastest_rt))
        box = []
        for name in names:
            lo, hi = self._support[name]
            if name == NDT_NAME and math.isfinite(fastest):
                hi = min(hi, fastest)  # capped: below every fastest response; lapses: start there
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
            for name in self.free_names:
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
            for name in self.free_names:
                link = self._links[name]
                lo, hi = self._support[name]
                eta = float(link.forward(float(centre[name]))) + rng.uniform(-jitter, jitter)
                value = float(link_inverse(link, eta))
                if name == NDT_NAME:
                    # Below every participant's fastest response (with a lapse mixture: below
                    # the fastest responses but the guesses), with room to spare.
                    value = min(value, 0.9 * float(np.min(fastest)))
                if name in self.regressions:
                    self._regression_start(point, name, value, rng, jitter)
                    continue
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

    def _regression_start(
        self, point: dict[str, np.ndarray], name: str, value: float, rng: np.random.Generator, jitter: float
    ) -> None:
        """A parameter with a formula starts with every row near ``value``: the intercept
        there, coefficients near 0, spreads near 0.2 and small offsets (values in the
        variables' own units, as PyMC's initial values are)."""
        model = self.pymc_model
        link = self._links[name]
        lo, hi = self._support[name]
        free = {v.name for v in model.free_RVs}

        def shape(var: str) -> tuple[int, ...]:
            return tuple(int(d) for d in model[var].shape.eval())

        for var, _, natural in self._pieces[name]:
            if natural:
                point[var] = np.asarray(inside(value, lo, hi))
            elif var == f"{name}_Intercept":
                point[var] = np.asarray(float(link.forward(inside(value, lo, hi))))
            elif var in free:  # a coefficient
                point[var] = rng.uniform(-0.1 * jitter, 0.1 * jitter, shape(var))
            else:  # group effects: a Deterministic of a spread and offsets
                for spread, offsets in ((f"{var}_sigma_signed", f"{var}_z_signed"), (f"{var}_sigma", f"{var}_z")):
                    if spread in free:
                        point[spread] = _INIT_SIGMA * np.exp(rng.uniform(-jitter, jitter, shape(spread)))
                        point[offsets] = rng.uniform(-2 * jitter, 2 * jitter, shape(offsets))
                        break

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
        than vectorised chains on the seed model here.

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
        posterior = idata["posterior"]
        with_formula = [n for n in self.free_names if n in self.regressions]
        if with_formula:
            raise ValueError(
                f"{with_formula} have formulas, so their values vary by row: use row_draws(idata)"
            )
        return {n: np.asarray(posterior[f"{n}_subj"].values, dtype=float) for n in self.free_names}

    def row_draws(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, rows)`` natural-scale value of every parameter on
        every row of the data (fixed parameters included), rebuilt from the posterior
        with the fit's own design matrices."""
        posterior = idata["posterior"]
        rows = np.asarray(self.model.prepare(self.data).row_participant)
        out = self._draw_values(idata)
        out = {n: v if n in self.regressions else v[:, :, rows] for n, v in out.items()}
        shape = next(iter(out.values())).shape[:2]
        for name, value in self.fixed.items():
            out[name] = np.full((*shape, len(rows)), value)
        return {n: out[n] for n in self.model.param_names}

    def _formula_rows(self, posterior: Any, name: str) -> np.ndarray:
        """``(chains, draws, rows)`` of a parameter with a formula, from the pieces that
        built its linear predictor in the PyMC model."""
        link = self._links[name]
        eta: Any = 0.0
        for var, matrix, natural in self._pieces[name]:
            x = np.asarray(posterior[var].values, dtype=float)
            x = x.reshape(x.shape[0], x.shape[1], -1)
            if natural:
                x = link.forward(x)
            eta = eta + x @ matrix.T
        cap = self._row_cap.get(name)
        if cap is not None:
            eta = eta - np.logaddexp(0.0, ROW_CAP_SHARPNESS * (eta - cap)) / ROW_CAP_SHARPNESS
        return link.inverse(eta)

    def _draw_values(self, idata: Any) -> dict[str, np.ndarray]:
        """``name -> (chains, draws, units)`` of the sampled parameters, in the units the
        fit's `logp_fn` takes (rows for a parameter with a formula, else participants)."""
        posterior = idata["posterior"]
        return {
            n: self._formula_rows(posterior, n) if n in self.regressions
            else np.asarray(posterior[f"{n}_subj"].values, dtype=float)
            for n in self.free_names
        }

    def pointwise_log_likelihood(self, idata: Any, chunk: int = 250) -> xr.Dataset:
        """Per-row log-likelihood of every posterior draw: ``loglik`` (chain, draw, __obs__)."""
        import jax
        import xarray as xr

        draws = self._draw_values(idata)
        n_chain, n_draw, _ = next(iter(draws.values())).shape
        f = self.logp_fn()
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

        posterior = idata["posterior"].to_dataset()
        per_row = {n: (("chain", "draw", "__obs__"), v) for n, v in self.row_draws(idata).items()}
        clash = [n for n in self.model.param_names if n in posterior]
        return xr.DataTree.from_dict({"posterior": posterior.drop_vars(clash).assign(per_row)})


def _coefficient_names(name: str, reg: Regression) -> list[str]:
    """The population-level coefficients of a formula that take priors by name."""
    out = [f"{name}_Intercept"] if reg.intercept and reg.common else []
    return out + [f"{name}_{t.name}" for t in reg.common]


def _coefficient(var: str, spec: Any, mu: float, sigma: float, shape: tuple[int, ...] | None, dims: str | None) -> Any:
    """A coefficient on the link scale: ``Normal(mu, sigma)`` or the prior ``spec``."""
    import pymc as pm

    if spec is None:
        return pm.Normal(var, mu, sigma, shape=shape, dims=dims)
    dist, kwargs = prior_spec(var, spec)
    check_prior_arguments(var, dist, kwargs)
    kwargs.pop("initval", None)
    factory = getattr(pm, dist, None)
    if factory is None or not hasattr(factory, "dist"):
        raise ValueError(f"priors[{var!r}]: {dist!r} is not a PyMC distribution")
    return factory(var, **kwargs, shape=shape, dims=dims)


def _expr_dim(var: str, term: Any) -> str | None:
    """The dimension of a group term's expression columns (None for a single numeric one)."""
    import pymc as pm

    if term.k == 1 and term.levels is None:
        return None
    dim = f"{var}__expr_dim"
    model: Any = pm.modelcontext(None)
    if dim not in model.coords:
        model.add_coord(dim, list(term.levels) if term.levels is not None else [str(c) for c in range(term.k)])
    return dim


def _effects(pm_model: Any, var: str, raw: Any, term: Any, factor_dim: str) -> Any:
    """The group effects ``(groups, k)`` as the Deterministic ``var`` (bambi's name)."""
    import pymc as pm

    dim = _expr_dim(var, term)
    if dim is None:
        return pm.Deterministic(var, raw[:, 0], dims=factor_dim)
    return pm.Deterministic(var, raw, dims=(factor_dim, dim))


def group_summary(fit: Hierarchical, idata: Any, truth: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Posterior mean, 5%/95% quantiles, R-hat and bulk ESS of the group variables.

    A variable with a dimension (a categorical coefficient, the spreads of several
    slopes) gives one row per element, named as ArviZ names it (``a_condition[drug]``).
    """
    import arviz as az

    posterior = idata["posterior"]
    names = list(fit.group_vars)
    ess = az.ess(idata, var_names=names, method="bulk")
    rhat = az.rhat(idata, var_names=names)
    ess = ess["posterior"] if hasattr(ess, "children") and "posterior" in ess.children else ess
    rhat = rhat["posterior"] if hasattr(rhat, "children") and "posterior" in rhat.children else rhat
    rows = []
    for name in names:
        var = posterior[name]
        extra = [d for d in var.dims if d not in ("chain", "draw")]
        x = np.asarray(var.values, dtype=float).reshape(var.shape[0], var.shape[1], -1)
        e = np.asarray(ess[name], dtype=float).reshape(-1)
        r = np.asarray(rhat[name], dtype=float).reshape(-1)
        if extra:
            labels = [",".join(str(c) for c in combo) for combo in _coordinate_product(var, extra)]
        else:
            labels = [None]
        for j, label in enumerate(labels):
            key = name if label is None else f"{name}[{label}]"
            values = x[:, :, j]
            row = {
                "param": key,
                "mean": float(values.mean()),
                "q05": float(np.quantile(values, 0.05)),
                "q95": float(np.quantile(values, 0.95)),
            }
            if truth is not None and key in truth:
                row["truth"] = float(truth[key])
            row["ess_bulk"] = float(e[j])
            row["r_hat"] = float(r[j])
            rows.append(row)
    out = pd.DataFrame(rows).set_index("param")
    columns = ["mean", "q05", "q95"] + (["truth"] if "truth" in out.columns else []) + ["ess_bulk", "r_hat"]
    return cast(pd.DataFrame, out[columns])


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    """A PyTensor variable reshaped (``pt.reshape`` is not exported for type checkers)."""
    return x.reshape(shape)


def _coordinate_product(var: Any, dims: Sequence[str]) -> list[tuple[Any, ...]]:
    """Every combination of the coordinates of ``dims``, in C order."""
    import itertools

    return list(itertools.product(*[list(np.asarray(var[d].values)) for d in dims]))
