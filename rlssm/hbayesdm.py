"""hBayesDM's reinforcement-learning models as rlssm compositions, by their hBayesDM names.

Each function builds the [`RLSSM`][rlssm.RLSSM] whose likelihood is that of
hBayesDM's Stan model (version 1.1.1, ``hbayesdm/common/stan_files/<name>.stan``) on the
same data: the same initial values, the same order of updates, the same choice rule.
The test suite checks each against a line-by-line port of the Stan model block.

```python
data = rlssm.load_hbayesdm("prl_multipleB_exampleData.txt")     # hBayesDM's file, as it is
model = rlssm.hbayesdm.prl_fictitious_multipleB()                 # or rlssm.hbayesdm.model("prl_fictitious_multipleB")
params = rlssm.hbayesdm.params_from_hbayesdm("prl_fictitious_multipleB", {"eta": 0.4, "alpha": 0.1, "beta": 3.0})
model.loglik(data, params).sum()                                  # hBayesDM's log_lik, summed
rt_model = rlssm.hbayesdm.prl_fictitious_multipleB(response_times=True)   # the same learning, with a DDM
```

What carries over, and what differs:

- **Choices** are coded as in hBayesDM's files, ``choices=(1, 2)``: hBayesDM's choice 1
  is option 0, choice 2 is option 1 (the upper boundary of the DDM forms).
- **Outcomes.** hBayesDM's ``prl_*`` models learn from ``sign(outcome)`` (its
  preprocessing takes the sign); their rule here is wrapped in
  [`SignOfFeedback`][rlssm.learning.SignOfFeedback], so the data keeps the outcomes
  as recorded. ``bandit2arm_delta`` learns from the outcome itself.
- **Blocks.** rlssm resets the values wherever the data's ``block`` changes, so every
  model here is its own multiple-block form on data with a ``block`` column (hBayesDM
  has ``prl_fictitious_multipleB`` and ``prl_rp_multipleB``: the same functions, under
  those names too). On data without one the values run across all of a participant's
  trials, as in hBayesDM's single-block models; to fit a single-block model to data
  with blocks, drop the column.
- **Missed trials.** hBayesDM drops rows with a missing choice before fitting; rlssm
  keeps them as missed trials (no likelihood, no update): the same likelihood.
- **Parameters** keep their meaning; their names become rlssm's (the table of each
  function, and [`params_from_hbayesdm`][rlssm.hbayesdm.params_from_hbayesdm]). A
  learning rate is a learning rate and hBayesDM's inverse temperature (``beta``,
  ``tau``) is [`Softmax`][rlssm.Softmax]'s ``beta``: the choice rules are the same
  function of the same numbers. The links differ only in a fit: hBayesDM draws each
  individual parameter as ``Phi_approx(mu + sigma * z)`` times its upper bound
  (``Phi_approx(x) = inv_logit(0.07056 x^3 + 1.5976 x)``), rlssm's fits use a logit
  link between the same bounds (the presets set ``beta``'s bounds to hBayesDM's:
  (0, 10) for ``prl_*``, (0, 5) for ``bandit2arm_delta``). hBayesDM's indecision point
  ``alpha`` has no link (a normal) and rlssm's ``indecision`` no bounds.
- **Response times.** ``response_times=True`` gives the same learning rule with a
  [`DDM`][rlssm.DDM] instead of the softmax: the drift is
  ``v = scaler * (Q[1] - Q[0])`` ([`DriftScaling`][rlssm.DriftScaling]), plus
  ``indecision`` inside the difference where hBayesDM's model has an indecision point;
  the parameters ``scaler, a, z, t`` replace ``beta``. The data needs an ``rt`` column
  in seconds (``load_hbayesdm`` converts hBayesDM's ``choice.RT`` from milliseconds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from .decision import DDM, Fixed, Softmax
from .learning import (
    EWA,
    AbstractLearningRule,
    DualRateFictitiousRW,
    FictitiousRW,
    RescorlaWagner,
    RewardPunishmentRW,
    SignOfFeedback,
)
from .mapping import AbstractMapping, DriftScaling, IndecisionPoint, Values
from .model import RLSSM

__all__ = [
    "MODELS",
    "PARAMETERS",
    "bandit2arm_delta",
    "model",
    "params_from_hbayesdm",
    "prl_ewa",
    "prl_fictitious",
    "prl_fictitious_multipleB",
    "prl_fictitious_rp",
    "prl_fictitious_rp_woa",
    "prl_fictitious_woa",
    "prl_rp",
    "prl_rp_multipleB",
]

CHOICES = (1, 2)
"""hBayesDM's coding of the two options."""


def _compose(
    rule: AbstractLearningRule,
    mapping: Callable[[AbstractMapping], AbstractMapping],
    response_times: bool,
    beta_upper: float,
) -> RLSSM:
    """The choice-only model (softmax over the values, ``beta`` within hBayesDM's
    range) or, with ``response_times``, the DDM model (drift from the value
    difference); ``mapping`` adds the model's indecision point, or nothing."""
    if not isinstance(response_times, bool):
        raise TypeError(f"response_times must be True or False, got {response_times!r}")
    if response_times:
        return RLSSM(rule, DDM(), mapping(DriftScaling()), choices=CHOICES)
    return RLSSM(rule, Softmax(2), mapping(Values()), choices=CHOICES, bounds={"beta": (0.0, beta_upper)})


def _plain(mapping: AbstractMapping) -> AbstractMapping:
    return mapping


def _indecision(mapping: AbstractMapping) -> AbstractMapping:
    return IndecisionPoint(mapping)


def _without_indecision(mapping: AbstractMapping) -> AbstractMapping:
    # hBayesDM's "woa" (without alpha): its indecision point held at 0.
    return Fixed(IndecisionPoint(mapping), indecision=0.0)


def bandit2arm_delta(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``bandit2arm_delta``: Rescorla-Wagner (delta rule) on a two-armed
    bandit, softmax choice (Erev et al., 2010; Hertwig et al., 2004).

    Source: ``hbayesdm/common/stan_files/bandit2arm_delta.stan``. Per participant,
    ``ev = (0, 0)``; on each trial, choice ``c`` and outcome ``r`` (as recorded):

        P(c) = softmax(tau * ev)[c]
        ev[c] += A * (r - ev[c])

    Composition: [`RescorlaWagner`][rlssm.RescorlaWagner]``(initial_value=0.0)``,
    [`Values`][rlssm.Values], [`Softmax`][rlssm.Softmax]``(2)`` (``beta`` bounded by
    (0, 5), hBayesDM's range); with ``response_times=True``,
    [`DriftScaling`][rlssm.DriftScaling] and [`DDM`][rlssm.DDM].

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``A`` | ``rl_alpha`` | learning rate, (0, 1) |
    | ``tau`` | ``beta`` | inverse temperature, (0, 5); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    return _compose(RescorlaWagner(initial_value=0.0), _plain, response_times, beta_upper=5.0)


def prl_fictitious(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_fictitious``: the fictitious update model of probabilistic
    reversal learning (Glascher, Hampton & O'Doherty, 2009), with an indecision point.

    Source: ``hbayesdm/common/stan_files/prl_fictitious.stan`` (and
    ``prl_fictitious_multipleB.stan``: the same, values reset per block). Per
    participant (and block), ``ev = (0, 0)``; on each trial, choice ``c``, the other
    option ``u`` and ``r = sign(outcome)``:

        P(choice 1) = 1 / (1 + exp(beta * (alpha - (ev[1] - ev[2]))))
        ev[c] += eta * (r - ev[c])
        ev[u] += eta * (-r - ev[u])

    Composition: [`SignOfFeedback`][rlssm.learning.SignOfFeedback]`(`
    [`FictitiousRW`][rlssm.learning.FictitiousRW]``(initial_value=0.0))``,
    [`IndecisionPoint`][rlssm.mapping.IndecisionPoint]``(Values())``,
    [`Softmax`][rlssm.Softmax]``(2)`` (``beta`` bounded by (0, 10)); with
    ``response_times=True``, ``IndecisionPoint(DriftScaling())`` and a [`DDM`][rlssm.DDM]
    (``v = scaler * (Q[1] - Q[0] + indecision)``).

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``eta`` | ``rl_alpha`` | learning rate of both updates, (0, 1) |
    | ``alpha`` | ``indecision`` | indecision point, unbounded (hBayesDM: no link) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(FictitiousRW(initial_value=0.0))
    return _compose(rule, _indecision, response_times, beta_upper=10.0)


def prl_fictitious_woa(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_fictitious_woa``: [`prl_fictitious`][rlssm.hbayesdm.prl_fictitious]
    without the indecision point ("woa": without alpha).

    Source: ``hbayesdm/common/stan_files/prl_fictitious_woa.stan``. As
    ``prl_fictitious`` with ``alpha = 0``:

        P(choice 1) = 1 / (1 + exp(beta * (ev[2] - ev[1])))
        ev[c] += eta * (r - ev[c]);  ev[u] += eta * (-r - ev[u]),  r = sign(outcome)

    Composition: ``prl_fictitious``'s, with the indecision point held at 0
    (``rlssm.Fixed(IndecisionPoint(...), indecision=0.0)``).

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``eta`` | ``rl_alpha`` | learning rate of both updates, (0, 1) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(FictitiousRW(initial_value=0.0))
    return _compose(rule, _without_indecision, response_times, beta_upper=10.0)


def prl_rp(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_rp``: reward-punishment model of probabilistic reversal learning
    (den Ouden et al., 2013).

    Source: ``hbayesdm/common/stan_files/prl_rp.stan`` (and ``prl_rp_multipleB.stan``:
    the same, values reset per block). Per participant (and block), ``ev = (0, 0)``; on
    each trial, choice ``c`` and ``r = sign(outcome)``:

        P(c) = softmax(beta * ev)[c]
        ev[c] += (Arew if r > 0 else Apun) * (r - ev[c])

    Composition: [`SignOfFeedback`][rlssm.learning.SignOfFeedback]`(`
    [`RewardPunishmentRW`][rlssm.learning.RewardPunishmentRW]``(initial_value=0.0))``,
    [`Values`][rlssm.Values], [`Softmax`][rlssm.Softmax]``(2)`` (``beta`` bounded by
    (0, 10)); with ``response_times=True``, [`DriftScaling`][rlssm.DriftScaling] and a
    [`DDM`][rlssm.DDM].

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``Apun`` | ``rl_alpha_pun`` | learning rate after an outcome <= 0, (0, 1) |
    | ``Arew`` | ``rl_alpha_rew`` | learning rate after an outcome > 0, (0, 1) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(RewardPunishmentRW(initial_value=0.0))
    return _compose(rule, _plain, response_times, beta_upper=10.0)


def prl_fictitious_rp(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_fictitious_rp``: the fictitious update with learning rates for
    positive and negative prediction errors, and an indecision point (Glascher et al.,
    2009; den Ouden et al., 2013).

    Source: ``hbayesdm/common/stan_files/prl_fictitious_rp.stan``. Per participant,
    ``ev = (0, 0)``; on each trial, choice ``c``, the other option ``u`` and
    ``r = sign(outcome)``:

        P(choice 1) = 1 / (1 + exp(beta * (alpha - (ev[1] - ev[2]))))
        PE = r - ev[c];  PEnc = -r - ev[u]
        eta = eta_pos if PE >= 0 else eta_neg
        ev[c] += eta * PE;  ev[u] += eta * PEnc

    Composition: [`SignOfFeedback`][rlssm.learning.SignOfFeedback]`(`
    [`DualRateFictitiousRW`][rlssm.learning.DualRateFictitiousRW]``(initial_value=0.0))``,
    [`IndecisionPoint`][rlssm.mapping.IndecisionPoint]``(Values())``,
    [`Softmax`][rlssm.Softmax]``(2)`` (``beta`` bounded by (0, 10)); with
    ``response_times=True``, ``IndecisionPoint(DriftScaling())`` and a [`DDM`][rlssm.DDM].

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``eta_pos`` | ``rl_alpha`` | learning rate after a prediction error >= 0, (0, 1) |
    | ``eta_neg`` | ``rl_alpha_neg`` | learning rate after a negative one, (0, 1) |
    | ``alpha`` | ``indecision`` | indecision point, unbounded (hBayesDM: no link) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(DualRateFictitiousRW(initial_value=0.0))
    return _compose(rule, _indecision, response_times, beta_upper=10.0)


def prl_fictitious_rp_woa(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_fictitious_rp_woa``:
    [`prl_fictitious_rp`][rlssm.hbayesdm.prl_fictitious_rp] without the indecision point.

    Source: ``hbayesdm/common/stan_files/prl_fictitious_rp_woa.stan``. As
    ``prl_fictitious_rp`` with ``alpha = 0``:
    ``P(choice 1) = 1 / (1 + exp(beta * (ev[2] - ev[1])))``.

    Composition: ``prl_fictitious_rp``'s, with the indecision point held at 0
    (``rlssm.Fixed(IndecisionPoint(...), indecision=0.0)``).

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``eta_pos`` | ``rl_alpha`` | learning rate after a prediction error >= 0, (0, 1) |
    | ``eta_neg`` | ``rl_alpha_neg`` | learning rate after a negative one, (0, 1) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(DualRateFictitiousRW(initial_value=0.0))
    return _compose(rule, _without_indecision, response_times, beta_upper=10.0)


def prl_ewa(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_ewa``: experience-weighted attraction in probabilistic reversal
    learning (den Ouden et al., 2013; Camerer & Ho, 1999).

    Source: ``hbayesdm/common/stan_files/prl_ewa.stan``. Per participant,
    ``ev = (0, 0)`` and ``ew = (0, 0)``; on each trial, choice ``c`` and
    ``r = sign(outcome)``:

        P(c) = softmax(beta * ev)[c]
        ewt1 = ew[c];  ew[c] = rho * ew[c] + 1
        ev[c] = (phi * ewt1 * ev[c] + r) / ew[c]

    Composition: [`SignOfFeedback`][rlssm.learning.SignOfFeedback]`(`
    [`EWA`][rlssm.learning.EWA]``(initial_value=0.0, initial_experience=0.0))``,
    [`Values`][rlssm.Values], [`Softmax`][rlssm.Softmax]``(2)`` (``beta`` bounded by
    (0, 10)); with ``response_times=True``, [`DriftScaling`][rlssm.DriftScaling] and a
    [`DDM`][rlssm.DDM].

    | hBayesDM | rlssm | notes |
    |---|---|---|
    | ``phi`` | ``rl_phi`` | decay of past attractions (one minus a learning rate), (0, 1) |
    | ``rho`` | ``rl_rho`` | decay of experience, (0, 1) |
    | ``beta`` | ``beta`` | inverse temperature, (0, 10); DDM form: ``scaler, a, z, t`` instead |

    Parameters
    ----------
    response_times
        ``False`` (default): hBayesDM's model of the choices. ``True``: the same
        learning with a DDM of choices and response times.
    """
    rule = SignOfFeedback(EWA(initial_value=0.0, initial_experience=0.0))
    return _compose(rule, _plain, response_times, beta_upper=10.0)


def prl_fictitious_multipleB(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_fictitious_multipleB``: [`prl_fictitious`][rlssm.hbayesdm.prl_fictitious]
    with the values reset at each block of the data (``block`` column), which rlssm
    does for every model. Source: ``hbayesdm/common/stan_files/prl_fictitious_multipleB.stan``.
    Parameters as ``prl_fictitious``."""
    return prl_fictitious(response_times)


def prl_rp_multipleB(response_times: bool = False) -> RLSSM:
    """hBayesDM's ``prl_rp_multipleB``: [`prl_rp`][rlssm.hbayesdm.prl_rp] with the values
    reset at each block of the data (``block`` column), which rlssm does for every
    model. Source: ``hbayesdm/common/stan_files/prl_rp_multipleB.stan``. Parameters as
    ``prl_rp``."""
    return prl_rp(response_times)


MODELS: Mapping[str, Callable[..., RLSSM]] = MappingProxyType({
    "bandit2arm_delta": bandit2arm_delta,
    "prl_ewa": prl_ewa,
    "prl_fictitious": prl_fictitious,
    "prl_fictitious_multipleB": prl_fictitious_multipleB,
    "prl_fictitious_rp": prl_fictitious_rp,
    "prl_fictitious_rp_woa": prl_fictitious_rp_woa,
    "prl_fictitious_woa": prl_fictitious_woa,
    "prl_rp": prl_rp,
    "prl_rp_multipleB": prl_rp_multipleB,
})
"""hBayesDM model name -> the function that builds it."""

_FICTITIOUS = {"eta": "rl_alpha", "alpha": "indecision", "beta": "beta"}
_FICTITIOUS_RP = {"eta_pos": "rl_alpha", "eta_neg": "rl_alpha_neg", "alpha": "indecision", "beta": "beta"}
_RP = {"Apun": "rl_alpha_pun", "Arew": "rl_alpha_rew", "beta": "beta"}

PARAMETERS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    name: MappingProxyType(table)
    for name, table in {
        "bandit2arm_delta": {"A": "rl_alpha", "tau": "beta"},
        "prl_ewa": {"phi": "rl_phi", "rho": "rl_rho", "beta": "beta"},
        "prl_fictitious": _FICTITIOUS,
        "prl_fictitious_multipleB": _FICTITIOUS,
        "prl_fictitious_rp": _FICTITIOUS_RP,
        "prl_fictitious_rp_woa": {k: v for k, v in _FICTITIOUS_RP.items() if k != "alpha"},
        "prl_fictitious_woa": {k: v for k, v in _FICTITIOUS.items() if k != "alpha"},
        "prl_rp": _RP,
        "prl_rp_multipleB": _RP,
    }.items()
})
"""hBayesDM model name -> (hBayesDM parameter -> the choice-only model's parameter),
in hBayesDM's order. The values carry over unchanged (same meaning, same scale)."""


def _known(name: object) -> str:
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown hBayesDM model {name!r}; rlssm has {tuple(MODELS)}")
    return name


def model(name: str, *, response_times: bool = False) -> RLSSM:
    """The model named as hBayesDM names it: ``model("prl_ewa")`` is ``prl_ewa()``.

    Parameters
    ----------
    name
        An hBayesDM model name, one of `MODELS`.
    response_times
        ``True`` for the same learning with a DDM of choices and response times.

    Raises
    ------
    ValueError
        An unknown name (the known ones are listed).
    """
    return MODELS[_known(name)](response_times=response_times)


def params_from_hbayesdm(name: str, values: Mapping[str, Any] | pd.DataFrame) -> dict[str, Any]:
    """hBayesDM parameter values under the names of the choice-only model.

    The values are unchanged: every parameter of these models means the same in both
    (see `PARAMETERS`). For a ``response_times=True`` model the learning parameters
    (and ``indecision``) carry over the same way; ``beta`` has no counterpart there.

    Parameters
    ----------
    name
        The hBayesDM model name.
    values
        ``hBayesDM name -> value`` (a scalar, per-participant array or Series), or a
        ``pandas.DataFrame`` with one column per parameter and one row per participant,
        as hBayesDM's ``all_ind_pars`` (participants from its ``subjID`` column if it
        has one, else from its index): each column becomes a Series indexed by
        participant, ready for ``RLSSM.loglik``.

    Returns
    -------
    dict
        ``rlssm name -> value``, in hBayesDM's order.

    Raises
    ------
    ValueError
        An unknown model name, or values that lack a parameter of the model or name one
        it does not have (both listed).

    Examples
    --------
    ```python
    params = rlssm.hbayesdm.params_from_hbayesdm("prl_rp", {"Apun": 0.2, "Arew": 0.4, "beta": 2.0})
    # {'rl_alpha_pun': 0.2, 'rl_alpha_rew': 0.4, 'beta': 2.0}
    ```
    """
    table = PARAMETERS[_known(name)]
    if isinstance(values, pd.DataFrame):
        frame = values.set_index("subjID") if "subjID" in values.columns else values
        given: Mapping[str, Any] = {str(c): frame[c] for c in frame.columns}
    elif isinstance(values, Mapping):
        given = values
    else:
        raise TypeError(f"params_from_hbayesdm: values must be a mapping or a DataFrame, got {type(values).__name__}")
    missing = [n for n in table if n not in given]
    unknown = [n for n in given if n not in table]
    if missing or unknown:
        raise ValueError(
            f"params_from_hbayesdm({name!r}): hBayesDM's parameters are {tuple(table)}; "
            f"missing {missing}, unknown {unknown}"
        )
    return {table[n]: given[n] for n in table}
