"""Trial arrays: a validated [`TrialLayout`][rlssm.data.TrialLayout] as JAX arrays.

Two views of the same trials, each a named pytree:

* [`GridTrials`][rlssm.engine.GridTrials], participants x trials ``(P, T)``, padded:
  what the learning rule's scan runs over (vmapped over participants, scanned over
  trials);
* [`RowTrials`][rlssm.engine.RowTrials], one entry per row of the user's data, in its
  order: what the decision model is evaluated on when parameters come per row.

``GridTrials.row`` and ``RowTrials.position`` map one onto the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from .._types import Array
from ..data import TrialLayout

__all__ = ["GridTrials", "RowTrials", "Trials"]


class GridTrials(NamedTuple):
    """Trials as ``(P, T)`` arrays, sorted by ``trial_id`` within each participant."""

    option: Array
    """Chosen option index, int32 (0 on missed and padding cells)."""
    rt: Array
    """Response time (1.0 on missed and padding cells, where it is masked out)."""
    observed: Array
    """True where a response was given."""
    reset: Array
    """True where the rule's state starts again (a participant's or block's first trial)."""
    state: Array
    """Index of the trial's ``state`` (stimulus), int32; 0 without a ``state`` column."""
    fields: dict[str, Array]
    """Each data field the components read (0.0 on missed and padding cells)."""
    row: Array
    """Input row of each cell, int32 (0 on padding)."""


class RowTrials(NamedTuple):
    """Trials in the row order of the user's data, ``(N,)`` arrays."""

    position: Array
    """Flat grid cell ``p * T + k`` of each row, int32."""
    participant: Array
    """Participant index of each row, int32."""
    option: Array
    """Chosen option index (0 where missed), int32."""
    rt: Array
    """Response time (1.0 where missed)."""
    observed: Array
    """True where a response was given."""
    fields: dict[str, Array]
    """Each data field the mapping reads, per row."""


class Trials(NamedTuple):
    """Both views of one data set's trials: ``grid`` for the scan, ``rows`` for row order."""

    grid: GridTrials
    rows: RowTrials

    @classmethod
    def from_layout(
        cls,
        layout: TrialLayout,
        fields: Sequence[str],
        dtype: np.dtype,
        row_fields: Sequence[str] = (),
    ) -> Trials:
        """The trials of ``layout`` as arrays of the float ``dtype``.

        Parameters
        ----------
        layout
            A validated layout (``model.prepare(data)``).
        fields
            The per-trial inputs the learning rule and mapping read (grid view):
            data fields, and derived ones such as ``trial_index``.
        dtype
            The float dtype (the model's precision); call inside its precision scope.
        row_fields
            The fields the mapping reads, also in row order.
        """
        def field(name: str) -> np.ndarray:
            if name == "trial_index":  # derived: the trial's position (see DERIVED_FIELDS)
                return np.broadcast_to(np.arange(layout.n_trials, dtype=np.float64), layout.option.shape)
            return layout.fields[name]

        grid_row = np.zeros(layout.option.size, dtype=np.int64)
        grid_row[layout.row_position] = np.arange(layout.n_rows)
        # Indices are int32 under both precisions: XLA may lower a float64 graph outside
        # the x64 scope, where int64 indices would clash with its int32 constants.
        itype = np.int32
        grid = GridTrials(
            option=jnp.asarray(layout.option, dtype=itype),
            rt=jnp.asarray(layout.rt, dtype=dtype),
            observed=jnp.asarray(layout.observed),
            reset=jnp.asarray(layout.reset),
            state=jnp.asarray(layout.state, dtype=itype),
            fields={f: jnp.asarray(field(f), dtype=dtype) for f in fields},
            row=jnp.asarray(grid_row.reshape(layout.option.shape), dtype=itype),
        )
        rows = RowTrials(
            position=jnp.asarray(layout.row_position, dtype=itype),
            participant=jnp.asarray(layout.row_participant, dtype=itype),
            option=jnp.asarray(layout.to_rows(layout.option), dtype=itype),
            rt=jnp.asarray(layout.to_rows(layout.rt), dtype=dtype),
            observed=jnp.asarray(layout.to_rows(layout.observed)),
            fields={f: jnp.asarray(layout.to_rows(field(f)), dtype=dtype) for f in row_fields},
        )
        return cls(grid, rows)

    @property
    def shape(self) -> tuple[int, int]:
        """``(P, T)``."""
        return tuple(self.grid.option.shape)  # type: ignore[return-value]

    @property
    def n_rows(self) -> int:
        """Number of rows ``N`` of the data."""
        return int(self.rows.position.shape[0])
