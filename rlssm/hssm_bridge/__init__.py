"""The bridge to HSSM: PyTensor Ops, an ``hssm.ModelConfig`` and a ready ``hssm.HSSM``.

HSSM fits models whose likelihood is a PyTensor Op called as
``op(data_matrix, *params, *extra_fields)``. This package wraps an
[`RLSSM`][rlssm.RLSSM]'s pure JAX log-likelihood ([`RLSSM.logp_fn`][rlssm.RLSSM.logp_fn])
in such an Op, with a vector-Jacobian-product Op for gradients and ``jax_funcify``
registrations for graphs compiled by JAX, and derives the rest of what HSSM needs.
One job per module:

* ``likelihood``: the JAX functions the Ops evaluate, and the layouts of unbound Ops;
* ``ops``: the Ops, [`make_logp_op`][rlssm.hssm_bridge.make_logp_op] (HSSM's
  convention) and [`make_params_op`][rlssm.hssm_bridge.make_params_op] (parameters
  only, for fits written in PyMC directly such as
  [`rlssm.fitting.Hierarchical`][rlssm.fitting.Hierarchical]);
* ``rv``: the RandomVariable HSSM draws predictive samples from;
* ``config``: [`make_model_config`][rlssm.hssm_bridge.make_model_config];
* ``build``: [`to_hssm`][rlssm.hssm_bridge.to_hssm], the data HSSM sees
  ([`hssm_data`][rlssm.hssm_bridge.hssm_data]) and default priors.

Row alignment
-------------
An RL likelihood depends on the order of trials, so the Op that
[`to_hssm`][rlssm.hssm_bridge.to_hssm] uses is *bound* to the data it was built from:
the participants x trials layout (sorting by ``trial_id``, padding, missed-trial masks)
is fixed at construction, and the Op returns one log-likelihood per row of that data,
in its row order. HSSM copies the data it is given and keeps its row order (it only
moves rows with ``rt == -999`` to the top, a code rlssm never passes), so the
``__obs__`` coordinate ``i`` of HSSM's ``log_likelihood`` and ``posterior_predictive``
groups is row ``i`` (by position) of the data as given.

Missed trials
-------------
HSSM rejects NaN response times. `to_hssm` therefore hands HSSM a copy of the data in
which a missed trial (rt and response NaN) carries placeholders:
``rt = MISSED_RT_PLACEHOLDER`` (1000 s, or more when ``t``'s upper bound is larger,
so that HSSM's own ``t < rt`` check never fires there) and ``response = choices[0]``.
NaN extra fields on those rows become 0. The bound Op never reads these placeholders:
its layout comes from the original data, where these rows are missed and add exactly
0.0 to the log-likelihood and do not update the values.

Choice-only models
------------------
HSSM's data matrix is ``(rt, response)``. For a choice-only decision model (e.g.
``rlssm.Softmax``) the ``rt`` column is ``CHOICE_ONLY_RT`` on every row (the data
need none); the likelihood never reads it, and a missed trial is one with a NaN
``response``.
"""

from .build import (
    MISSED_RT_PLACEHOLDER,
    default_intercept_prior,
    default_prior_args,
    hierarchical_include,
    hssm_data,
    missed_rt_placeholder,
    to_hssm,
)
from .config import make_model_config
from .likelihood import CHOICE_ONLY_RT
from .ops import LogpOp, LogpVJPOp, RLSSMLogpOp, RLSSMLogpVJPOp, make_logp_op, make_params_op
from .priors import PriorSpec, parse_prior
from .range_check import (
    MAX_POOLED,
    RangeReport,
    check_decision_ranges,
    check_posterior_ranges,
    decision_draws,
    has_range_check,
)

__all__ = [
    "CHOICE_ONLY_RT",
    "MAX_POOLED",
    "MISSED_RT_PLACEHOLDER",
    "PriorSpec",
    "RangeReport",
    "check_decision_ranges",
    "check_posterior_ranges",
    "decision_draws",
    "has_range_check",
    "parse_prior",
    "LogpOp",
    "LogpVJPOp",
    "RLSSMLogpOp",
    "RLSSMLogpVJPOp",
    "default_intercept_prior",
    "default_prior_args",
    "hierarchical_include",
    "hssm_data",
    "make_logp_op",
    "make_model_config",
    "make_params_op",
    "missed_rt_placeholder",
    "to_hssm",
]
