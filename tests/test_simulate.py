"""Environments, the closed-loop simulator and one-step-ahead (conditional) simulation.

References are independent of the simulator: sample moments against the environments'
settings, choice proportions against closed-form choice probabilities (the DDM's and a
toy model's), and the likelihood machinery (`RLSSM.values`, `RLSSM.logp_fn`) on the
simulated data. Plumbing tests use the toy decision model, which compiles in a fraction
of the DDM's time.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.optimize

from rlssm import AbstractDecisionModel, DataError, RescorlaWagner
from rlssm.decision.ddm import DDM
from rlssm.environments import AbstractEnvironment, BernoulliBandit, GaussianBandit
from rlssm.learning import AbstractLearningRule
from rlssm.model import RLSSM
from rlssm.simulation import (
    sample_conditional_rows,
    simulate,
    simulate_conditional,
    simulate_draws,
)

PARAMS = {"rl_alpha": 0.3, "scaler": 3.0, "a": 0.8, "z": 0.5, "t": 0.2}
# Most tests share these sizes, so that the simulator compiles once per configuration.
N_PART, N_TRIALS = 4, 100


class Toy(AbstractDecisionModel):
    """A decision model that is cheap to compile, for tests of the simulator's plumbing.

    ``P(upper) = sigmoid(2 a v + logit z)``; ``rt = t + Exponential(mean a)``; draws
    with ``rt - t > max_t`` are undecided (``rt = inf``).
    """

    max_t: float = eqx.field(default=math.inf, static=True)
    params = {"v": (-5.0, 5.0), "a": (0.1, 3.0), "z": (0.1, 0.9), "t": (0.0, 2.0)}
    choices = (-1, 1)

    def _logit(self, v, a, z):
        return 2.0 * a * v + jnp.log(z) - jnp.log1p(-z)

    def logp(self, rt, choice, *, v, a, z, t):
        logit = self._logit(v, a, z)
        log_choice = jnp.where(choice > 0, jax.nn.log_sigmoid(logit), jax.nn.log_sigmoid(-logit))
        s = rt - t
        return jnp.where(s > 0, log_choice - jnp.log(a) - s / a, -66.1)

    def sample(self, key, *, v, a, z, t):
        v, a, z, t = jnp.broadcast_arrays(v, a, z, t)
        k_choice, k_time = jax.random.split(key)
        upper = jax.random.uniform(k_choice, v.shape, dtype=v.dtype) < jax.nn.sigmoid(self._logit(v, a, z))
        s = a * jax.random.exponential(k_time, v.shape, dtype=v.dtype)
        rt = jnp.where(s > self.max_t, jnp.inf, t + s)
        return rt, jnp.where(upper, 1, -1).astype(jnp.int32)


def _model(choices=(0, 1), decision=None, **kwargs) -> RLSSM:
    return RLSSM(RescorlaWagner(), Toy() if decision is None else decision, choices=choices, **kwargs)


def _p_upper_toy(v, a, z):
    return 1.0 / (1.0 + np.exp(-(2.0 * a * v + np.log(z / (1.0 - z)))))


def _p_upper(v, a, z):
    """P(upper boundary) of a unit-noise diffusion, separation 2a, start z (closed form)."""
    sep = 2.0 * a
    v = np.asarray(v, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = -np.expm1(-2.0 * v * sep * z) / -np.expm1(-2.0 * v * sep)
    return np.where(np.abs(v) < 1e-9, z, p)


def _rewards(env, trial, choice, n=20_000, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    with jax.enable_x64(True):
        return np.asarray(jax.vmap(env.reward, in_axes=(0, None, None))(keys, trial, choice))


# ---------------------------------------------------------------------- environments
class TestEnvironments:
    def test_gaussian_moments_per_arm(self):
        env = GaussianBandit(means=(0.2, 0.8, -1.0), sd=(0.1, 0.5, 2.0))
        assert env.n_options == 3
        for arm, (mean, sd) in enumerate(zip(env.means, env.sd)):
            x = _rewards(env, 0, arm, seed=arm)
            assert abs(x.mean() - mean) < 4 * sd / math.sqrt(x.size)
            assert abs(x.std() / sd - 1) < 0.03

    def test_gaussian_scalar_sd(self):
        env = GaussianBandit(means=(0.0, 1.0), sd=0.3)
        np.testing.assert_array_equal(env.sd, [0.3, 0.3])

    def test_bernoulli_rates(self):
        env = BernoulliBandit(p=(0.0, 0.25, 0.9, 1.0))
        for arm, p in enumerate(env.p):
            x = _rewards(env, 3, arm, seed=arm)
            assert set(np.unique(x)) <= {0.0, 1.0}
            assert abs(x.mean() - p) <= 4 * math.sqrt(p * (1 - p) / x.size) + 1e-12

    def test_two_arm_reversal_swaps_at_the_trial(self):
        env = GaussianBandit(means=(0.0, 1.0), sd=0.01, reversals=(5, 8))
        arm0 = [float(_rewards(env, t, 0, n=200).mean()) for t in range(10)]
        np.testing.assert_allclose(arm0, [0] * 5 + [1] * 3 + [0] * 2, atol=0.01)
        best = [int(env.best_option(t)) for t in range(10)]
        assert best == [1] * 5 + [0] * 3 + [1] * 2

    def test_three_arm_reversal_rotates_by_one(self):
        env = BernoulliBandit(p=(0.0, 0.5, 1.0), reversals=(3, 6))
        means = lambda t: [float(_rewards(env, t, k, n=4000).mean()) for k in range(3)]  # noqa: E731
        np.testing.assert_allclose(means(2), [0.0, 0.5, 1.0], atol=0.05)
        # After one reversal arm k pays what arm (k + 1) % 3 paid.
        np.testing.assert_allclose(means(3), [0.5, 1.0, 0.0], atol=0.05)
        np.testing.assert_allclose(means(6), [1.0, 0.0, 0.5], atol=0.05)
        assert [int(env.best_option(t)) for t in (0, 3, 6)] == [2, 1, 0]

    def test_jit_and_vmap_over_trials(self):
        env = BernoulliBandit(p=(0.0, 1.0), reversals=(2,))
        trials = jnp.arange(4, dtype=jnp.int32)
        keys = jax.random.split(jax.random.key(0), 4)
        out = jax.jit(jax.vmap(env.reward, in_axes=(0, 0, None)))(keys, trials, jnp.int32(1))
        np.testing.assert_array_equal(np.asarray(out), [1.0, 1.0, 0.0, 0.0])
        best = jax.jit(jax.vmap(env.best_option))(trials)
        assert best.dtype == jnp.int32

    def test_settings_are_leaves(self):
        """A new setting of the same shape reuses a compiled function."""
        f = eqx.filter_jit(lambda env, key: env.reward(key, 0, 1))
        with jax.enable_x64(True):
            for p in (0.0, 1.0):
                out = f(BernoulliBandit((0.5, p), reversals=(3,)), jax.random.key(0))
                assert float(out) == p
        assert eqx.tree_equal(GaussianBandit((0.0, 1.0)), GaussianBandit((0.0, 1.0)))

    def test_float_policy(self):
        env = GaussianBandit(means=(0.0, 1.0))
        with jax.enable_x64(False):
            assert env.reward(jax.random.key(0), 0, 1).dtype == jnp.float32
        with jax.enable_x64(True):
            assert env.reward(jax.random.key(0), 0, 1).dtype == jnp.float64

    @pytest.mark.parametrize(
        ("make", "match"),
        [
            (lambda: GaussianBandit(means=(0.0, 1.0), sd=0.0), "sd must be positive"),
            (lambda: GaussianBandit(means=(0.0, 1.0), sd=(1.0, -1.0)), "sd must be positive"),
            (lambda: GaussianBandit(means=(0.0, 1.0), sd=(1.0, 1.0, 1.0)), "one value per arm"),
            (lambda: GaussianBandit(means=(0.5,)), "at least 2 arms"),
            (lambda: GaussianBandit(means=(0.0, np.nan)), "finite"),
            (lambda: BernoulliBandit(p=(0.2, 1.2)), r"in \[0, 1\]"),
            (lambda: BernoulliBandit(p=(-0.1, 0.5)), r"in \[0, 1\]"),
            (lambda: BernoulliBandit(p=(0.5,)), "at least 2 arms"),
            (lambda: BernoulliBandit(p=(0.2, 0.8), reversals=(-1,)), "non-negative"),
            (lambda: BernoulliBandit(p=(0.2, 0.8), reversals=(10, 5)), "increasing"),
            (lambda: BernoulliBandit(p=(0.2, 0.8), reversals=(5, 5)), "increasing"),
            (lambda: BernoulliBandit(p=(0.2, 0.8), reversals=np.array([2.5])), "integer"),
        ],
    )
    def test_validation(self, make, match):
        with pytest.raises(ValueError, match=match):
            make()

    def test_user_environment(self):
        class Constant(AbstractEnvironment):
            """Pays the option index; option 1 is best."""

            n_options: int = 2

            def reward(self, key, trial, choice):
                return jnp.asarray(choice, dtype=float)

            def best_option(self, trial):
                return jnp.int32(1)

        sim = simulate(_model(), PARAMS, Constant(), N_PART, N_TRIALS)
        np.testing.assert_array_equal(sim["feedback"], sim["response"])
        np.testing.assert_array_equal(sim["correct"], sim["response"])


# ---------------------------------------------------------------------- simulate
class TestSimulate:
    def test_schema(self):
        sim = simulate(_model(), PARAMS, GaussianBandit((0.2, 0.8), 0.1), N_PART, N_TRIALS)
        assert list(sim.columns) == ["participant_id", "trial_id", "response", "rt", "feedback", "correct"]
        assert len(sim) == N_PART * N_TRIALS
        assert isinstance(sim.index, pd.RangeIndex)
        assert sim["participant_id"].dtype == np.int64 and sim["trial_id"].dtype == np.int64
        for col in ("response", "rt", "feedback", "correct"):
            assert sim[col].dtype == np.float64
        np.testing.assert_array_equal(sim["participant_id"], np.repeat(np.arange(N_PART), N_TRIALS))
        np.testing.assert_array_equal(sim["trial_id"], np.tile(np.arange(N_TRIALS), N_PART))
        assert set(sim["response"]) == {0.0, 1.0}
        assert (sim["rt"] > PARAMS["t"]).all()
        # Means 0.2 / 0.8: option 1 is the better one throughout.
        np.testing.assert_array_equal(sim["correct"], sim["response"])
        # Feedback: the chosen arm's Normal(mean, 0.1).
        for k, mean in enumerate((0.2, 0.8)):
            fb = sim.loc[sim.response == k, "feedback"]
            assert abs(fb.mean() - mean) < 4 * 0.1 / math.sqrt(len(fb))

    def test_reproducible(self):
        model, env = _model(), BernoulliBandit((0.3, 0.7))
        a = simulate(model, PARAMS, env, N_PART, N_TRIALS, seed=5)
        b = simulate(model, PARAMS, env, N_PART, N_TRIALS, seed=5)
        c = simulate(model, PARAMS, env, N_PART, N_TRIALS, seed=6)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, model.simulate(PARAMS, env, N_PART, N_TRIALS, seed=5))
        assert not np.allclose(a["rt"], c["rt"])
        assert set(a["feedback"]) == {0.0, 1.0}

    @pytest.mark.parametrize("choices", [(-1, 1), (0, 1), ("left", "right")])
    def test_response_coding(self, choices):
        model = _model(choices=choices)
        sim = simulate(model, PARAMS, GaussianBandit((0.2, 0.8), 0.1), N_PART, N_TRIALS, seed=1)
        assert set(sim["response"]) == set(choices)
        # Option 1 (choices[1]) is the best arm.
        np.testing.assert_array_equal(sim["correct"], (sim["response"] == choices[1]).astype(float))
        # The output is valid data for the same model.
        assert np.isfinite(model.loglik(sim, PARAMS)).all()

    def test_learning_signal(self):
        params = PARAMS | {"rl_alpha": 0.4, "scaler": 8.0}
        sim = simulate(_model(), params, GaussianBandit((0.3, 0.7), 0.2), N_PART, N_TRIALS, seed=2)
        by_trial = sim.groupby("trial_id")["correct"].mean()
        first, last = by_trial.iloc[:10].mean(), by_trial.iloc[-50:].mean()
        assert last > 0.85
        assert last > first + 0.15

    def test_no_learning_without_rate(self):
        sim = simulate(_model(), PARAMS | {"rl_alpha": 0.0}, GaussianBandit((0.3, 0.7), 0.2), N_PART, N_TRIALS)
        # v stays 0 and z = 0.5: choices are fair coin flips.
        assert abs(sim["response"].mean() - 0.5) < 4 * math.sqrt(0.25 / len(sim))

    def test_per_participant_params(self):
        model, env = _model(), GaussianBandit((0.2, 0.8), 0.1)
        t = np.array([0.1, 0.5, 1.0, 1.5])
        sim = simulate(model, PARAMS | {"t": t}, env, N_PART, N_TRIALS)
        fastest = sim.groupby("participant_id")["rt"].min().to_numpy()
        assert (fastest > t).all() and (fastest < t + 0.3).all()
        as_series = simulate(model, PARAMS | {"t": pd.Series(t[::-1], index=[3, 2, 1, 0])}, env, N_PART, N_TRIALS)
        pd.testing.assert_frame_equal(sim, as_series)

    @pytest.mark.parametrize(
        ("change", "match"),
        [
            ({"scaler": None}, "lacks"),
            ({"bogus": 1.0}, "unknown"),
            ({"a": np.ones(N_PART + 1)}, "shape"),
            ({"a": np.ones((N_PART, 1))}, "shape"),
            ({"z": np.nan}, "non-finite"),
            ({"t": pd.Series(np.full(N_PART, 0.2), index=np.arange(N_PART) + 1)}, "Series"),
            ({"a": "wide"}, "expected numbers"),
        ],
    )
    def test_param_validation(self, change, match):
        params = {k: v for k, v in (PARAMS | change).items() if v is not None}
        with pytest.raises(DataError, match=match):
            simulate(_model(), params, GaussianBandit((0.2, 0.8)), N_PART, N_TRIALS)

    def test_env_and_rule_checks(self):
        with pytest.raises(ValueError, match="3 options"):
            simulate(_model(), PARAMS, GaussianBandit((0.1, 0.2, 0.3)), N_PART, N_TRIALS)

        class CueRW(AbstractLearningRule):
            initial_value: float = 0.5
            params = {"alpha": (0.0, 1.0)}
            fields = ("feedback", "cue")

            def update(self, values, choice, feedback, cue, alpha):
                return values.at[choice].add(alpha * (feedback * cue - values[choice]))

        model = RLSSM(CueRW(), Toy())
        with pytest.raises(ValueError, match="'cue'"):
            simulate(model, PARAMS, GaussianBandit((0.2, 0.8)), N_PART, N_TRIALS)
        with pytest.raises(ValueError, match="n_trials"):
            simulate(_model(), PARAMS, GaussianBandit((0.2, 0.8)), N_PART, 0)
        with pytest.raises(TypeError, match="AbstractEnvironment"):
            simulate(_model(), PARAMS, "bandit", N_PART, N_TRIALS)

    def test_rule_without_fields(self):
        class Creep(AbstractLearningRule):
            """Option 1's value creeps up, whatever the feedback."""

            initial_value: float = 0.5
            params = {"step": (0.0, 1.0)}
            fields = ()

            def update(self, values, choice, step):
                return values.at[1].add(step)

        model = RLSSM(Creep(), Toy())
        params = PARAMS | {"rl_step": 0.1}
        del params["rl_alpha"]
        sim = simulate(model, params, BernoulliBandit((0.5, 0.5)), N_PART, N_TRIALS)
        assert sim.loc[sim.trial_id >= 40, "response"].mean() > 0.95

    def test_float32_policy(self):
        model = _model(precision="float32")
        sim = simulate(model, PARAMS, GaussianBandit((0.2, 0.8), 0.1), N_PART, N_TRIALS)
        assert sim["rt"].dtype == np.float64 and np.isfinite(sim["rt"]).all()

    def test_choices_follow_simulated_values(self):
        """The decision parameters rebuilt from the simulated history drove its choices."""
        model = _model(choices=(-1, 1))
        params = PARAMS | {"scaler": 2.0, "rl_alpha": 0.5}
        env = GaussianBandit((0.2, 0.8), 0.3, reversals=(30, 60))
        sim = simulate(model, params, env, N_PART, N_TRIALS, seed=4)
        vals = model.values(sim, params)
        p_up = _p_upper_toy(vals["v"].to_numpy(), params["a"], params["z"])
        upper = (sim["response"] == 1).to_numpy()
        bins = pd.qcut(vals["v"], 5, labels=False, duplicates="drop").to_numpy()
        assert len(np.unique(bins)) == 5
        for b in range(5):
            idx = bins == b
            sd = math.sqrt(np.sum(p_up[idx] * (1 - p_up[idx]))) / idx.sum()
            assert abs(upper[idx].mean() - p_up[idx].mean()) < 4.5 * sd

    def test_missed_trials(self):
        """Undecided draws (rt = inf) become missed trials that teach nothing."""
        model = _model(decision=Toy(max_t=0.6))
        params = PARAMS | {"rl_alpha": 0.5}
        sim = simulate(model, params, GaussianBandit((0.0, 1.0), 0.1), N_PART, N_TRIALS, seed=0)
        missed = sim["rt"].isna()
        assert 0.2 < missed.mean() < 0.8
        for col in ("response", "feedback", "correct"):
            np.testing.assert_array_equal(sim[col].isna(), missed)
        vals = model.values(sim, params)
        cols = ["value_0", "value_1"]
        rows = sim.index[missed.to_numpy() & (sim.trial_id < N_TRIALS - 1).to_numpy()]
        np.testing.assert_array_equal(vals.loc[rows, cols].to_numpy(), vals.loc[rows + 1, cols].to_numpy())
        answered = sim.index[~missed.to_numpy() & (sim.trial_id < N_TRIALS - 1).to_numpy()]
        assert (vals.loc[answered, cols].to_numpy() != vals.loc[answered + 1, cols].to_numpy()).any(axis=1).all()


class TestSimulateDraws:
    def test_draw_axis(self):
        model, env = _model(), BernoulliBandit((0.3, 0.7))
        t = np.array([0.1, 0.6, 1.2, 2.0])
        params = PARAMS | {"t": t, "rl_alpha": np.full((4, N_PART), 0.3)}
        ppc = simulate_draws(model, params, env, N_PART, N_TRIALS, seed=0)
        assert list(ppc.columns) == ["draw", "participant_id", "trial_id", "response", "rt", "feedback", "correct"]
        assert len(ppc) == 4 * N_PART * N_TRIALS
        np.testing.assert_array_equal(ppc["draw"], np.repeat(np.arange(4), N_PART * N_TRIALS))
        np.testing.assert_array_equal(ppc["trial_id"], np.tile(np.arange(N_TRIALS), 4 * N_PART))
        fastest = ppc.groupby("draw")["rt"].min().to_numpy()
        assert (fastest > t).all() and (fastest < t + 0.3).all()
        # Draws are independent data sets.
        rt = ppc["rt"].to_numpy().reshape(4, -1) - t[:, None]
        assert not np.allclose(rt[0], rt[1])

    def test_one_draw_per_participant_values(self):
        params = PARAMS | {"rl_alpha": np.linspace(0.0, 0.5, 2)}
        ppc = simulate_draws(_model(), params, GaussianBandit((0.3, 0.7), 0.2), N_PART, N_TRIALS)
        learned = ppc.groupby("draw")["correct"].mean()
        assert learned[1] > learned[0] + 0.15

    def test_draw_validation(self):
        params = PARAMS | {"t": np.full(4, 0.2), "a": np.ones(5)}
        with pytest.raises(DataError, match="draws"):
            simulate_draws(_model(), params, BernoulliBandit((0.3, 0.7)), N_PART, N_TRIALS)
        with pytest.raises(DataError, match="shape"):
            simulate_draws(_model(), PARAMS | {"t": np.full((4, 2), 0.2)}, BernoulliBandit((0.3, 0.7)), N_PART, N_TRIALS)


# ---------------------------------------------------------------------- DDM: references
def test_ddm_choices_follow_simulated_values():
    """Choice proportions by bins of the rebuilt drift match the DDM's P(upper)."""
    model = _model(choices=(-1, 1), decision=DDM())
    params = {"rl_alpha": 0.2, "scaler": 4.0, "a": 0.7, "z": 0.4, "t": 0.1}
    env = GaussianBandit((0.2, 0.8), 0.3, reversals=(60, 120))
    sim = simulate(model, params, env, n_participants=40, n_trials=180, seed=4)
    vals = model.values(sim, params)
    p_up = _p_upper(vals["v"].to_numpy(), params["a"], params["z"])
    upper = (sim["response"] == 1).to_numpy()
    bins = pd.qcut(vals["v"], 8, labels=False, duplicates="drop").to_numpy()
    for b in np.unique(bins):
        idx = bins == b
        sd = math.sqrt(np.sum(p_up[idx] * (1 - p_up[idx]))) / idx.sum()
        assert abs(upper[idx].mean() - p_up[idx].mean()) < 4.5 * sd + 1e-9
    assert np.isclose(vals["v"].iloc[0], 0.0)


def test_parameter_recovery_flat_rw_ddm():
    """Maximum likelihood on one simulated participant recovers the generating values."""
    model = _model(choices=(-1, 1), decision=DDM())
    truth = {"rl_alpha": 0.3, "scaler": 5.0, "a": 0.9, "z": 0.45, "t": 0.25}
    env = GaussianBandit((0.2, 0.8), 0.2, reversals=(100, 200, 300, 400))
    sim = simulate(model, truth, env, n_participants=1, n_trials=500, seed=11)
    f = model.logp_fn(sim)
    t_max = float(sim["rt"].min())

    def unpack(u):
        sig = jax.nn.sigmoid
        return {
            "rl_alpha": sig(u[0]),
            "scaler": jnp.exp(u[1]),
            "a": jnp.exp(u[2]),
            "z": sig(u[3]),
            "t": t_max * sig(u[4]),
        }

    with jax.enable_x64(True):
        loss = jax.jit(jax.value_and_grad(lambda u: -jnp.sum(f(unpack(u)))))

        def fun(u):
            value, grad = loss(jnp.asarray(u, dtype=jnp.float64))
            return float(value), np.asarray(grad, dtype=float)

        start = np.array([0.0, math.log(2.0), 0.0, 0.0, 0.0])
        res = scipy.optimize.minimize(fun, start, jac=True, method="L-BFGS-B")
        est = {k: float(v) for k, v in unpack(jnp.asarray(res.x)).items()}
    assert res.success, res.message
    assert abs(est["rl_alpha"] - truth["rl_alpha"]) < 0.15, est
    assert abs(est["scaler"] / truth["scaler"] - 1) < 0.35, est
    assert abs(est["a"] / truth["a"] - 1) < 0.1, est
    assert abs(est["z"] - truth["z"]) < 0.05, est
    assert abs(est["t"] - truth["t"]) < 0.03, est


# ---------------------------------------------------------------------- conditional
@pytest.fixture()
def observed() -> pd.DataFrame:
    """Simulated data with string participant labels, some missed trials, shuffled rows."""
    sim = simulate(_model(), PARAMS, GaussianBandit((0.2, 0.8), 0.2), N_PART, N_TRIALS, seed=7)
    sim["participant_id"] = sim["participant_id"].map(lambda p: f"p{p}")
    drop = sim.sample(15, random_state=0).index
    sim.loc[drop, ["response", "rt"]] = np.nan
    sim.index = sim.index + 1000
    return sim.sample(frac=1.0, random_state=1)


LABELS = [f"p{p}" for p in range(N_PART)]


class TestConditional:
    def test_aligned_with_rows(self, observed):
        out = simulate_conditional(_model(), observed, PARAMS, seed=0)
        assert list(out.columns) == ["participant_id", "trial_id", "response", "rt", "feedback"]
        pd.testing.assert_index_equal(out.index, observed.index)
        for col in ("participant_id", "trial_id", "feedback"):
            pd.testing.assert_series_equal(out[col], observed[col], check_dtype=False)
        missed = observed["rt"].isna()
        np.testing.assert_array_equal(out["rt"].isna(), missed)
        np.testing.assert_array_equal(out["response"].isna(), missed)
        assert set(out["response"].dropna()) == {0.0, 1.0}

    def test_string_choices(self, observed):
        data = observed.assign(response=observed["response"].map({0.0: "left", 1.0: "right"}))
        out = simulate_conditional(_model(choices=("left", "right")), data, PARAMS)
        assert set(out["response"].dropna()) == {"left", "right"}
        np.testing.assert_array_equal(out["response"].isna(), data["response"].isna())

    def test_per_row_params_follow_rows(self, observed):
        t_rows = np.linspace(0.05, 2.0, len(observed))
        out = simulate_conditional(_model(), observed, PARAMS | {"t": t_rows}, seed=1)
        gap = (out["rt"] - t_rows).dropna()
        assert (gap > 0).all() and gap.min() < 0.1

    def test_choices_follow_observed_values(self, observed):
        """P(option 1) per row is the model's, given the values the observed history implies."""
        model = _model()
        params = PARAMS | {"scaler": 2.0}
        n_draws = 300
        out = simulate_conditional(model, observed, params, seed=2, n_draws=n_draws)
        vals = model.values(observed, params)
        answered = observed["rt"].notna().to_numpy()
        p_up = _p_upper_toy(vals["v"].to_numpy(), params["a"], params["z"])[answered]
        hits = (out["response"].to_numpy().reshape(n_draws, -1) == 1)[:, answered].mean(axis=0)
        assert np.all(np.abs(hits - p_up) < 5 * np.sqrt(p_up * (1 - p_up) / n_draws) + 1e-9)

    def test_ddm_choices_follow_observed_values(self, observed):
        model = _model(decision=DDM())
        params = PARAMS | {"scaler": 3.0}
        n_draws = 200
        out = simulate_conditional(model, observed, params, seed=2, n_draws=n_draws)
        vals = model.values(observed, params)
        answered = observed["rt"].notna().to_numpy()
        p_up = _p_upper(vals["v"].to_numpy(), params["a"], params["z"])[answered]
        hits = (out["response"].to_numpy().reshape(n_draws, -1) == 1)[:, answered].mean(axis=0)
        assert np.all(np.abs(hits - p_up) < 5 * np.sqrt(p_up * (1 - p_up) / n_draws) + 1e-9)
        assert (out["rt"].dropna() > params["t"]).all()

    def test_draws(self, observed):
        model = _model()
        t = np.array([0.1, 1.0, 3.0])
        params = PARAMS | {"t": t, "a": pd.Series(np.linspace(0.7, 0.9, N_PART), index=LABELS)}
        out = simulate_conditional(model, observed, params, seed=0, n_draws=3)
        assert list(out.columns)[0] == "draw"
        assert len(out) == 3 * len(observed)
        for d in range(3):
            block = out[out.draw == d]
            pd.testing.assert_index_equal(block.index, observed.index)
            assert t[d] < block["rt"].min() < t[d] + 0.3
        again = simulate_conditional(model, observed, params, seed=0, n_draws=3)
        pd.testing.assert_frame_equal(out, again)

    def test_param_shapes(self, observed):
        model = _model()
        with pytest.raises(DataError, match="shape"):
            simulate_conditional(model, observed, PARAMS | {"t": np.full(7, 0.2)})
        with pytest.raises(DataError, match="n_draws=2"):
            simulate_conditional(model, observed, PARAMS | {"t": np.full(3, 0.2)}, n_draws=2)
        with pytest.raises(DataError, match="Series"):
            simulate_conditional(model, observed, PARAMS | {"t": pd.Series(0.2, index=[0, 1, 2, 3])})
        t = np.linspace(0.2, 0.5, N_PART)
        per_participant = simulate_conditional(model, observed, PARAMS | {"t": t})
        as_series = simulate_conditional(model, observed, PARAMS | {"t": pd.Series(t[::-1], index=LABELS[::-1])})
        pd.testing.assert_frame_equal(per_participant, as_series)

    def test_rows_function(self, observed):
        model = _model()
        n = len(observed)
        rows = {k: np.full(n, v) for k, v in PARAMS.items()}
        rt, option = sample_conditional_rows(model, observed, rows, jax.random.key(0))
        assert rt.shape == option.shape == (n,)
        assert option.dtype == np.int32
        missed = observed["rt"].isna().to_numpy()
        np.testing.assert_array_equal(np.isnan(rt), missed)
        np.testing.assert_array_equal(option == -1, missed)
        assert set(option[~missed]) == {0, 1}
        rows["t"] = np.stack([np.full(n, 0.1), np.full(n, 1.5)])
        rt2, option2 = sample_conditional_rows(model, model.prepare(observed), rows, 3)
        assert rt2.shape == option2.shape == (2, n)
        assert np.nanmin(rt2[1]) > 1.5 and np.nanmin(rt2[0]) < 1.5
        with pytest.raises(DataError, match="one per row"):
            sample_conditional_rows(model, observed, rows | {"a": np.ones(n + 1)}, 0)

    def test_missed_draws(self, observed):
        model = _model(decision=Toy(max_t=0.5))
        out = simulate_conditional(model, observed, PARAMS)
        missed_in_data = observed["rt"].isna().to_numpy()
        assert out["rt"].isna().to_numpy()[missed_in_data].all()
        assert out["rt"].isna().to_numpy()[~missed_in_data].any()
        np.testing.assert_array_equal(out["rt"].isna(), out["response"].isna())
