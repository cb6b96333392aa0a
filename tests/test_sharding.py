"""Participants sharded across devices: `rlssm.sharding.sharded_logp_fn`.

JAX fixes its device count when it starts, so the two-device checks run in a fresh
interpreter with two forced CPU devices.
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.sharding import sharded_logp_fn

# Run with XLA_FLAGS=--xla_force_host_platform_device_count=2: five participants (one
# with fewer trials) on two devices, so one dummy participant pads them to six.
TWO_DEVICES = r"""
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

jax.config.update("jax_enable_x64", True)  # this interpreter's own flag: float64 checks
jax.config.update("jax_numpy_dtype_promotion", "strict")

import rlssm
from rlssm.sharding import sharded_logp_fn

assert len(jax.devices()) == 2, jax.devices()
model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), bounds={"t": (0.0, 1.5)})
sim = dict(model.default_params, t=0.3)
data = model.simulate(sim, rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1), n_participants=5, n_trials=40, seed=0)
data = data.drop(data.index[data.participant_id == 2][25:])  # unequal trial counts
params = dict(sim, rl_alpha=np.linspace(0.3, 0.7, 5), a=np.linspace(0.9, 1.3, 5), t=np.linspace(0.2, 0.3, 5))

f = sharded_logp_fn(model, data)

# Layout: every (P', T) array split over both devices along the participant axis.
for leaf in jax.tree.leaves(f.trials):
    if leaf.ndim == 2:
        assert leaf.shape == (6, 40), leaf.shape
        assert len(leaf.sharding.device_set) == 2, leaf.sharding
        assert leaf.sharding.spec == jax.sharding.PartitionSpec("participants"), leaf.sharding

# Value: the per-participant sums of loglik (float64), a Series accepted eagerly.
ref = data.assign(ll=model.loglik(data, params)).groupby("participant_id")["ll"].sum().to_numpy()
out = f(dict(params, z=pd.Series(0.5, index=range(5))))
assert out.shape == (5,) and out.dtype == jnp.float64, (out.shape, out.dtype)
np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6)

# Value and gradient of the total against logp_fn, f passed as an argument of jit.
jparams = {k: jnp.asarray(v) for k, v in params.items()}
step = jax.jit(jax.value_and_grad(lambda f, p: f(p).sum(), argnums=1))
compiled = step.lower(f, jparams).compile()
value, grads = compiled(f, jparams)
logp = model.logp_fn(data)
ref_value, ref_grads = jax.value_and_grad(lambda p: logp(p).sum())(jparams)
np.testing.assert_allclose(float(value), float(ref_value), rtol=1e-6)
for name in model.param_names:
    np.testing.assert_allclose(np.asarray(grads[name]), np.asarray(ref_grads[name]), rtol=1e-6, atol=1e-9)

# The compiled program is partitioned in two and only ever holds half of the
# participants' trials (3 x 40 per device): the full 6 x 40 grid never appears.
hlo = compiled.as_text()
assert "num_partitions=2" in hlo
assert "[3,40]" in hlo or "[40,3]" in hlo
assert "[6,40]" not in hlo and "[40,6]" not in hlo
assert len(grads["a"].sharding.device_set) == 2, grads["a"].sharding

# jax.jit(f), closing over the data, gives the same values.
np.testing.assert_allclose(np.asarray(jax.jit(f)(jparams)), ref, rtol=1e-6)
print("ok", np.asarray(out).round(4).tolist())
"""


def test_two_devices_match_loglik_and_gradient():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    proc = subprocess.run(
        [sys.executable, "-c", TWO_DEVICES], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    assert proc.stdout.startswith("ok"), proc.stdout


def _small_data() -> pd.DataFrame:
    """Three participants with 6, 4 and 5 trials, one of them missed."""
    rng = np.random.default_rng(1)
    pid = np.repeat([10, 11, 12], [6, 4, 5])
    n = len(pid)
    data = pd.DataFrame({
        "participant_id": pid,
        "trial_id": np.concatenate([np.arange(k) for k in (6, 4, 5)]),
        "rt": rng.uniform(0.5, 1.5, n),
        "response": rng.integers(0, 2, n).astype(float),
        "feedback": rng.uniform(0.0, 1.0, n),
    })
    data.loc[7, ["rt", "response"]] = np.nan
    return data


@pytest.fixture(scope="module")
def model() -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM())


def test_one_device_matches_loglik(model):
    """In this process (one device, caller's x64 off): float32 out, sums of loglik."""
    data = _small_data()
    params = dict(model.default_params, t=0.2, a=np.array([0.9, 1.0, 1.1]))
    f = sharded_logp_fn(model, data)
    out = f(params)
    ref = data.assign(ll=model.loglik(data, params)).groupby("participant_id")["ll"].sum()
    assert out.shape == (3,)
    np.testing.assert_allclose(np.asarray(out), ref.to_numpy(), rtol=1e-5)


def test_per_row_parameter_raises(model):
    data = _small_data()
    f = sharded_logp_fn(model, data)
    params = dict(model.default_params, rl_alpha=np.full(len(data), 0.5))
    with pytest.raises(rlssm.DataError, match=r"params\['rl_alpha'\].*one value per row"):
        f(params)
    with pytest.raises(rlssm.DataError, match=r"params\['a'\] has shape \(2,\)"):
        f(dict(model.default_params, a=np.ones(2)))
    with pytest.raises(rlssm.DataError, match="non-finite"):
        f(dict(model.default_params, a=np.array([1.0, np.nan, 1.0])))
    with pytest.raises(rlssm.DataError, match="lacks"):
        f({"a": 1.0})
