"""Data beyond one device: participants sharded across several devices.

[`sharded_logp_fn`][rlssm.sharding.sharded_logp_fn] lays the participants x trials
grid of a data set out along a one-axis device mesh (axis name ``"participants"``), so
that each device holds, and computes the likelihood of, its own block of participants.
The learning rule's scan runs along the trials of one participant and is vmapped over
participants, so it never needs data from another device: XLA partitions the vmapped
scan, and only the per-participant sums are gathered at the end.

The device count of a CPU-only JAX is fixed when JAX starts; to try this on one
machine, start Python with
``XLA_FLAGS=--xla_force_host_platform_device_count=N JAX_PLATFORMS=cpu``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxlib._jax import Device  # what jax.Device names (pyright cannot see through it)

from ._precision import float_dtype, precision_scope, scoped_call
from ._types import Array, Float
from .data import TrialLayout
from .engine import Composition, GridTrials, Resolved, Trials, check_names, logp_grid, resolve

if TYPE_CHECKING:
    from .model import RLSSM

AXIS = "participants"
"""Name of the mesh axis the participants are split along."""

__all__ = ["AXIS", "ShardedLogp", "check_devices", "sharded_logp_fn"]


def check_devices(devices: object) -> tuple[Device, ...]:
    """The devices a participants mesh spans, from what a caller asked for.

    Parameters
    ----------
    devices
        ``None`` for all of ``jax.devices()``, a number ``n`` for the first ``n`` of
        them, or a sequence of distinct ``jax.Device`` objects.

    Returns
    -------
    tuple of jax.Device
        At least one device, none twice.

    Raises
    ------
    TypeError
        For anything else (a string, a bool, a sequence holding something other than
        a ``jax.Device``), naming the value.
    ValueError
        For a number below 1 or above the number of devices JAX has, naming how many
        it has and how a CPU gets more (``XLA_FLAGS``), or for an empty sequence or a
        device named twice.
    """
    available = jax.devices()
    if devices is None:
        return tuple(available)
    if isinstance(devices, bool) or isinstance(devices, (str, bytes)):
        raise TypeError(
            f"devices must be None, a number of devices or a sequence of jax devices, got {devices!r}"
        )
    if isinstance(devices, (int, np.integer)):
        n = int(devices)
        if not 1 <= n <= len(available):
            raise ValueError(
                f"devices={n}: JAX has {len(available)} device(s) {available}; ask for 1 to "
                f"{len(available)}. A CPU-only JAX gets n host devices when Python starts with "
                f"XLA_FLAGS=--xla_force_host_platform_device_count=n JAX_PLATFORMS=cpu"
            )
        return tuple(available[:n])
    if not isinstance(devices, (Sequence, np.ndarray)):
        raise TypeError(
            f"devices must be None, a number of devices or a sequence of jax devices, got {devices!r}"
        )
    out = tuple(np.ravel(np.asarray(devices, dtype=object))) if isinstance(devices, np.ndarray) else tuple(devices)
    if not out:
        raise ValueError("devices must hold at least one device, got an empty sequence")
    wrong = [d for d in out if not isinstance(d, Device)]
    if wrong:
        raise TypeError(f"devices must be jax devices (from jax.devices()), got {wrong[0]!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"devices names a device more than once: {list(out)}")
    return out


@jax.tree_util.register_pytree_node_class
class ShardedLogp:
    """Per-participant log-likelihood of one data set, its trials sharded over devices.

    Made by [`sharded_logp_fn`][rlssm.sharding.sharded_logp_fn]. Call it as a function,
    ``f(params)``, and transform it as one (``jax.jit(f)``, ``jax.grad``). It is also a
    pytree whose leaves are the model's arrays and the sharded trials: passing ``f`` as
    an *argument* of a jitted function keeps the data out of the compiled program, which
    ``jax.jit(f)`` embeds as constants (see the performance docs).

    Attributes
    ----------
    model
        The model.
    trials
        The data's ``(P', T)`` arrays, ``P'`` the participants padded up to a multiple
        of the number of devices, each sharded along its first axis.
    participants
        Sorted participant labels (the order of the result).
    n_rows
        Number of rows of the data.
    n_states
        Number of distinct states in the data.
    sharding
        The ``NamedSharding`` of the trials: ``PartitionSpec("participants")`` on the
        devices' mesh.
    """

    # A plain class, not an equinox Module: jax.jit(f) hashes f, which must therefore
    # hash by identity rather than by its (array) fields.
    model: RLSSM
    trials: Trials
    participants: tuple[Hashable, ...]
    n_rows: int
    n_states: int
    sharding: NamedSharding

    def __init__(
        self,
        model: RLSSM,
        trials: Trials,
        participants: tuple[Hashable, ...],
        n_rows: int,
        n_states: int,
        sharding: NamedSharding,
    ):
        self.model = model
        self.trials = trials
        self.participants = participants
        self.n_rows = n_rows
        self.n_states = n_states
        self.sharding = sharding

    def tree_flatten(self) -> tuple[tuple[RLSSM, Trials], tuple[Any, ...]]:
        """Children: the model and the trials; the rest is static."""
        static = (self.participants, self.n_rows, self.n_states, self.sharding)
        return (self.model, self.trials), static

    @classmethod
    def tree_unflatten(cls, static: tuple[Any, ...], children: Any) -> ShardedLogp:
        """Rebuild from `tree_flatten`'s parts (leaves may be tracers or placeholders)."""
        # Bypass __init__ (and its type checks): JAX unflattens with arbitrary leaves.
        self = object.__new__(cls)
        self.model, self.trials = children
        self.participants, self.n_rows, self.n_states, self.sharding = static
        return self

    @property
    def n_participants(self) -> int:
        """Number of (real) participants ``P``."""
        return len(self.participants)

    def __call__(self, params: Mapping[str, Any]) -> Float[Array, " participants"]:
        """Each participant's summed log-likelihood at ``params``.

        Parameters
        ----------
        params
            Every name in ``model.param_names`` mapped to a scalar or one value per
            participant (sorted ``participant_id`` order; outside ``jit`` also a
            ``pandas.Series`` indexed by ``participant_id``).

        Returns
        -------
        Array
            One value per participant: the sum of ``model.loglik(data, params)`` over
            the participant's rows, in the dtype of the model's ``precision`` (float32
            where the model is float64 but the caller runs with ``jax_enable_x64`` off,
            as for ``RLSSM.logp_fn``).

        Raises
        ------
        rlssm.DataError
            For a parameter given per row of data (not supported here), of any other
            wrong shape, or a missing or unknown name.
        """
        check_names(params, self.model.param_names)
        # Eager checks and units (a Series by its labels; no per-row values) outside
        # any trace; JAX arrays (tracers) are resolved by shape.
        resolved = resolve(params, self.model.param_names, self.participants, self.n_rows, per_row=False)
        units = {k: r.unit for k, r in resolved.items()}
        arrays = {k: r.value for k, r in resolved.items()}
        return scoped_call(lambda f, p: f._sums(p, units), self.model.precision)(self, arrays)

    def _sums(self, arrays: Mapping[str, Any], units: Mapping[str, Any]) -> Array:
        """`__call__` inside the precision scope."""
        dtype = float_dtype(self.model.precision)
        params = {n: Resolved(units[n], jnp.asarray(x, dtype=dtype)) for n, x in arrays.items()}
        return _sharded_sums(
            self.model.composition, self.trials, params, self.n_states, self.n_participants, self.sharding
        )


@eqx.filter_jit
def _sharded_sums(
    comp: Composition,
    trials: Trials,
    params: dict[str, Resolved],
    n_states: int,
    n_part: int,
    sharding: NamedSharding,
) -> Array:
    """Per-participant sums, ``(P,)``, from sharded trials and ``P``-long parameters."""
    n_padded = trials.shape[0]
    # The constraints pin the participant axis to the mesh whether the trials arrive as
    # sharded arguments or, under a caller's jit that closes over them, as constants.
    grid = jax.tree.map(
        lambda x: jax.lax.with_sharding_constraint(x, sharding) if x.ndim == 2 else x, trials.grid
    )
    padded = {}
    for name, r in params.items():
        x = r.value
        if r.unit == "participant":
            # Dummy participants take participant 0's values: finite, like its trials.
            x = jnp.concatenate([x, jnp.broadcast_to(x[:1], (n_padded - n_part,))])
            x = jax.lax.with_sharding_constraint(x, sharding)
        padded[name] = Resolved(r.unit, x)
    ll = logp_grid(comp, Trials(grid, trials.rows), padded, n_states).logp
    # Each participant's sum is local to its device; only the (P,) result is gathered.
    return ll.sum(axis=1)[:n_part]


def _pad_grid(x: np.ndarray, n_pad: int, observed: bool) -> np.ndarray:
    """``(P, T)`` to ``(P + n_pad, T)``: dummy participants copy participant 0's trials.

    Copying a real participant keeps the masked-out likelihood of the dummies (and its
    gradient, which ``where`` multiplies by zero) as finite as participant 0's own;
    ``observed`` is False for them, so they add nothing.
    """
    if n_pad == 0:
        return x
    fill = np.zeros_like(x[:1]) if observed else x[:1]
    return np.concatenate([x, np.repeat(fill, n_pad, axis=0)], axis=0)


def _sharded_trials(
    layout: TrialLayout, comp: Composition, dtype: np.dtype, n_padded: int, sharding: NamedSharding
) -> Trials:
    """The data's `Trials`, padded to ``n_padded`` participants and placed on the mesh.

    The row view serves per-row parameters and row-ordered output, which this path
    does not offer: it is left empty, so nothing of size N goes to the devices.
    """
    base = Trials.from_layout(layout, comp.trial_fields, dtype)
    n_pad = n_padded - layout.n_participants

    def place(x: Array, observed: bool = False) -> Array:
        return jax.device_put(_pad_grid(np.asarray(x), n_pad, observed), sharding)

    g = base.grid
    grid = GridTrials(
        option=place(g.option),
        rt=place(g.rt),
        observed=place(g.observed, observed=True),
        reset=place(g.reset),
        state=place(g.state),
        fields={k: place(v) for k, v in g.fields.items()},
        row=place(g.row),
    )
    rows = jax.tree.map(lambda x: jnp.zeros((0,), x.dtype), base.rows)
    return Trials(grid, rows)


def sharded_logp_fn(
    model: RLSSM, data: pd.DataFrame, devices: int | Sequence[Device] | None = None
) -> ShardedLogp:
    """A pure JAX function ``f(params) -> per-participant log-likelihood``, sharded.

    The participants x trials arrays of ``data`` are split along the participant axis
    over ``devices`` (a one-axis ``jax.sharding.Mesh`` named ``"participants"``, with
    ``NamedSharding(mesh, PartitionSpec("participants"))``): each device holds whole
    participants, all their trials, and runs the learning rule's scan and the decision
    model over them; only the per-participant sums are gathered.

    Parameters
    ----------
    model
        The model.
    data
        The data, as for [`RLSSM.logp_fn`][rlssm.RLSSM.logp_fn].
    devices
        The devices to split the participants over: a sequence of ``jax.Device``, a
        number ``n`` for the first ``n`` of ``jax.devices()``, or ``None`` (default)
        for all of them (see [`check_devices`][rlssm.sharding.check_devices]). The
        participants are padded up to a multiple of their number with dummy
        participants (all trials unobserved), which are dropped from the result.

    Returns
    -------
    ShardedLogp
        ``f(params) -> Float[Array, "participants"]``, jit- and grad-able: for
        every participant in sorted ``participant_id`` order, the sum of
        ``model.loglik(data, params)`` over its rows. ``params`` maps every name in
        ``model.param_names`` to a scalar or one value per participant; per-row
        parameters raise [`DataError`][rlssm.DataError]. ``f`` is also a pytree
        holding the sharded data: pass it as an argument of your jitted function
        (``jax.jit(lambda f, p: f(p).sum())(f, params)``) to keep the data out of the
        compiled program, where ``jax.jit(f)`` would embed it as constants.

    Examples
    --------
    ```python
    from rlssm.sharding import sharded_logp_fn

    f = sharded_logp_fn(model, data)  # over all of jax.devices()
    total = jax.jit(jax.value_and_grad(lambda f, p: f(p).sum(), argnums=1))
    value, grads = total(f, params)
    ```
    """
    chosen = check_devices(devices)
    layout = model.prepare(data)
    n_padded = -(-layout.n_participants // len(chosen)) * len(chosen)
    mesh = Mesh(np.asarray(chosen, dtype=object), (AXIS,))
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    with precision_scope(model.precision):
        trials = _sharded_trials(layout, model.composition, float_dtype(model.precision), n_padded, sharding)
    return ShardedLogp(
        model=model,
        trials=trials,
        participants=layout.participants,
        n_rows=layout.n_rows,
        n_states=layout.n_states,
        sharding=sharding,
    )
