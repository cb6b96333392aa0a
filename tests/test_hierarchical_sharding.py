"""`Hierarchical(..., devices=...)`: the likelihood's participants spread over JAX devices.

JAX fixes its device count when it starts, so the four-device checks run in a fresh
interpreter with four forced CPU host devices (the same code runs on several GPUs).
"""

import os
import subprocess
import sys

import jax
import numpy as np
import pandas as pd
import pytest

import rlssm
from rlssm.fitting import Hierarchical
from rlssm.sharding import check_devices

# Run with XLA_FLAGS=--xla_force_host_platform_device_count=4: six participants (one
# with fewer trials) over four devices, padded to eight; one learning rate held fixed.
# A choice-only model keeps the compiles short (the sharded likelihood of a DDM is
# checked against logp_fn in test_sharding.py).
FOUR_DEVICES = r"""
import jax
import numpy as np
from pymc.sampling.jax import get_jaxified_logp

import rlssm
from rlssm.fitting import Hierarchical

assert len(jax.devices()) == 4, jax.devices()
model = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.Softmax(2), mapping=rlssm.Values())
env = rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1)
data = model.simulate(dict(model.default_params, beta=3.0), env, n_participants=6, n_trials=30, seed=0)
data = data.drop(data.index[data.participant_id == 2][20:])  # unequal trial counts
plain = Hierarchical(model, data, fixed={"rl_alpha_neg": 0.3})
sharded = Hierarchical(model, data, fixed={"rl_alpha_neg": 0.3}, devices=4)
assert plain.devices is None and sharded.devices == tuple(jax.devices()), sharded.devices
assert Hierarchical(model, data, devices=jax.devices()[1:3]).devices == tuple(jax.devices()[1:3])

# The log-density and gradient NUTS differentiates (PyMC's JAX graph of the model),
# float64, at points scattered around the initial point on the unconstrained scale.
names = [v.name for v in plain.pymc_model.value_vars]
assert names == [v.name for v in sharded.pymc_model.value_vars]
start = plain.pymc_model.initial_point()
rng = np.random.default_rng(0)
points = [[np.asarray(start[n]) + rng.normal(0.0, 0.3, np.shape(start[n])) for n in names] for _ in range(3)]
step_plain = jax.jit(jax.value_and_grad(get_jaxified_logp(plain.pymc_model)))
step_sharded = jax.jit(jax.value_and_grad(get_jaxified_logp(sharded.pymc_model)))
for x in points:
    (v0, g0), (v1, g1) = step_plain(x), step_sharded(x)
    assert np.isfinite(float(v0)) and np.asarray(v1).dtype == np.float64
    np.testing.assert_allclose(float(v1), float(v0), rtol=1e-10)
    for name, a, b in zip(names, g1, g0):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-10, err_msg=name)

# The program is partitioned four ways, the participants' axis split over the devices.
lowered = step_sharded.lower(points[0]).as_text()
assert "mhlo.num_partitions = 4" in lowered
assert '[{"participants"}]' in lowered  # (Shardy's notation of the participants' axis)

# A tiny run: the chains go vectorised over the devices' mesh.
idata = sharded.sample(
    chains=2, tune=2, draws=2, seed=1, init="initvals", max_tree_depth=2, progressbar=False,
    log_likelihood=False,
)
a = idata["posterior"]["beta_subj"].values
assert a.shape == (2, 2, 6) and np.isfinite(a).all(), a
print("ok", float(v0))
"""


def test_four_devices_match_unsharded_and_sample():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    proc = subprocess.run(
        [sys.executable, "-c", FOUR_DEVICES], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    assert proc.stdout.startswith("ok"), proc.stdout


@pytest.fixture(scope="module")
def model() -> rlssm.RLSSM:
    return rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), bounds={"t": (0.0, 1.5)})


@pytest.fixture(scope="module")
def data(model: rlssm.RLSSM) -> pd.DataFrame:
    sim = dict(model.default_params, t=0.3)
    out = model.simulate(sim, rlssm.GaussianBandit(means=(0.2, 0.8), sd=0.1), n_participants=3, n_trials=10, seed=0)
    return out.assign(cond=np.where(out.participant_id == 0, "x", "y"))


def test_check_devices_reads_counts_and_sequences():
    available = jax.devices()
    assert check_devices(None) == tuple(available)
    assert check_devices(1) == (available[0],)
    assert check_devices(np.int64(1)) == (available[0],)
    assert check_devices([available[0]]) == (available[0],)
    assert check_devices(np.asarray(available, dtype=object)) == tuple(available)


@pytest.mark.parametrize(
    ("devices", "error", "match"),
    [
        (0, ValueError, r"devices=0: JAX has \d+ device"),
        (len(jax.devices()) + 1, ValueError, r"ask for 1 to \d+.*xla_force_host_platform_device_count"),
        (True, TypeError, "got True"),
        ("gpu", TypeError, "got 'gpu'"),
        (2.0, TypeError, "got 2.0"),
        ([], ValueError, "at least one device"),
        (["cpu:0"], TypeError, "must be jax devices.*'cpu:0'"),
        ([jax.devices()[0]] * 2, ValueError, "more than once"),
    ],
)
def test_bad_devices_are_named(model, data, devices, error, match):
    with pytest.raises(error, match=match):
        check_devices(devices)
    with pytest.raises(error, match=match):
        Hierarchical(model, data, devices=devices)


def test_devices_refuse_formulas(model, data):
    with pytest.raises(ValueError, match=r"devices=1: \['a'\] have formulas.*one value per row"):
        Hierarchical(model, data, formulas={"a": "1 + cond + (1 | participant_id)"}, devices=1)


def test_sharded_fit_refuses_parallel_chains(model, data):
    fit = Hierarchical(model, data, devices=1)
    assert fit.devices == (jax.devices()[0],)
    with pytest.raises(ValueError, match="chain_method='parallel'.*'vectorized'"):
        fit.sample(chains=1, chain_method="parallel", progressbar=False)
