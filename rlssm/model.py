"""`RLSSM`: a learning rule, a mapping and a decision model composed into one model.

The composition and a thin facade: what the model *is* (parameter names, bounds, extra
fields, choices, float policy) lives here; how it is evaluated and simulated lives in
the engine ([`rlssm.internal`][rlssm.internal]) and its consumers (simulation, the HSSM
bridge), which the methods below call.
"""

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._precision import check_precision, precision_scope
from ._spec import split_decl
from ._types import Array, Bounds, Float, Precision
from .data import TrialLayout, prepare
from .decision.base import AbstractDecisionModel
from .engine import RL_PREFIX, Composition, check_bounds, evaluate, make_logp_fn
from .environments import AbstractEnvironment
from .learning.base import AbstractLearningRule
from .mapping import AbstractMapping, DriftScaling

if TYPE_CHECKING:
    import hssm
    import pytensor.graph.op

__all__ = ["RL_PREFIX", "RLSSM"]


class RLSSM(eqx.Module):
    """A reinforcement-learning sequential-sampling model, composed from parts.

    Everything else is derived from the three components: the parameter list, bounds,
    extra data fields, the vmapped JAX log-likelihood, the PyTensor Op, the
    ``hssm.ModelConfig`` and the simulator.

    Parameters
    ----------
    learning_rule
        How values change after each trial (e.g. [`DualRateRW`][rlssm.DualRateRW]).
    decision_model
        The likelihood of (rt, choice) on a trial (e.g. [`Angle`][rlssm.Angle]).
    mapping
        Values to decision parameters; default [`DriftScaling`][rlssm.DriftScaling].
    choices
        The data's response values in option order: option ``k`` is ``choices[k]``
        (default ``(0, 1)``). For two-boundary models option 1 is the upper boundary.
    bounds
        Overrides of the components' default bounds, ``name -> (lower, upper)``: the
        open interval a fit's priors and links keep the parameter in. It must lie
        within the component's domain (where the process is defined, e.g. ``z`` in
        ``(0, 1)``; see [`Domain`][rlssm.engine.Domain]).
    precision
        The float policy: ``"float64"`` (default; reference accuracy) or ``"float32"``
        (faster). All computations of the model run in this dtype, whatever JAX's
        global ``jax_enable_x64`` flag says.

    Examples
    --------
    ```python
    model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Angle())
    model.param_names  # ('rl_alpha', 'rl_alpha_neg', 'scaler', 'a', 'z', 't', 'theta')
    ll = model.loglik(data, params)
    ```
    """

    composition: Composition
    choices: tuple[Hashable, ...] = eqx.field(static=True)
    precision: Precision = eqx.field(static=True)
    _bounds: tuple[tuple[str, Bounds], ...] = eqx.field(static=True)

    def __init__(
        self,
        learning_rule: AbstractLearningRule,
        decision_model: AbstractDecisionModel,
        mapping: AbstractMapping | None = None,
        *,
        choices: Sequence[Hashable] = (0, 1),
        bounds: Mapping[str, Bounds] | None = None,
        precision: Precision = "float64",
    ):
        if isinstance(choices, (str, bytes)):
            raise TypeError(f"choices must be a sequence of response values, e.g. (0, 1), got the string {choices!r}")
        self.choices = tuple(choices)
        self.precision = check_precision(precision)
        if any(isinstance(c, float) and math.isnan(c) for c in self.choices):
            raise ValueError(f"choices must be response values, not NaN (NaN marks a missed response), got {self.choices!r}")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"choices must be distinct, got {self.choices!r}")
        self.composition = Composition(
            learning_rule, DriftScaling() if mapping is None else mapping, decision_model, len(self.choices)
        )
        merged = self.composition.default_bounds
        for name, bound in (bounds or {}).items():
            if name not in merged:
                raise ValueError(
                    f"bounds: {name!r} is not a parameter of this model; parameters are "
                    f"{tuple(merged)}"
                )
            if not (isinstance(bound, (tuple, list)) and len(bound) == 2):
                raise ValueError(f"bounds: {name!r} needs a (lower, upper) pair, got {bound!r}")
            lower, upper = float(bound[0]), float(bound[1])
            if not lower < upper:  # NaN fails this too
                raise ValueError(f"bounds: {name!r} needs lower < upper, got {bound!r}")
            merged[name] = (lower, upper)
            check_bounds(self.composition, {name: merged[name]})  # within the component's domain
        self._bounds = tuple(merged.items())

    def __check_init__(self) -> None:
        decision = self.decision_model
        if len(self.choices) != decision.n_options:
            raise ValueError(
                f"choices={self.choices!r} lists {len(self.choices)} options but "
                f"{type(decision).__name__} has {decision.n_options}"
            )

    # ------------------------------------------------------------------ components
    @property
    def learning_rule(self) -> AbstractLearningRule:
        """The learning rule."""
        return self.composition.learning_rule

    @property
    def mapping(self) -> AbstractMapping:
        """The mapping."""
        return self.composition.mapping

    @property
    def decision_model(self) -> AbstractDecisionModel:
        """The decision model."""
        return self.composition.decision_model

    # ------------------------------------------------------------------ derived lists
    @property
    def param_names(self) -> tuple[str, ...]:
        """Sampled parameters: ``rl_``-prefixed rule parameters, mapping, decision."""
        return self.composition.param_names

    @property
    def bounds(self) -> dict[str, Bounds]:
        """``name -> (lower, upper)`` for every parameter (defaults plus overrides)."""
        return dict(self._bounds)

    @property
    def default_params(self) -> dict[str, float]:
        """A default value of every parameter: the component's (declared, else from its
        bounds), or, where `bounds` overrides a parameter's bounds, derived from those."""
        declared, component = self.composition.defaults, self.composition.default_bounds
        return {
            name: declared[name] if bound == component[name] else split_decl(name, bound)[1]
            for name, bound in self._bounds
        }

    @property
    def extra_fields(self) -> tuple[str, ...]:
        """Data columns besides rt and response (``block``/``state`` added per data)."""
        return ("participant_id", "trial_id", *self.composition.data_fields)

    def extra_fields_for(self, data: pd.DataFrame) -> tuple[str, ...]:
        """`extra_fields` plus ``block`` and ``state`` where ``data`` has them."""
        return self.extra_fields + tuple(c for c in ("block", "state") if c in data.columns)

    @property
    def has_lapse(self) -> bool:
        """True when the decision model mixes in a lapse process (parameter
        ``p_outlier``; see [`Lapse`][rlssm.Lapse])."""
        return self.decision_model.has_lapse

    def without_lapse(self) -> "RLSSM":
        """The same model without its lapse mixture (itself when it has none): the
        components, choices, precision and bounds (less ``p_outlier``'s) are kept."""
        if not self.has_lapse:
            return self
        comp = self.composition
        inner = comp.decision_model.without_lapse()
        bounds = {k: v for k, v in self._bounds if k != "p_outlier"}
        return RLSSM(
            comp.learning_rule, inner, comp.mapping, choices=self.choices, bounds=bounds, precision=self.precision
        )

    @property
    def n_options(self) -> int:
        """Number of response options."""
        return len(self.choices)

    # ------------------------------------------------------------------ data
    def prepare(self, data: pd.DataFrame) -> TrialLayout:
        """Validate ``data`` for this model and arrange it (see `rlssm.data.prepare`)."""
        comp = self.composition
        return prepare(
            data, self.choices, comp.data_fields, cues=comp.learning_rule.cues,
            with_rt=not comp.decision_model.choice_only, domains=comp.learning_rule.field_domains,
        )

    # ------------------------------------------------------------------ likelihood
    def logp_fn(
        self, data: pd.DataFrame, *, per_row: bool = True
    ) -> Callable[[Mapping[str, Any]], Float[Array, " rows"]]:
        """A pure JAX function ``f(params) -> per-row log-likelihood`` for ``data``.

        ``f`` is jit- and grad-able; ``params`` maps every name in `param_names` to a
        scalar, one value per participant (a ``pandas.Series`` indexed by
        ``participant_id``, or an array in sorted ``participant_id`` order) or one per
        row of ``data``. The result has one entry per row of ``data``, in its order,
        in the dtype of the model's ``precision``. With ``per_row=False`` per-row
        values are refused and a 1-D array is always per participant (no ambiguity
        when every participant has one row).
        """
        return make_logp_fn(self.composition, self.prepare(data), self.precision, per_row=per_row)

    def simulate(
        self,
        params: Mapping[str, Any],
        env: AbstractEnvironment,
        n_participants: int,
        n_trials: int,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Simulate the closed loop: values -> decision -> (rt, choice) -> feedback -> update.

        ``params`` maps every name in `param_names` to a scalar or one value per
        participant. Returns a DataFrame with ``participant_id`` (0..n-1), ``trial_id``
        (0..n_trials-1), ``response`` (values of `choices`), ``rt``, ``feedback`` and
        ``correct``.
        """
        from .simulation import simulate

        return simulate(self, params, env, n_participants=n_participants, n_trials=n_trials, seed=seed)

    def posterior_predictive(
        self,
        hm: Any,
        idata: Any,
        mode: str = "conditional",
        env: AbstractEnvironment | None = None,
        n_draws: int | None = 100,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Predictive data sets from the posterior of ``hm`` (built by `to_hssm`).

        ``mode="conditional"`` replays the observed history one step ahead (rows align
        with the data); ``mode="generative"`` simulates fresh choices and feedback in
        ``env``. Per-trial parameters come from the fitted HSSM model, so formulas
        with covariates work (conditional mode). Returns a DataFrame with ``chain``,
        ``draw``, ``participant_id``, ``trial_id``, ``response``, ``rt``,
        ``feedback`` (and ``correct`` in generative mode). See `rlssm.simulation`.
        """
        from .simulation import posterior_predictive

        return posterior_predictive(self, hm, idata, mode=mode, env=env, n_draws=n_draws, seed=seed)  # type: ignore[arg-type]

    def loglik(self, data: pd.DataFrame, params: Mapping[str, Any]) -> np.ndarray:
        """Log-likelihood of every row of ``data`` (numpy, same row order).

        Missed trials (rt and response NaN) contribute 0.0. Parameters may be scalars,
        per-participant arrays or Series, or per-row arrays (see the data docs).
        """
        layout = self.prepare(data)
        out = evaluate(self.composition, layout, params, self.precision)
        self.decision_model.check_params({k: np.asarray(v)[layout.observed] for k, v in out.params.items()})
        return layout.to_rows(np.asarray(out.logp))

    def values(self, data: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        """Per row: the rule's state before the trial, and the decision parameters.

        Columns ``value_<choice>`` for each response value in `choices`; then, for a
        rule that keeps more than values, each named part of its state (``<part>_<choice>``
        for a part with one entry per option, ``<part>`` for a scalar part); then one
        column per decision-model parameter (computed ones such as ``v`` included).
        The index is ``data``'s.
        """
        layout = self.prepare(data)
        out = evaluate(self.composition, layout, params, self.precision)
        rule = self.learning_rule
        columns: dict[str, np.ndarray] = {}
        with precision_scope(self.precision):
            # The rule's reader sees one trial's state: vmap it over the rows.
            states = jax.tree.map(lambda x: jnp.asarray(layout.to_rows(np.asarray(x))), out.states)
            named = {k: np.asarray(v) for k, v in jax.vmap(rule.named_state)(states).items()}
        values = layout.to_rows(np.asarray(out.values))
        columns |= {f"value_{c}": values[:, k] for k, c in enumerate(self.choices)}
        for part, x in named.items():
            rows = np.asarray(x)
            if rows.ndim == 1:
                columns[part] = rows
            elif rows.shape[1:] == (self.n_options,):
                columns |= {f"{part}_{c}": rows[:, k] for k, c in enumerate(self.choices)}
            else:  # other shapes: one column per entry
                flat = rows.reshape(rows.shape[0], -1)
                columns |= {f"{part}_{i}": flat[:, i] for i in range(flat.shape[1])}
        columns |= {k: layout.to_rows(np.asarray(out.params[k])) for k in self.decision_model.param_names}
        return pd.DataFrame(columns, index=data.index)

    # ------------------------------------------------------------------ HSSM bridge
    def logp_op(self, data: pd.DataFrame | None = None) -> "pytensor.graph.op.Op":
        """A PyTensor Op (with a VJP Op) in HSSM's log-likelihood convention.

        ``op(data_matrix, *params, *extra_fields)``: ``data_matrix`` has columns rt and
        response (the data's coding), then one vector (or scalar) per name in
        `param_names`, then one vector per name in `extra_fields` (plus ``block`` /
        ``state`` where the data has them). Returns the per-row log-likelihood.
        With ``data``, the trial layout is fixed at construction (what
        [`to_hssm`][rlssm.RLSSM.to_hssm] uses); without, it is derived from the inputs.
        """
        from .hssm_bridge import make_logp_op

        return make_logp_op(self, data)

    def model_config(self, data: pd.DataFrame | None = None) -> "hssm.ModelConfig":
        """An ``hssm.ModelConfig`` carrying the Op, bounds, extra fields, choices, simulator."""
        from .hssm_bridge import make_model_config

        return make_model_config(self, data)

    def to_hssm(
        self,
        data: pd.DataFrame,
        include: Sequence[Any] | None = None,
        fixed: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> "hssm.HSSM":
        """An ``hssm.HSSM`` for ``data``, ready to ``.sample()``.

        ``include`` takes ``hssm.Param`` specifications as in HSSM; ``fixed`` holds
        parameters at constants (``{"s": 1.0}``, HSSM's scalar prior); other keyword
        arguments go to ``hssm.HSSM``. Its log-likelihood and predictive draws align
        with the rows of ``data`` as given.

        Importing HSSM (done here) turns JAX's global ``jax_enable_x64`` on for the
        whole process, and rlssm leaves it on because HSSM's samplers need it at sample
        time; see [`rlssm.hssm_bridge.to_hssm`][rlssm.hssm_bridge.to_hssm].
        """
        from .hssm_bridge import to_hssm

        return to_hssm(self, data, include=include, fixed=fixed, **kwargs)

