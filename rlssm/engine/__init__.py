"""The engine: trial arrays, parameter resolution and the per-trial step, in one place.

Every path that evaluates or simulates an RLSSM goes through here: the likelihood
(grid and row paths), the closed-loop and conditional simulators, predictive checks,
range checks, sharding, the HSSM bridge and the hierarchical fit. Users reach it
through [`rlssm.internal`][rlssm.internal]; see the Architecture page of the docs.
"""

from .composition import DERIVED_FIELDS, RL_PREFIX, Composition
from .domains import Domain, check_bounds, check_computed, check_fixed, check_values
from .gather import gather_rows
from .likelihood import GridResult, decide_grid, evaluate, is_plain, logp_grid, logp_rows, make_logp_fn
from .params import (
    Resolved,
    Unit,
    add_draw_axis,
    as_numbers,
    check_names,
    draw_arrays,
    n_draws_of,
    one_draw,
    resolve,
    series_by_label,
    to_grid,
    to_rows,
)
from .step import (
    Readout,
    cue_inputs,
    decision_params,
    initial_state,
    option_index,
    readout,
    rule_inputs,
    rule_params,
    scan_states,
    update_state,
)
from .trials import GridTrials, RowTrials, Trials

__all__ = [
    "DERIVED_FIELDS",
    "RL_PREFIX",
    "Composition",
    "Domain",
    "GridResult",
    "GridTrials",
    "Readout",
    "Resolved",
    "RowTrials",
    "Trials",
    "Unit",
    "add_draw_axis",
    "as_numbers",
    "check_bounds",
    "check_fixed",
    "check_computed",
    "check_names",
    "check_values",
    "cue_inputs",
    "decide_grid",
    "decision_params",
    "draw_arrays",
    "evaluate",
    "gather_rows",
    "initial_state",
    "is_plain",
    "logp_grid",
    "logp_rows",
    "make_logp_fn",
    "n_draws_of",
    "one_draw",
    "option_index",
    "readout",
    "resolve",
    "rule_inputs",
    "rule_params",
    "scan_states",
    "series_by_label",
    "to_grid",
    "to_rows",
    "update_state",
]
