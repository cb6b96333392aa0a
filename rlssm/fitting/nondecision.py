"""The non-decision time ``t`` and each participant's fastest responses.

Without a lapse process a decision model's density is 0 below ``t``, so a fit must hold
each participant's ``t`` below their fastest response: one fast guess then decides the
participant's non-decision time. With a lapse mixture ([`Lapse`][rlssm.Lapse]) the
density is positive everywhere and ``t`` is free of that cap. This module is the one
owner of that decision for [`Hierarchical`][rlssm.fitting.Hierarchical] and
[`Flat`][rlssm.fitting.Flat], and of the warning a fit without a mixture gives when a
participant's fastest responses are implausibly fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import FastResponseWarning
from ..data import TrialLayout
from ..screening import FAST_RT

if TYPE_CHECKING:
    from ..model import RLSSM

__all__ = ["FAST_RT", "LAPSE_START_QUANTILE", "NDT_NAME", "caps_ndt", "fastest_rts", "warn_fast_responses"]

NDT_NAME = "t"
"""The non-decision time's name (ssm-simulators' and HSSM's)."""



LAPSE_START_QUANTILE = 0.05
"""With a lapse mixture, a fit starts ``t`` below this quantile of each participant's
response times rather than below their fastest (which may be a guess)."""


def fastest_rts(layout: TrialLayout, lapse: bool = False) -> np.ndarray:
    """Each participant's fastest observed response time (``inf`` without one); with
    ``lapse``, the `LAPSE_START_QUANTILE` quantile instead (what starting points of ``t``
    stay below when guesses do not cap it)."""
    out = np.full(layout.n_participants, np.inf)
    for i in range(layout.n_participants):
        rt = layout.rt[i][layout.observed[i]]
        if rt.size:
            out[i] = float(np.quantile(rt, LAPSE_START_QUANTILE)) if lapse else float(np.min(rt))
    return out


def caps_ndt(model: RLSSM, name: str) -> bool:
    """Whether a fit holds parameter ``name`` below each participant's fastest response:
    ``name`` is ``t`` and the model has no lapse mixture."""
    return name == NDT_NAME and not model.has_lapse and not model.decision_model.choice_only


def warn_fast_responses(
    model: RLSSM, layout: TrialLayout, participants: Sequence[Any], stacklevel: int = 3
) -> None:
    """Warn ([`FastResponseWarning`][rlssm.FastResponseWarning]), naming the participants
    and their response times, when a model without a lapse mixture is fitted to responses
    faster than `FAST_RT`: those responses cap the participant's ``t``. One warning lists
    them all, with the remedies."""
    if model.has_lapse or model.decision_model.choice_only or NDT_NAME not in model.param_names:
        return
    lines = []
    for i, who in enumerate(participants):
        rt = np.sort(layout.rt[i][layout.observed[i]])
        fast = rt[rt < FAST_RT]
        if fast.size:
            shown = ", ".join(f"{x:.3f}" for x in fast[:5]) + (", ..." if fast.size > 5 else "")
            lines.append(f"participant {who!r}: {fast.size} response(s) faster than {FAST_RT} s ({shown} s)")
    if not lines:
        return
    warnings.warn(
        "implausibly fast responses hold t below them (the model's density is 0 below t): "
        + "; ".join(lines)
        + ". Remedies: mix in lapses with rlssm.Lapse(decision_model) (parameter p_outlier), "
        "which frees t from the fastest responses; or check the data (rlssm check)",
        FastResponseWarning,
        stacklevel=stacklevel,
    )
