"""Data validation and preparation: errors that name the problem; ragged, blocks, missed, states."""

import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm import DataError
from rlssm.data import prepare
from rlssm.model import RLSSM

PARAMS = dict(rl_alpha=0.5, scaler=3.0, a=1.2, z=0.5, t=0.2, theta=0.2)


def small(n_part: int = 2, n_trials: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for p in range(n_part):
        for k in range(n_trials):
            resp = int(rng.integers(0, 2))
            rows.append(dict(participant_id=p, trial_id=k, response=resp,
                             rt=float(rng.uniform(0.4, 1.5)), feedback=float(rng.normal(0.5, 0.3))))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def model(angle_onnx):
    return RLSSM(rlssm.RescorlaWagner(), rlssm.AngleLAN(angle_onnx))


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.drop(columns="feedback"), r"lacks the column\(s\) \['feedback'\]"),
        (lambda d: d.drop(columns="rt"), r"lacks the column\(s\) \['rt'\]"),
        (lambda d: d.assign(response=d.response.replace({1: 2})), r"column 'response', participant 0, row \d+: value 2"),
        (lambda d: d.assign(rt=d.rt.where(d.index != 3, np.nan)), r"column 'rt', participant 0, row 3: .*NaN but response is not"),
        (lambda d: d.assign(response=d.response.where(d.index != 4, np.nan)), r"column 'response', participant 0, row 4: .*NaN but rt is not"),
        (lambda d: d.assign(rt=d.rt.where(d.index != 7, np.inf)), r"column 'rt', participant 1, row 7: value inf"),
        (lambda d: d.assign(feedback=d.feedback.where(d.index != 2, np.inf)), r"column 'feedback', participant 0, row 2: value inf"),
        (lambda d: d.assign(feedback=d.feedback.where(d.index != 5, np.nan)), r"column 'feedback', participant 0, row 5: .*answered trial"),
        (lambda d: d.assign(rt=d.rt.where(d.index != 8, -0.2)), r"column 'rt', participant 1, row 8: value -0.2; expected a positive"),
        (lambda d: d.assign(rt=d.rt.where(d.index != 9, 0.0)), r"column 'rt', participant 1, row 9: value 0.0"),
        (lambda d: d.assign(trial_id=d.trial_id.where(d.index != 1, 0)), r"column 'trial_id', participant 0, row 0: value 0; trial_id is duplicated"),
        (lambda d: d.assign(trial_id=d.trial_id.astype(float).where(d.index != 1, 0.5)), r"column 'trial_id', participant 0, row 1: value 0.5; expected an integer"),
        (lambda d: d.assign(participant_id=d.participant_id.astype(float).where(d.index != 6, np.nan)), r"column 'participant_id'.*row 6"),
        (lambda d: d.iloc[:0], r"no rows"),
    ],
)
def test_bad_data_names_the_problem(mutate, match):
    with pytest.raises(DataError, match=match):
        prepare(mutate(small()), (0, 1), ("feedback",))


def test_data_error_is_value_error():
    assert issubclass(DataError, ValueError)


def test_seed_trial_column_hint(seed_file):
    with pytest.raises(DataError, match="rename"):
        prepare(seed_file["data"], (0, 1), ("feedback",))


def test_no_silent_recoding(model):
    d = small()
    d["response"] = d["response"] * 2 - 1  # -1/+1 data with the default choices (0, 1)
    with pytest.raises(DataError, match="choices"):
        model.loglik(d, PARAMS)
    pm1 = RLSSM(rlssm.RescorlaWagner(), model.decision_model, choices=(-1, 1))
    d01 = small()
    np.testing.assert_allclose(pm1.loglik(d, PARAMS), model.loglik(d01, PARAMS), atol=1e-12)


def test_string_choices(model):
    d = small()
    named = d.assign(response=d.response.map({0: "left", 1: "right"}))
    lr = RLSSM(rlssm.RescorlaWagner(), model.decision_model, choices=("left", "right"))
    np.testing.assert_allclose(lr.loglik(named, PARAMS), model.loglik(d, PARAMS), atol=1e-12)


@pytest.mark.parametrize(
    "params, match",
    [
        ({k: v for k, v in PARAMS.items() if k != "a"}, r"params lacks \['a'\]"),
        (PARAMS | {"v": 1.0}, r"unknown names \['v'\]"),
        (PARAMS | {"a": np.ones(5)}, r"params\['a'\] has shape \(5,\)"),
        (PARAMS | {"a": np.array([1.0, np.nan])}, r"params\['a'\] holds a non-finite value nan"),
        (PARAMS | {"a": pd.Series([1.0, 1.1], index=[0, 7])}, r"missing \[1\], unknown \[7\]"),
    ],
)
def test_bad_params(model, params, match):
    with pytest.raises(DataError, match=match):
        model.loglik(small(), params)


def test_ambiguous_params_length(model):
    d = small(n_part=3, n_trials=1)  # 3 participants, 3 rows
    with pytest.raises(DataError, match="ambiguous|both the number of participants"):
        model.loglik(d, PARAMS | {"a": np.array([1.0, 1.1, 1.2])})
    ok = model.loglik(d, PARAMS | {"a": pd.Series([1.0, 1.1, 1.2], index=[0, 1, 2])})
    assert np.isfinite(ok).all()


def test_ragged_participants_give_the_same_loglik(model):
    """A participant's log-likelihood is the same alone, in a balanced and a ragged set."""
    d = small(n_part=3, n_trials=8)
    alone = model.loglik(d[d.participant_id == 1], PARAMS)
    balanced = model.loglik(d, PARAMS)[d.participant_id.to_numpy() == 1]
    ragged = d[~((d.participant_id == 2) & (d.trial_id > 2))]
    ragged = ragged[~((ragged.participant_id == 0) & (ragged.trial_id > 5))]
    in_ragged = model.loglik(ragged, PARAMS)[ragged.participant_id.to_numpy() == 1]
    np.testing.assert_allclose(alone, balanced, atol=1e-12)
    np.testing.assert_allclose(alone, in_ragged, atol=1e-12)


def test_trial_order_from_trial_id_not_rows(model):
    d = small(n_trials=10)
    gapped = d.assign(trial_id=d.trial_id * 10 + 3)  # gaps carry no meaning
    reversed_rows = gapped.iloc[::-1]
    np.testing.assert_allclose(
        model.loglik(reversed_rows, PARAMS)[::-1], model.loglik(d, PARAMS), atol=1e-12
    )


def test_missed_trials_add_nothing_and_do_not_update(model):
    d = small(n_part=1, n_trials=10)
    missed = d.copy()
    missed.loc[4, ["rt", "response"]] = np.nan
    missed.loc[4, "feedback"] = np.nan
    ll = model.loglik(missed, PARAMS)
    assert ll[4] == 0.0
    kept = model.loglik(d.drop(index=4), PARAMS)
    np.testing.assert_allclose(np.delete(ll, 4), kept, atol=1e-12)
    vals = model.values(missed, PARAMS)
    assert vals.loc[5, "value_0"] == vals.loc[4, "value_0"] or vals.loc[5, "value_1"] == vals.loc[4, "value_1"]


def test_blocks_reset_values(model):
    d = small(n_part=1, n_trials=10)
    blocked = d.assign(block=np.repeat([1, 2], 5))
    vals = model.values(blocked, PARAMS)
    assert vals.loc[5, "value_0"] == 0.5 and vals.loc[5, "value_1"] == 0.5
    assert not (vals.loc[4, ["value_0", "value_1"]] == 0.5).all()
    # Each block is then the same as a fresh participant.
    second = d.iloc[5:].assign(trial_id=range(5))
    np.testing.assert_allclose(model.loglik(blocked, PARAMS)[5:], model.loglik(second, PARAMS), atol=1e-12)


def test_states_keep_their_own_values(model):
    d = small(n_part=1, n_trials=12)
    states = d.assign(state=np.tile(["AB", "CD"], 6))
    ll = model.loglik(states, PARAMS)
    for s in ("AB", "CD"):
        sub = states[states.state == s].drop(columns="state")
        np.testing.assert_allclose(ll[states.state.to_numpy() == s], model.loglik(sub, PARAMS), atol=1e-12)
    assert model.extra_fields_for(states) == ("participant_id", "trial_id", "feedback", "state")


def test_block_or_state_nan_rejected():
    d = small().assign(block=1.0)
    d.loc[3, "block"] = np.nan
    with pytest.raises(DataError, match=r"column 'block', participant 0, row 3"):
        prepare(d)
