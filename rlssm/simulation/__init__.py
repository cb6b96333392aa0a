"""Simulation from an [`RLSSM`][rlssm.RLSSM] and predictive checks.

* [`simulate`][rlssm.simulation.simulate], [`simulate_draws`][rlssm.simulation.simulate_draws]:
  the closed loop (generative), in an environment;
* [`simulate_conditional`][rlssm.simulation.simulate_conditional],
  [`sample_conditional_rows`][rlssm.simulation.sample_conditional_rows]: one step ahead
  along an observed history;
* [`posterior_predictive`][rlssm.simulation.posterior_predictive],
  [`posterior_rows`][rlssm.simulation.posterior_rows]: predictive checks from a posterior;
* [`rt_quantile_check`][rlssm.simulation.rt_quantile_check],
  [`switch_rate_check`][rlssm.simulation.switch_rate_check],
  [`trials_since_reversal`][rlssm.simulation.trials_since_reversal]: those checks as tables
  against the observed data.
"""

from .checks import rt_quantile_check, switch_rate_check, trials_since_reversal
from .conditional import sample_conditional_rows, simulate_conditional
from .generative import simulate, simulate_draws
from .predictive import posterior_predictive, posterior_rows

__all__ = [
    "posterior_predictive",
    "rt_quantile_check",
    "posterior_rows",
    "sample_conditional_rows",
    "simulate",
    "simulate_conditional",
    "simulate_draws",
    "switch_rate_check",
    "trials_since_reversal",
]
