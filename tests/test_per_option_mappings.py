"""Per-option mappings (Values, RaceScaling, Advantage) and Softmax inside an RLSSM.

Mapping outputs are checked against numbers worked out by hand; the three-option model's
likelihood against Rescorla-Wagner updates and softmax probabilities written out here.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.decision.softmax import Softmax
from rlssm.mapping.per_option import Advantage, RaceScaling, Values


def as_floats(out: dict) -> dict[str, float]:
    return {k: float(v) for k, v in out.items()}


# ---------------------------------------------------------------------- by hand
def test_values_by_hand():
    assert Values().params == {}
    assert Values().output_names(3) == ("v0", "v1", "v2")
    out = Values()(jnp.array([0.2, 0.7, 0.1], jnp.float32))
    assert as_floats(out) == pytest.approx({"v0": 0.2, "v1": 0.7, "v2": 0.1}, abs=1e-7)


def test_race_scaling_by_hand():
    assert RaceScaling().output_names(4) == ("v0", "v1", "v2", "v3")
    # 2.5 * (0.2, 0.7, 0.1, 0.4) = (0.5, 1.75, 0.25, 1.0)
    out = RaceScaling()(jnp.array([0.2, 0.7, 0.1, 0.4]), scaler=jnp.array(2.5))
    assert as_floats(out) == pytest.approx({"v0": 0.5, "v1": 1.75, "v2": 0.25, "v3": 1.0}, abs=1e-6)


def test_advantage_by_hand():
    """Q = (0.8, 0.3), urgency 1.5, wd 2, ws 0.5:
    v0 = 1.5 + 2 * (0.8 - 0.3) + 0.5 * 1.1 = 3.05;  v1 = 1.5 + 2 * (0.3 - 0.8) + 0.55 = 1.05."""
    out = Advantage()(jnp.array([0.8, 0.3]), urgency=jnp.array(1.5), wd=jnp.array(2.0), ws=jnp.array(0.5))
    assert as_floats(out) == pytest.approx({"v0": 3.05, "v1": 1.05}, abs=1e-6)
    assert tuple(Advantage().params) == ("urgency", "wd", "ws")


def test_advantage_refuses_more_than_two_options():
    with pytest.raises(ValueError, match="Advantage.*AdvantageRDM.*Values"):
        Advantage()(jnp.array([0.1, 0.2, 0.3]), urgency=jnp.array(1.0), wd=jnp.array(1.0), ws=jnp.array(1.0))
    # Inside a model the mapping is traced at construction: RLSSM(...) itself fails.
    with pytest.raises((TypeError, ValueError), match="Advantage.*two options.*AdvantageRDM"):
        rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(3), mapping=Advantage(), choices=(0, 1, 2))


# ---------------------------------------------------------------------- composition
def test_composition_derives_per_option_inputs():
    race = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(3), mapping=RaceScaling(), choices=(0, 1, 2))
    assert race.composition.computed == ("v0", "v1", "v2")
    assert race.param_names == ("rl_alpha", "scaler", "beta")
    plain = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(3), mapping=Values(), choices=(0, 1, 2))
    assert plain.param_names == ("rl_alpha", "beta")
    lapsed = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(4, lapse=True), mapping=Values(), choices=(0, 1, 2, 3))
    assert lapsed.param_names == ("rl_alpha", "beta", "epsilon")
    assert lapsed.composition.computed == ("v0", "v1", "v2", "v3")
    two = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(2), mapping=Advantage())
    assert two.param_names == ("rl_alpha", "urgency", "wd", "ws", "beta")


# ---------------------------------------------------------------------- end to end
# Rescorla-Wagner (alpha 0.5, values from 0.5), three options; responses 2, 0, 2, 1, 2 with
# feedback 1, 0, 0, 1, 1. Values before each trial, by hand:
#   t0: (0.5, 0.5, 0.5)     chose 2, r 1: Q2 = 0.5 + 0.5 * 0.5 = 0.75
#   t1: (0.5, 0.5, 0.75)    chose 0, r 0: Q0 = 0.5 - 0.5 * 0.5 = 0.25
#   t2: (0.25, 0.5, 0.75)   chose 2, r 0: Q2 = 0.75 - 0.5 * 0.75 = 0.375
#   t3: (0.25, 0.5, 0.375)  chose 1, r 1: Q1 = 0.5 + 0.5 * 0.5 = 0.75
#   t4: (0.25, 0.75, 0.375) chose 2
# With beta = 4: log P(t0) = -log 3; log P(t1) = 2 - log(2 e^2 + e^3) = -log(2 + e);
# log P(t2) = 3 - log(e + e^2 + e^3) = -log(1 + e^-1 + e^-2); t3 and t4 likewise below.
RW3_VALUES = np.array(
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.75], [0.25, 0.5, 0.75], [0.25, 0.5, 0.375], [0.25, 0.75, 0.375]]
)
RW3_CHOICES = np.array([2, 0, 2, 1, 2])
RW3_LOGP = np.array(
    [
        -math.log(3.0),
        -math.log(2.0 + math.e),
        -math.log(1.0 + math.exp(-1.0) + math.exp(-2.0)),
        2.0 - math.log(math.exp(1.0) + math.exp(2.0) + math.exp(1.5)),
        1.5 - math.log(math.exp(1.0) + math.exp(3.0) + math.exp(1.5)),
    ]
)


def test_three_option_softmax_model_by_hand():
    data = pd.DataFrame(
        {
            "participant_id": 0,
            "trial_id": np.arange(5),
            "response": RW3_CHOICES,
            "rt": [0.5, 0.6, 0.7, 0.8, 0.9],
            "feedback": [1.0, 0.0, 0.0, 1.0, 1.0],
        }
    )
    model = rlssm.RLSSM(rlssm.RescorlaWagner(), Softmax(3), mapping=Values(), choices=(0, 1, 2))
    params = {"rl_alpha": 0.5, "beta": 4.0}
    ll = model.loglik(data, params)
    np.testing.assert_allclose(ll, RW3_LOGP, rtol=0, atol=1e-12)
    vals = model.values(data, params)
    np.testing.assert_allclose(vals[["value_0", "value_1", "value_2"]].to_numpy(), RW3_VALUES, atol=1e-12)
    np.testing.assert_allclose(vals[["v0", "v1", "v2"]].to_numpy(), RW3_VALUES, atol=1e-12)
    # The pure function is differentiable in every parameter.
    grad = jax.grad(lambda p: jnp.sum(model.logp_fn(data)(p)))(
        {k: jnp.asarray(v) for k, v in params.items()}
    )
    assert all(bool(jnp.isfinite(g)) and float(g) != 0.0 for g in grad.values())
