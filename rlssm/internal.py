"""The engine, for advanced users: semi-public, documented, and not for everyday use.

What rlssm's own consumers (simulators, predictive checks, range checks, sharding, the
HSSM bridge, the hierarchical fit) build on, exported once here, as equinox and
optimistix export theirs in an ``internal`` namespace. Names here may change between
minor versions, with a CHANGELOG entry; underscore names anywhere in rlssm are private.

* Trial arrays: [`Trials`][rlssm.engine.Trials] (``grid`` and ``rows`` views of a
  validated [`TrialLayout`][rlssm.data.TrialLayout]).
* Parameter resolution: [`resolve`][rlssm.engine.resolve] (the one resolver, raising
  [`DataError`][rlssm.DataError]), [`to_grid`][rlssm.engine.to_grid],
  [`to_rows`][rlssm.engine.to_rows].
* The per-trial step: [`initial_state`][rlssm.engine.initial_state],
  [`update_state`][rlssm.engine.update_state], [`scan_states`][rlssm.engine.scan_states],
  [`readout`][rlssm.engine.readout], [`decision_params`][rlssm.engine.decision_params].
* Likelihood: [`logp_grid`][rlssm.engine.logp_grid], [`logp_rows`][rlssm.engine.logp_rows],
  [`make_logp_fn`][rlssm.engine.make_logp_fn], [`evaluate`][rlssm.engine.evaluate].

Example: the values before every trial of a custom rule, without a decision model's
likelihood::

    from rlssm import internal
    layout = model.prepare(data)
    trials = internal.Trials.from_layout(layout, model.composition.trial_fields, np.float64)
    ...
"""

from .engine import *  # noqa: F403
from .engine import __all__ as __all__
