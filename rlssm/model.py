"""`RLSSM`: a learning rule, a mapping and a decision model composed into one model."""

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ._errors import DataError
from ._precision import check_precision, float_dtype, precision_scope, scoped_call
from ._spec import split_decl
from ._types import Array, Bounds, Float, Precision
from ._params import as_numbers, check_names, series_by_label
from .data import TrialLayout, prepare
from .decision.base import AbstractDecisionModel
from .learning.base import AbstractLearningRule
from .mapping import AbstractMapping, DriftScaling

from .environments import AbstractEnvironment

if TYPE_CHECKING:
    import hssm
    import pytensor.graph.op


RL_PREFIX = "rl_"


class _Trials(NamedTuple):
    """The data side of a likelihood evaluation, as arrays (a pytree)."""

    option: Array  # (P, T) int
    rt: Array  # (P, T)
    observed: Array  # (P, T) bool
    reset: Array  # (P, T) bool
    state: Array  # (P, T) int
    fields: tuple[Array, ...]  # each (P, T)
    grid_row: Array  # (P, T) int: input row of each cell (0 on padding)
    row_position: Array  # (N,) int: flat cell of each input row
    row_participant: Array  # (N,) int: participant index of each input row
    row_option: Array  # (N,) int: chosen option of each input row (0 where missed)
    row_rt: Array  # (N,) response time of each input row (1.0 where missed)
    row_observed: Array  # (N,) bool


def _trials(layout: TrialLayout, fields: Sequence[str], dtype: np.dtype) -> _Trials:
    grid_row = np.zeros(layout.option.size, dtype=np.int64)
    grid_row[layout.row_position] = np.arange(layout.n_rows)
    # Indices are int32 under both precisions: XLA may lower a float64 graph outside
    # the x64 scope, where int64 indices would clash with its int32 constants.
    itype = np.int32
    return _Trials(
        option=jnp.asarray(layout.option, dtype=itype),
        rt=jnp.asarray(layout.rt, dtype=dtype),
        observed=jnp.asarray(layout.observed),
        reset=jnp.asarray(layout.reset),
        state=jnp.asarray(layout.state, dtype=itype),
        fields=tuple(jnp.asarray(layout.fields[f], dtype=dtype) for f in fields),
        grid_row=jnp.asarray(grid_row.reshape(layout.option.shape), dtype=itype),
        row_position=jnp.asarray(layout.row_position, dtype=itype),
        row_participant=jnp.asarray(layout.row_participant, dtype=itype),
        row_option=jnp.asarray(layout.to_rows(layout.option), dtype=itype),
        row_rt=jnp.asarray(layout.to_rows(layout.rt), dtype=dtype),
        row_observed=jnp.asarray(layout.to_rows(layout.observed)),
    )


@jax.custom_vjp
def _gather_rows(x: Array, index: Array, back_index: Array, back_valid: Array) -> Array:
    """``x[index]`` along the first axis, where ``index`` maps the outputs one-to-one onto
    the inputs (up to padding entries), with the gradient as a gather too.

    Between input rows and grid cells every row has exactly one cell, so the transpose
    of the gather, a scatter-add that XLA runs as a serial loop on CPUs, is itself a
    gather: ``g_x = where(back_valid, g_y[back_index], 0)``. Outputs that are padding
    (they repeat some input) carry no cotangent in this model (nothing reads them back),
    and inputs that are padding (``back_valid`` False) get none.
    """
    return x[index]


def _gather_rows_fwd(x, index, back_index, back_valid):
    return x[index], (back_index, back_valid)


def _gather_rows_bwd(res, g):
    back_index, back_valid = res
    mask = back_valid.reshape(back_valid.shape + (1,) * (g.ndim - 1))
    return jnp.where(mask, g[back_index], jnp.zeros((), g.dtype)), None, None, None


_gather_rows.defvjp(_gather_rows_fwd, _gather_rows_bwd)


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
        Overrides of the components' default bounds, ``name -> (lower, upper)``.
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

    learning_rule: AbstractLearningRule
    decision_model: AbstractDecisionModel
    mapping: AbstractMapping
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
        self.learning_rule = learning_rule
        self.decision_model = decision_model
        self.mapping = DriftScaling() if mapping is None else mapping
        self.choices = tuple(choices)
        self.precision = check_precision(precision)
        merged = dict(self._component_bounds())
        for name, bound in (bounds or {}).items():
            if name not in merged:
                raise ValueError(
                    f"bounds: {name!r} is not a parameter of this model; parameters are "
                    f"{tuple(merged)}"
                )
            lower, upper = float(bound[0]), float(bound[1])
            if not lower < upper:
                raise ValueError(f"bounds: {name!r} needs lower < upper, got {bound!r}")
            merged[name] = (lower, upper)
        self._bounds = tuple(merged.items())

    def __check_init__(self) -> None:
        computed = set(self.mapping.outputs)
        unknown = computed - set(self.decision_model.param_names)
        if unknown:
            raise ValueError(
                f"{type(self.mapping).__name__} computes {sorted(unknown)}, which "
                f"{type(self.decision_model).__name__} does not take "
                f"(its parameters: {self.decision_model.param_names})"
            )
        if len(self.choices) != self.decision_model.n_options:
            raise ValueError(
                f"choices={self.choices!r} lists {len(self.choices)} options but "
                f"{type(self.decision_model).__name__} has {self.decision_model.n_options}"
            )
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"choices must be distinct, got {self.choices!r}")
        names = self.param_names
        if len(set(names)) != len(names):
            raise ValueError(f"parameter names clash between components: {names}")

    # ------------------------------------------------------------------ derived lists
    def _component_bounds(self) -> dict[str, Bounds]:
        out: dict[str, Bounds] = {}
        for name, decl in self.learning_rule.params.items():
            out[RL_PREFIX + name] = split_decl(name, decl)[0]
        for name, decl in self.mapping.params.items():
            out[name] = split_decl(name, decl)[0]
        for name in self._free_decision_params():
            out[name] = tuple(map(float, self.decision_model.bounds[name]))  # type: ignore[assignment]
        return out

    def _free_decision_params(self) -> tuple[str, ...]:
        computed = set(self.mapping.outputs)
        return tuple(p for p in self.decision_model.param_names if p not in computed)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Sampled parameters: ``rl_``-prefixed rule parameters, mapping, decision."""
        rl = tuple(RL_PREFIX + n for n in self.learning_rule.params)
        return rl + tuple(self.mapping.params) + self._free_decision_params()

    @property
    def bounds(self) -> dict[str, Bounds]:
        """``name -> (lower, upper)`` for every parameter (defaults plus overrides)."""
        return dict(self._bounds)

    @property
    def default_params(self) -> dict[str, float]:
        """A default value of every parameter (declared default or mid-bound)."""
        out: dict[str, float] = {}
        for name, decl in self.learning_rule.params.items():
            out[RL_PREFIX + name] = split_decl(name, decl)[1]
        for name, decl in self.mapping.params.items():
            out[name] = split_decl(name, decl)[1]
        for name in self._free_decision_params():
            out[name] = split_decl(name, self.bounds[name])[1]
        return out

    @property
    def extra_fields(self) -> tuple[str, ...]:
        """Data columns besides rt and response (``block``/``state`` added per data)."""
        return ("participant_id", "trial_id", *self.learning_rule.fields)

    def extra_fields_for(self, data: pd.DataFrame) -> tuple[str, ...]:
        """`extra_fields` plus ``block`` and ``state`` where ``data`` has them."""
        return self.extra_fields + tuple(c for c in ("block", "state") if c in data.columns)

    @property
    def n_options(self) -> int:
        """Number of response options."""
        return len(self.choices)

    # ------------------------------------------------------------------ data
    def prepare(self, data: pd.DataFrame) -> TrialLayout:
        """Validate ``data`` for this model and arrange it (see `rlssm.data.prepare`)."""
        return prepare(data, self.choices, self.learning_rule.fields)

    # ------------------------------------------------------------------ likelihood core
    def _check_names(self, params: Mapping[str, Any]) -> None:
        check_names(params, self.param_names)

    def _param_kind(self, name: str, x: Array, n_part: int, n_rows: int) -> str:
        """How a parameter array is laid out: scalar, per participant, or per row."""
        if x.size == 1:
            return "scalar"
        if x.shape == (n_part, 1):  # a Series, already in participant order
            return "participant"
        if x.ndim == 1 and x.shape[0] == n_part and n_part == n_rows:
            raise DataError(
                f"params[{name!r}] has length {n_part}, which is both the number of "
                "participants and of rows: pass a pandas.Series indexed by participant_id "
                "for per-participant values"
            )
        if x.ndim == 1 and x.shape[0] == n_part:
            return "participant"
        if x.ndim == 1 and x.shape[0] == n_rows:
            return "row"
        raise DataError(
            f"params[{name!r}] has shape {tuple(x.shape)}; expected a scalar, "
            f"{n_part} values (one per participant, sorted participant_id order) or "
            f"{n_rows} values (one per row of data)"
        )

    def _grid_params(
        self,
        params: Mapping[str, Any],
        n_part: int,
        n_rows: int,
        trials: _Trials,
        names: Sequence[str] | None = None,
    ) -> dict[str, Array]:
        """Parameters (all, or ``names``) as ``(P, T)`` arrays of the policy's dtype."""
        dtype = float_dtype(self.precision)
        self._check_names(params)
        shape = trials.option.shape
        out = {}
        for name in self.param_names if names is None else names:
            x = jnp.asarray(params[name], dtype=dtype)
            kind = self._param_kind(name, x, n_part, n_rows)
            if kind == "scalar":
                out[name] = jnp.broadcast_to(x.reshape(()), shape)
            elif kind == "participant":
                out[name] = jnp.broadcast_to(x.reshape(n_part, 1), shape)
            else:
                every_row = jnp.ones(trials.row_position.shape, dtype=bool)
                flat = _gather_rows(x, trials.grid_row.reshape(-1), trials.row_position, every_row)
                out[name] = flat.reshape(shape)
        return out

    def _row_params(
        self, params: Mapping[str, Any], n_part: int, n_rows: int, trials: _Trials, names: Sequence[str]
    ) -> dict[str, Array]:
        """Parameters ``names`` as ``(N,)`` arrays in input row order (no gather for per-row)."""
        dtype = float_dtype(self.precision)
        out = {}
        for name in names:
            x = jnp.asarray(params[name], dtype=dtype)
            kind = self._param_kind(name, x, n_part, n_rows)
            if kind == "scalar":
                out[name] = jnp.broadcast_to(x.reshape(()), (n_rows,))
            elif kind == "participant":
                out[name] = x.reshape(n_part)[trials.row_participant]
            else:
                out[name] = x
        return out

    def _trial_values(
        self, trials: _Trials, grid: Mapping[str, Array], n_states: int, plain: bool = False
    ) -> Array:
        """Values before each trial's update, ``(P, T, options)``: scan, then vmap.

        ``plain`` (static): the data has one state, no block changes and no missed
        trials, so the step needs no state indexing, reset or mask (the scan's body is
        most of the likelihood's cost besides the decision model). Padding cells come
        after a participant's last trial, so updating on them changes nothing read back.
        """
        rule = self.learning_rule
        dtype = trials.rt.dtype
        init = jnp.broadcast_to(rule.init(self.n_options, dtype), (n_states, self.n_options))
        rl_names = tuple(rule.params)
        rl = tuple(grid[RL_PREFIX + n] for n in rl_names)

        def participant(option, reset, observed, state, fields, rl_params):
            def step(values, x):
                opt, rst, obs, st, f, p = x
                values = jnp.where(rst, init, values)
                current = values[st]
                inputs = dict(zip(rule.fields, f)) | dict(zip(rl_names, p))
                new = rule.update(current, opt, **inputs)
                # Missed trials leave the values as they were.
                values = values.at[st].set(jnp.where(obs, new, current))
                return values, current

            def plain_step(values, x):
                opt, f, p = x
                inputs = dict(zip(rule.fields, f)) | dict(zip(rl_names, p))
                return rule.update(values, opt, **inputs), values

            if plain:
                _, before = jax.lax.scan(plain_step, init[0], (option, fields, rl_params))
                return before
            _, before = jax.lax.scan(step, init, (option, reset, observed, state, fields, rl_params))
            return before

        return jax.vmap(participant)(
            trials.option, trials.reset, trials.observed, trials.state, trials.fields, rl
        )

    def _decision_params(
        self, values: Array, grid: Mapping[str, Array], batch_dims: int = 2
    ) -> dict[str, Array]:
        """Decision parameters from values ``(*batch, options)``: the mapping, vmapped."""
        mapping = self.mapping
        m_params = {n: grid[n] for n in mapping.params}
        per_trial = mapping
        for _ in range(batch_dims):
            per_trial = jax.vmap(per_trial)
        computed = per_trial(values, **m_params)
        return {
            n: computed[n] if n in computed else grid[n] for n in self.decision_model.param_names
        }

    def _grid_logp(self, trials: _Trials, grid: Mapping[str, Array], n_states: int):
        values = self._trial_values(trials, grid, n_states)
        dparams = self._decision_params(values, grid)
        coding = jnp.asarray(self.decision_model.choices, dtype=trials.rt.dtype)
        ll = self.decision_model.logp(trials.rt, coding[trials.option], **dparams)
        # A missed trial adds nothing; padding cells are never read back.
        ll = jnp.where(trials.observed, ll, jnp.zeros((), ll.dtype))
        return ll, values, dparams

    # ------------------------------------------------------------------ public likelihood
    def logp_fn(
        self, data: pd.DataFrame
    ) -> Callable[[Mapping[str, Any]], Float[Array, " rows"]]:
        """A pure JAX function ``f(params) -> per-row log-likelihood`` for ``data``.

        ``f`` is jit- and grad-able; ``params`` maps every name in `param_names` to a
        scalar, one value per participant (sorted ``participant_id`` order) or one per
        row of ``data``. The result has one entry per row of ``data``, in its order,
        in the dtype of the model's ``precision``.
        """
        layout = self.prepare(data)
        with precision_scope(self.precision):
            trials = _trials(layout, self.learning_rule.fields, float_dtype(self.precision))

        rl_names = tuple(RL_PREFIX + n for n in self.learning_rule.params)
        other_names = tuple(n for n in self.param_names if n not in rl_names)
        coding = self.decision_model.choices
        plain = bool(
            layout.n_states == 1
            and not layout.reset[:, 1:].any()
            and layout.observed.sum() == layout.n_rows
        )

        def rows(params: dict[str, Array]) -> Array:
            # Only the learning-rule parameters go to the (P, T) grid for the scan; the
            # rest of the model runs in input row order, so per-row parameters need no
            # gather (and their gradients no scatter) and the output needs no reordering.
            self._check_names(params)
            n_part, n_rows = layout.n_participants, layout.n_rows
            grid = self._grid_params(params, n_part, n_rows, trials, rl_names)
            values = self._trial_values(trials, grid, layout.n_states, plain)
            flat = values.reshape(-1, self.n_options)
            cells = jnp.arange(flat.shape[0], dtype=trials.row_position.dtype)
            real = trials.row_position[trials.grid_row.reshape(-1)] == cells  # not padding
            values = _gather_rows(flat, trials.row_position, trials.grid_row.reshape(-1), real)
            row = self._row_params(params, n_part, n_rows, trials, other_names)
            dparams = self._decision_params(values, row, batch_dims=1)
            codes = jnp.asarray(coding, dtype=trials.row_rt.dtype)[trials.row_option]
            ll = self.decision_model.logp(trials.row_rt, codes, **dparams)
            return jnp.where(trials.row_observed, ll, jnp.zeros((), ll.dtype))

        call = scoped_call(lambda _, params: rows(params), self.precision)

        def f(params: Mapping[str, Any]) -> Float[Array, " rows"]:
            return call(None, params)

        return f

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
        from .simulate import simulate

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
        ``feedback`` (and ``correct`` in generative mode). See `rlssm.predictive`.
        """
        from .predictive import posterior_predictive

        return posterior_predictive(self, hm, idata, mode=mode, env=env, n_draws=n_draws, seed=seed)  # type: ignore[arg-type]

    def _evaluate(self, data: pd.DataFrame, params: Mapping[str, Any]):
        layout = self.prepare(data)
        params = _resolve_params(params, layout, self.param_names)
        with precision_scope(self.precision):
            trials = _trials(layout, self.learning_rule.fields, float_dtype(self.precision))
            ll, values, dparams = _jit_evaluate(
                self, trials, params, layout.n_states, layout.n_participants, layout.n_rows
            )
            ll, values = np.asarray(ll), np.asarray(values)
            dparams = {k: np.asarray(v) for k, v in dparams.items()}
        return layout, ll, values, dparams

    def loglik(self, data: pd.DataFrame, params: Mapping[str, Any]) -> np.ndarray:
        """Log-likelihood of every row of ``data`` (numpy, same row order).

        Missed trials (rt and response NaN) contribute 0.0. Parameters may be scalars,
        per-participant arrays or Series, or per-row arrays (see the data docs).
        """
        layout, ll, _, dparams = self._evaluate(data, params)
        self.decision_model.check_params({k: v[layout.observed] for k, v in dparams.items()})
        return layout.to_rows(ll)

    def values(self, data: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
        """Per row: the values of every option before the trial, and the decision parameters.

        Columns ``value_<choice>`` for each response value in `choices`, then one
        column per decision-model parameter (computed ones such as ``v`` included).
        The index is ``data``'s.
        """
        layout, _, values, dparams = self._evaluate(data, params)
        rows = layout.to_rows(values)
        out = {f"value_{c}": rows[:, k] for k, c in enumerate(self.choices)}
        out |= {k: layout.to_rows(dparams[k]) for k in self.decision_model.param_names}
        return pd.DataFrame(out, index=data.index)

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

    def to_hssm(self, data: pd.DataFrame, include: Sequence[Any] | None = None, **kwargs: Any) -> "hssm.HSSM":
        """An ``hssm.HSSM`` for ``data``, ready to ``.sample()``.

        ``include`` takes ``hssm.Param`` specifications as in HSSM; other keyword
        arguments go to ``hssm.HSSM``. Its log-likelihood and predictive draws align
        with the rows of ``data`` as given.
        """
        from .hssm_bridge import to_hssm

        return to_hssm(self, data, include=include, **kwargs)


@eqx.filter_jit
def _jit_evaluate(
    model: RLSSM, trials: _Trials, params: Mapping[str, Array | np.ndarray], n_states: int, n_participants: int, n_rows: int
):
    grid = model._grid_params(params, n_participants, n_rows, trials)
    return model._grid_logp(trials, grid, n_states)


def _resolve_params(
    params: Mapping[str, Any], layout: TrialLayout, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Eager parameter checks: Series to sorted per-participant arrays; no NaN or inf."""
    if not isinstance(params, Mapping):
        raise DataError(f"params must be a mapping of parameter name to value, got {type(params).__name__}")
    out: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if isinstance(value, pd.Series):
            # (P, 1): per participant without the P == N ambiguity of a flat array.
            out[name] = series_by_label(name, value, layout.participants).reshape(-1, 1)
        else:
            out[name] = as_numbers(name, value)
    return out
