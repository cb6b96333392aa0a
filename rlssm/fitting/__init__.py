"""Fitting an [`RLSSM`][rlssm.RLSSM], checking the fit's ranges, comparing fitted models.

* [`Hierarchical`][rlssm.fitting.Hierarchical]: the default hierarchical fit, a PyMC
  model with bounded parameters on unconstrained scales, non-centred participant
  offsets and ``t`` held smoothly below each participant's fastest response (see
  [`rlssm.fitting.hierarchical`][rlssm.fitting.hierarchical]);
  [`group_summary`][rlssm.fitting.group_summary] tabulates its group variables.
  Regressions by formula (``formulas=``, see
  [`rlssm.fitting.formulas`][rlssm.fitting.formulas]) and constants (``fixed=``);
  [`approximate`][rlssm.fitting.approximate] (Pathfinder, ADVI) for fast exploratory
  fits, also as ``Hierarchical.sample(method=...)``.
* [`Flat`][rlssm.fitting.Flat]: every participant fitted on their own (no pooling),
  the fit simulation-based calibration ([`rlssm.calibration`][rlssm.calibration]) uses.
* Through HSSM instead: [`default_include`][rlssm.fitting.default_include] gives every
  parameter an intercept (and, hierarchically, a participant random effect) with a prior
  inside the parameter's bounds; [`sample`][rlssm.fitting.sample] runs HSSM's NUTS
  (numpyro) with the log-likelihood stored; [`group_names`][rlssm.fitting.group_names]
  finds the group-level variables in the posterior.
* Range checks of the decision parameters against a decision model's valid region
  (a LAN's training box), re-exported from ``rlssm.hssm_bridge.range_check``:
  [`check_decision_ranges`][rlssm.fitting.check_decision_ranges] before fitting,
  [`check_posterior_ranges`][rlssm.fitting.check_posterior_ranges] after.
* Model comparison by leaving out participants, not trials:
  [`participant_loo`][rlssm.fitting.participant_loo],
  [`compare_participants`][rlssm.fitting.compare_participants].
"""

from .comparison import compare_participants, participant_log_likelihood, participant_loo
from .flat import Flat
from .variational import approximate
from .hierarchical import NDT_NAME, Hierarchical, group_summary
from .hssm_defaults import default_include, group_names, sample, t_start
from ..hssm_bridge import RangeReport, check_decision_ranges, check_posterior_ranges

__all__ = [
    "NDT_NAME",
    "Flat",
    "Hierarchical",
    "RangeReport",
    "approximate",
    "check_decision_ranges",
    "check_posterior_ranges",
    "compare_participants",
    "default_include",
    "group_names",
    "group_summary",
    "participant_log_likelihood",
    "participant_loo",
    "sample",
    "t_start",
]
