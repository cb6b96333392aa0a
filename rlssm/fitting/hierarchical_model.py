"""The PyMC model of a hierarchical fit, and what reading its draws needs.

[`build_group_model`][rlssm.fitting.hierarchical_model.build_group_model] writes the
model that [`Hierarchical`][rlssm.fitting.Hierarchical] samples (the parameterisation
is described in the [module docs][rlssm.fitting.hierarchical]): group locations,
spreads and offsets per parameter, a formula's linear predictor per row, ``t`` held
below each participant's (or row's) fastest response, and the likelihood Op fed the
participants' values. It returns a
[`GroupModel`][rlssm.fitting.hierarchical_model.GroupModel], the record the starting
points ([`rlssm.fitting.hierarchical_starts`][rlssm.fitting.hierarchical_starts]) and
the per-participant outputs ([`rlssm.fitting.hierarchical_draws`][rlssm.fitting.hierarchical_draws])
read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import DataError
from .formulas import Regression
from .links import Link, check_prior_arguments, default_start, location, prior_spec
from .links import softplus as _softplus
from .nondecision import caps_ndt

if TYPE_CHECKING:
    import pymc as pm

    from ..data import TrialLayout
    from ..model import RLSSM

__all__ = [
    "COEFFICIENT_SD",
    "DEFAULT_GROUP_SD",
    "INIT_SIGMA",
    "ROW_CAP_SHARPNESS",
    "GroupModel",
    "build_group_model",
    "coefficient_names",
]


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

INIT_SIGMA = 0.2
"""A group spread's initial value (link scale), before the starting points' jitter."""


@dataclass(frozen=True, eq=False)
class GroupModel:
    """The PyMC model of a hierarchical fit and the pieces its draws are read with.

    Made by [`build_group_model`][rlssm.fitting.hierarchical_model.build_group_model].

    Attributes
    ----------
    pymc_model
        The PyMC model.
    free_names
        The sampled parameters, in the likelihood Op's input order.
    regressions
        The parameters with a formula other than the default, ``name -> Regression``.
    initvals
        Initial values of group variables (natural units for locations).
    group_vars
        The group-level variables, in model order.
    links
        Each sampled parameter's link between its bounds and the real line.
    support
        Each sampled parameter's location support ``(lower, upper)``.
    centred
        The centred parameters.
    signed
        Parameters whose spread and offsets the sampler moves as signed values.
    internal
        Their free variables (``<name>_sigma_signed``, ``<name>_z_signed``), dropped
        from the returned posterior: the signs are arbitrary.
    implied
        What the signed coordinates imply (spreads, offsets, group effects), checked
        for convergence in their place.
    pieces
        For each parameter with a formula, ``(variable, design matrix, natural)``
        triples whose sum on the link scale is its linear predictor per row
        (``natural``: the variable is a location in natural units).
    row_caps
        For a ``t`` with a formula, each row's cap on the link scale.
    """

    pymc_model: pm.Model
    free_names: tuple[str, ...]
    regressions: Mapping[str, Regression]
    initvals: Mapping[str, Any]
    group_vars: tuple[str, ...]
    links: Mapping[str, Link]
    support: Mapping[str, tuple[float, float]]
    centred: tuple[str, ...]
    signed: tuple[str, ...]
    internal: tuple[str, ...]
    implied: tuple[str, ...]
    pieces: Mapping[str, list[tuple[str, np.ndarray, bool]]]
    row_caps: Mapping[str, np.ndarray]


def build_group_model(
    model: RLSSM,
    layout: TrialLayout,
    op: Any,
    names: tuple[str, ...],
    regressions: Mapping[str, Regression],
    priors: Mapping[str, Any],
    scale: Mapping[str, float],
    centred: tuple[str, ...],
    signed_spread: bool,
    correlated: tuple[str, ...],
    lkj_eta: float,
    fastest: np.ndarray,
) -> GroupModel:
    """The hierarchical PyMC model of ``model`` on the data of ``layout``.

    Parameters
    ----------
    model
        The model.
    layout
        The data's trial layout (``model.prepare(data)``).
    op
        The likelihood: a PyTensor Op called with one input per name in ``names`` (a
        participant's values, ``(P,)``, or a formula's, one per row) whose outputs sum
        to the data's log-likelihood; added to the model as the ``loglik`` potential.
    names
        The sampled parameters (``model.param_names`` less the fixed ones).
    regressions
        Parameters with a formula other than the default.
    priors
        Location priors (natural units) and formula coefficients' priors, checked.
    scale
        Each parameter's spread prior scale (link scale).
    centred
        Parameters parameterised centred.
    signed_spread
        Whether non-centred spreads are sampled as signed values.
    correlated
        Parameters whose group effects of one factor are correlated (LKJ).
    lkj_eta
        The LKJ prior's concentration.
    fastest
        Each participant's fastest response time (``inf`` for none).

    Returns
    -------
    GroupModel
        The model and the record of what it is made of.

    Raises
    ------
    rlssm.DataError
        When a participant's fastest response (or a row's, for a ``t`` with a formula)
        is not above ``t``'s lower bound.
    """
    import pymc as pm
    import pytensor.tensor as pt

    participants = list(layout.participants)
    # Each row's response time (inf on missed trials): the cap of a t with a formula.
    position = np.asarray(layout.row_position)
    rt_rows = np.where(layout.observed.reshape(-1)[position], layout.rt.reshape(-1)[position], np.inf)
    pieces: dict[str, list[tuple[str, np.ndarray, bool]]] = {}
    row_caps: dict[str, np.ndarray] = {}
    implied: list[str] = []

    coords = {"participant_id": [str(p) for p in participants]}
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
                value, found, pieces[name], cap = _formula_predictor(
                    pm_model, model, regressions[name], link, priors, scale[name], signed_spread,
                    name in correlated, lkj_eta, rt_rows, implied, group_vars,
                )
                if cap is not None:
                    row_caps[name] = cap
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
                        f"participant {participants[i]!r}: fastest rt {fastest[i]!r} is not "
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
            initvals[f"{name}_sigma"] = INIT_SIGMA
            group_vars += [name, f"{name}_sigma"]
        loglik: Any = op(*subj)
        pm.Potential("loglik", loglik.sum())
    internal = [f"{n}_{v}_signed" for n in signed_names for v in ("sigma", "z")]
    internal += [f"{v}_{w}_signed" for v in implied for w in ("sigma", "z")]
    implied_names = [f"{n}_{v}" for n in signed_names for v in ("sigma", "z")]
    implied_names += [f"{v}{w}" for v in implied for w in ("_sigma", "")]
    return GroupModel(
        pymc_model=pm_model,
        free_names=tuple(names),
        regressions=dict(regressions),
        initvals={k: v for k, v in initvals.items() if v is not None},
        group_vars=tuple(group_vars),
        links=links,
        support=support,
        centred=tuple(centred),
        signed=tuple(signed_names),
        internal=tuple(internal),
        implied=tuple(implied_names),
        pieces=pieces,
        row_caps=row_caps,
    )


def _formula_predictor(
    pm_model: Any,
    model: RLSSM,
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
) -> tuple[Any, dict[str, Any], list[tuple[str, np.ndarray, bool]], np.ndarray | None]:
    """One parameter's linear predictor, per row of the data, as a PyMC expression.

    Returns the natural values ``(rows,)``, the initial values it suggests, the pieces
    (variable, design matrix, whether the variable is a natural-unit location) that
    [`row_draws`][rlssm.fitting.hierarchical_draws.row_draws] rebuilds the same values
    from, and, for a ``t``, each row's cap on the link scale (else None). Appends the
    signed group terms to ``implied`` and the group variables to ``group_vars``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    name = reg.param
    lower, upper = link.lower, link.upper
    n_rows = len(rt_rows)
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
                initvals[f"{var}_sigma"] = INIT_SIGMA
            else:
                sigma = pm.HalfNormal(f"{var}_sigma", sigma=scale, shape=shape, dims=_expr_dim(var, term))
                z = pm.Normal(f"{var}_z", 0.0, 1.0, shape=offsets_shape)
                raw = z * _reshape(sigma, (1, -1))
            b = _effects(pm_model, var, raw, term, factor_dim)
            eta = eta + pt.dot(term.design, _reshape(b, (-1,)))
            pieces.append((var, term.design, False))
            group_vars.append(f"{var}_sigma")
    cap = None
    if caps_ndt(model, name):
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
        # = cap - softplus(k (cap - eta)) / k: eta itself up to 0.013 link units until
        # 0.2 below the cap (k = 10), then bending onto it.
        eta = eta - _softplus(ROW_CAP_SHARPNESS * (eta - cap)) / ROW_CAP_SHARPNESS
    return link.inverse(eta), initvals, pieces, cap


def coefficient_names(name: str, reg: Regression) -> list[str]:
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


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    """A PyTensor variable reshaped (``pt.reshape`` is not exported for type checkers)."""
    return x.reshape(shape)
