"""The composed model: seed value, gradients, alignment, float policy, extension."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.model import RLSSM

SEED_POINT = dict(rl_alpha=0.6, rl_alpha_neg=0.6, scaler=3.2, a=1.2, z=0.1, t=0.1, theta=0.1)
INTERIOR = dict(rl_alpha=0.6, rl_alpha_neg=0.4, scaler=3.2, a=1.2, z=0.3, t=0.3, theta=0.2)


@pytest.fixture(scope="module")
def lan(angle_onnx):
    return rlssm.AngleLAN(angle_onnx)


def test_param_names_and_fields(lan):
    model = RLSSM(rlssm.DualRateRW(), lan)
    assert model.param_names == ("rl_alpha", "rl_alpha_neg", "scaler", "a", "z", "t", "theta")
    assert model.extra_fields == ("participant_id", "trial_id", "feedback")
    assert model.choices == (0, 1)
    assert model.bounds["theta"] == (-0.1, 1.3)
    assert model.bounds["rl_alpha"] == (0.0, 1.0)
    assert isinstance(model.mapping, rlssm.DriftScaling)


def test_bounds_override_and_errors(lan):
    model = RLSSM(rlssm.DualRateRW(), lan, bounds={"scaler": (1.0, 4.0), "t": (0.001, 1.0)})
    assert model.bounds["scaler"] == (1.0, 4.0)
    assert model.bounds["a"] == (0.3, 3.0)
    with pytest.raises(ValueError, match="not a parameter"):
        RLSSM(rlssm.DualRateRW(), lan, bounds={"alpha": (0.0, 1.0)})
    with pytest.raises(ValueError, match="lower < upper"):
        RLSSM(rlssm.DualRateRW(), lan, bounds={"a": (2.0, 1.0)})
    with pytest.raises(ValueError, match="options"):
        RLSSM(rlssm.DualRateRW(), lan, choices=(0, 1, 2))


def test_seed_loglik(lan, seed_data):
    """The seed point with correct -1/+1 coding gives -6618.5671 (float64)."""
    model = RLSSM(rlssm.DualRateRW(), lan, precision="float64")
    ll = model.loglik(seed_data, SEED_POINT)
    assert ll.dtype == np.float64
    assert ll.shape == (len(seed_data),)
    assert ll.sum() == pytest.approx(-6618.5671, abs=1e-3)


def test_seed_parity_with_raw_01_coding(lan, seed_data):
    """Feeding the raw 0/1 responses to the LAN (the seed's bug) gives -6879.1526."""
    model = RLSSM(rlssm.DualRateRW(), lan, precision="float64")
    vals = model.values(seed_data, SEED_POINT)
    with jax.enable_x64(True):
        raw = lan.logp(
            jnp.asarray(seed_data["rt"].to_numpy()),
            jnp.asarray(seed_data["response"].to_numpy()),  # 0/1, not -1/+1
            v=jnp.asarray(vals["v"].to_numpy()),
            a=1.2, z=0.1, t=0.1, theta=0.1,
        )
        total = float(raw.sum())
    assert total == pytest.approx(-6879.1526, abs=1e-3)


def test_values_before_update(lan, seed_data):
    """Trial k's drift uses the values before trial k's update; values start at 0.5."""
    model = RLSSM(rlssm.DualRateRW(), lan)
    seed_data = seed_data.reset_index(drop=True)
    vals = model.values(seed_data, INTERIOR)
    one = seed_data[seed_data.participant_id == 3].sort_values("trial_id")
    q = np.array([0.5, 0.5])
    for (_, row), (_, got) in zip(one.iterrows(), vals.loc[one.index].iterrows(), strict=False):
        assert got["value_0"] == pytest.approx(q[0], abs=1e-12)
        assert got["value_1"] == pytest.approx(q[1], abs=1e-12)
        assert got["v"] == pytest.approx(3.2 * (q[1] - q[0]), abs=1e-12)
        c = int(row["response"])
        delta = row["feedback"] - q[c]
        q[c] += (0.6 if delta > 0 else 0.4) * delta
    assert list(vals.columns) == ["value_0", "value_1", "v", "a", "z", "t", "theta"]


def test_rows_align_for_shuffled_data(lan, seed_data):
    model = RLSSM(rlssm.DualRateRW(), lan)
    ll = pd.Series(model.loglik(seed_data, INTERIOR), index=np.arange(len(seed_data)))
    shuffled = seed_data.reset_index(drop=True).sample(frac=1.0, random_state=3)
    ll_shuffled = model.loglik(shuffled, INTERIOR)
    np.testing.assert_allclose(ll_shuffled, ll.loc[shuffled.index].to_numpy(), rtol=0, atol=1e-12)


def test_gradients_match_finite_differences(lan, seed_data):
    model = RLSSM(rlssm.DualRateRW(), lan, precision="float64")
    f = model.logp_fn(seed_data)
    with jax.enable_x64(True):
        total = jax.jit(lambda p: f(p).sum())
        params = {k: jnp.asarray(v, jnp.float64) for k, v in INTERIOR.items()}
        grads = jax.grad(total)(params)
        for name, value in INTERIOR.items():
            h = 1e-5 * max(1.0, abs(value))
            up = float(total(params | {name: jnp.asarray(value + h, jnp.float64)}))
            down = float(total(params | {name: jnp.asarray(value - h, jnp.float64)}))
            fd = (up - down) / (2 * h)
            assert float(grads[name]) == pytest.approx(fd, rel=1e-5), name


def test_per_participant_and_per_row_params(lan, seed_data):
    model = RLSSM(rlssm.DualRateRW(), lan)
    rng = np.random.default_rng(0)
    a_part = rng.uniform(0.9, 1.5, 20)
    by_part = model.loglik(seed_data, INTERIOR | {"a": a_part})
    series = pd.Series(a_part[::-1], index=np.arange(19, -1, -1))  # labelled, any order
    np.testing.assert_allclose(model.loglik(seed_data, INTERIOR | {"a": series}), by_part, atol=1e-12)
    per_row = a_part[seed_data["participant_id"].to_numpy()]
    np.testing.assert_allclose(model.loglik(seed_data, INTERIOR | {"a": per_row}), by_part, atol=1e-12)
    alone = model.loglik(seed_data, INTERIOR)
    assert not np.allclose(alone, by_part)


def test_float32_and_float64_policies(lan, seed_data):
    m64 = RLSSM(rlssm.DualRateRW(), lan, precision="float64")
    m32 = RLSSM(rlssm.DualRateRW(), lan, precision="float32")
    ll64 = m64.loglik(seed_data, INTERIOR)
    ll32 = m32.loglik(seed_data, INTERIOR)
    assert ll64.dtype == np.float64 and ll32.dtype == np.float32
    np.testing.assert_allclose(ll32, ll64, rtol=1e-4, atol=1e-4)


def test_results_do_not_depend_on_global_x64_flag(lan, seed_data):
    """Same numbers whether or not something (such as `import hssm`) turned x64 on."""
    seed_data = seed_data[seed_data.participant_id < 3]
    for precision in ("float32", "float64"):
        model = RLSSM(rlssm.DualRateRW(), lan, precision=precision)
        f = model.logp_fn(seed_data)
        params = {k: np.float32(v) for k, v in INTERIOR.items()}
        with jax.enable_x64(False):
            off = np.asarray(model.loglik(seed_data, INTERIOR))
            off_f = np.asarray(jax.jit(f)(params))
            off_g = jax.jit(jax.grad(lambda p: f(p).sum()))(params)
        with jax.enable_x64(True):
            on = np.asarray(model.loglik(seed_data, INTERIOR))
            on_f = np.asarray(jax.jit(f)(params))
            on_g = jax.jit(jax.grad(lambda p: f(p).sum()))(params)
        np.testing.assert_array_equal(off, on)
        if precision == "float32":
            np.testing.assert_array_equal(off_f, on_f)
            for k in params:
                np.testing.assert_array_equal(np.asarray(off_g[k]), np.asarray(on_g[k]))
        else:
            # With x64 off the caller receives float32 copies of float64 results.
            np.testing.assert_allclose(off_f, on_f, rtol=1e-6)
            for k in params:
                np.testing.assert_allclose(float(off_g[k]), float(on_g[k]), rtol=1e-5)


def test_importing_rlssm_leaves_x64_alone():
    import subprocess
    import sys

    code = "import jax, rlssm; print(jax.config.jax_enable_x64)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class DecayRW(rlssm.AbstractLearningRule):
    """Rescorla-Wagner; all values decay back toward their start before learning."""

    initial_value: float = 0.5
    params = {"alpha": (0.0, 1.0), "decay": (0.0, 1.0)}
    fields = ("feedback",)

    def update(self, values, choice, feedback, alpha, decay):
        decayed = values + decay * (self.initial_value - values)
        learned = values[choice] + alpha * (feedback - values[choice])
        return decayed.at[choice].set(learned)


def test_user_learning_rule_by_subclassing(lan, seed_data):
    model = RLSSM(DecayRW(), lan)
    assert model.param_names == ("rl_alpha", "rl_decay", "scaler", "a", "z", "t", "theta")
    params = INTERIOR | {"rl_alpha": 0.5, "rl_decay": 0.0}
    params.pop("rl_alpha_neg")
    # decay = 0 is plain Rescorla-Wagner.
    rw = RLSSM(rlssm.RescorlaWagner(), lan)
    rw_params = {k: v for k, v in params.items() if k != "rl_decay"}
    np.testing.assert_allclose(
        model.loglik(seed_data, params), rw.loglik(seed_data, rw_params), atol=1e-12
    )
    decayed = model.loglik(seed_data, params | {"rl_decay": 0.3})
    assert np.isfinite(decayed).all() and not np.allclose(decayed, rw.loglik(seed_data, rw_params))


def test_abstract_rule_must_declare_everything():
    class Incomplete(rlssm.AbstractLearningRule):
        initial_value: float = 0.5
        fields = ("feedback",)

        def update(self, values, choice, feedback):
            return values

    with pytest.raises(TypeError):
        Incomplete()


def test_dual_rate_equals_single_rate_when_equal(lan, seed_data):
    dual = RLSSM(rlssm.DualRateRW(), lan)
    single = RLSSM(rlssm.RescorlaWagner(), lan)
    p = {k: v for k, v in SEED_POINT.items() if k != "rl_alpha_neg"}
    np.testing.assert_allclose(dual.loglik(seed_data, SEED_POINT), single.loglik(seed_data, p), atol=1e-12)


@pytest.mark.parametrize("messy", [False, True])
def test_row_gathers_have_exact_gradients(monkeypatch: pytest.MonkeyPatch, seed_data, messy):
    """The row <-> grid gathers' hand-written transposes (gathers, not scatter-adds) give
    the same per-row gradients as plain indexing, on tidy data and on shuffled,
    unequal-length data with a missed trial (padding cells and the masked scan)."""
    import rlssm.engine.likelihood as likelihood_module
    import rlssm.engine.params as params_module

    model = RLSSM(rlssm.DualRateRW(), rlssm.Angle(), precision="float64")
    data = seed_data[seed_data["participant_id"].isin(sorted(seed_data["participant_id"].unique())[:3])]
    if messy:
        data = data.drop(index=data.index[(data["participant_id"] == data["participant_id"].iloc[0]) & (data["trial_id"] >= 150)])
        data = data.copy()
        data.loc[data.index[7], ["rt", "response"]] = np.nan
        data = data.sample(frac=1.0, random_state=0)
    n = len(data)
    rng = np.random.default_rng(0)
    point = dict(rl_alpha=0.6, rl_alpha_neg=0.4, scaler=3.0, a=1.4, z=0.3, t=0.3, theta=0.2)
    params = {k: v * (1 + 0.1 * rng.uniform(-1, 1, n)) for k, v in point.items()}
    weights = jnp.asarray(rng.uniform(0.5, 1.5, n))

    def grads():
        f = model.logp_fn(data)
        return jax.grad(lambda p: jnp.sum(f(p) * weights))(params)

    fast = grads()
    monkeypatch.setattr(likelihood_module, "gather_rows", lambda x, index, back_index, back_valid: x[index])
    monkeypatch.setattr(params_module, "gather_rows", lambda x, index, back_index, back_valid: x[index])
    plain = grads()
    for name in point:
        np.testing.assert_allclose(fast[name], plain[name], rtol=1e-12, atol=1e-12, err_msg=name)
        assert np.all(np.isfinite(fast[name]))
