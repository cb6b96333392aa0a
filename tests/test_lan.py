"""The angle LAN (``AngleLAN()``, i.e. ``LAN("angle")``): ONNX loading, likelihood, weight
resolution and range warnings."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import rlssm
from rlssm.decision import lan as lan_module
from rlssm.decision.lan import (
    ANGLE_LAN_SHA256,
    LAN,
    AngleLAN,
    LANNetwork,
    lan_cache_dir,
    resolve_lan_path,
)

PARAMS = ("v", "a", "z", "t", "theta")
BOUNDS = {
    "v": (-3.0, 3.0),
    "a": (0.3, 3.0),
    "z": (0.1, 0.9),
    "t": (0.001, 2.0),
    "theta": (-0.1, 1.3),
}


def _numpy_forward(path: Path, x: np.ndarray) -> np.ndarray:
    """Reference: evaluate a Gemm/activation ONNX chain with numpy, per the ONNX spec."""
    model = onnx.load(path)
    consts = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    values = {model.graph.input[0].name: x}
    for node in model.graph.node:
        a = values[node.input[0]]
        if node.op_type == "Gemm":
            attrs = {at.name: helper.get_attribute_value(at) for at in node.attribute}
            b = consts[node.input[1]]
            a_ = a.T if attrs.get("transA", 0) else a
            b_ = b.T if attrs.get("transB", 0) else b
            c = consts[node.input[2]] if len(node.input) > 2 else 0.0
            out = attrs.get("alpha", 1.0) * a_ @ b_ + attrs.get("beta", 1.0) * c
        elif node.op_type == "Tanh":
            out = np.tanh(a)
        elif node.op_type == "Relu":
            out = np.maximum(a, 0.0)
        else:
            raise AssertionError(node.op_type)
        values[node.output[0]] = out
    return values[model.graph.output[0].name]


def _random_inputs(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Parameters uniform inside the training box; rt after t, choices +-1."""
    rng = np.random.default_rng(seed)
    out = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in BOUNDS.items()}
    out["rt"] = out["t"] + rng.uniform(0.05, 3.0, n)
    out["choice"] = rng.choice([-1.0, 1.0], n)
    return out


def _logp(model: LAN, d: dict, dtype=None):
    cast = (lambda x: x) if dtype is None else (lambda x: np.asarray(x, dtype))
    return model.logp(cast(d["rt"]), cast(d["choice"]), **{k: cast(d[k]) for k in PARAMS})


@pytest.fixture(scope="module")
def angle(angle_onnx: Path) -> LAN:
    return AngleLAN(angle_onnx)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No LAN folder, an empty private cache, no HF settings; returns the cache root."""
    proxies = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    for var in ("RLSSM_LAN_DIR", "HF_ENDPOINT", "HF_HUB_OFFLINE", *proxies):
        monkeypatch.delenv(var, raising=False)
    cache_root = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_root))
    return cache_root


def _no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


# --- the network ---------------------------------------------------------------------


def test_network_matches_numpy_reference(angle_onnx: Path, angle: LAN) -> None:
    d = _random_inputs(500)
    x = np.column_stack([d[k] for k in PARAMS] + [d["rt"], d["choice"]])
    expected = _numpy_forward(angle_onnx, x)[:, 0]
    with jax.enable_x64(True):
        got = np.asarray(_logp(angle, d))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


def test_matches_hssm_jax_conversion(angle_onnx: Path, angle: LAN, tmp_path: Path) -> None:
    # HSSM is run in a subprocess: importing it switches JAX's global x64 flag on, which
    # must not leak into the rest of the test session.
    d = _random_inputs(400, seed=1)
    x = np.column_stack([d[k] for k in PARAMS] + [d["rt"], d["choice"]])
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, jax, jax.numpy as jnp\n"
        "from hssm.distribution_utils.onnx import make_jax_matrix_logp_funcs_from_onnx\n"
        "f = make_jax_matrix_logp_funcs_from_onnx(model=sys.argv[1])\n"
        "with jax.enable_x64(True):\n"
        "    out = np.asarray(f(jnp.asarray(np.load(sys.argv[2]))))\n"
        "np.save(sys.argv[3], out)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(angle_onnx), str(tmp_path / "x.npy"),
         str(tmp_path / "y.npy")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    expected = np.load(tmp_path / "y.npy")
    assert expected.dtype == np.float64 and expected.shape == (400,)
    with jax.enable_x64(True):
        got = np.asarray(_logp(angle, d))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_float32(angle: LAN) -> None:
    d = _random_inputs(300, seed=2)
    got = _logp(angle, d, np.float32)
    assert got.dtype == jnp.float32 and got.shape == (300,)
    with jax.enable_x64(True):
        ref = np.asarray(_logp(angle, d))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4)


def test_broadcasting_and_jit(angle: LAN) -> None:
    rt = jnp.linspace(0.4, 2.0, 6, dtype=jnp.float32)
    choice = jnp.array([-1, 1, -1, 1, -1, 1])  # integer choices are cast
    f = jax.jit(lambda m, rt, ch, v: m.logp(rt, ch, v=v, a=1.0, z=0.5, t=0.3, theta=0.2))
    out = f(angle, rt, choice, jnp.float32(0.7))
    assert out.shape == (6,) and out.dtype == jnp.float32
    eager = angle.logp(rt, choice, v=jnp.float32(0.7), a=1.0, z=0.5, t=0.3, theta=0.2)
    np.testing.assert_allclose(np.asarray(out), np.asarray(eager), rtol=1e-6)
    grid = angle.logp(rt[:, None], 1, v=jnp.zeros((1, 3), jnp.float32), a=1.0, z=0.5, t=0.3,
                      theta=0.2)
    assert grid.shape == (6, 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_finite_and_correct(angle: LAN, dtype) -> None:
    d = _random_inputs(50, seed=3)
    with jax.enable_x64(dtype == np.float64):
        rt, ch = jnp.asarray(d["rt"], dtype), jnp.asarray(d["choice"], dtype)

        def total(p):
            return jnp.sum(angle.logp(rt, ch, **p))

        p = {k: jnp.asarray(d[k], dtype) for k in PARAMS}
        g = jax.grad(total)(p)
        for k in PARAMS:
            assert g[k].dtype == dtype
            assert np.all(np.isfinite(np.asarray(g[k])))
        if dtype == np.float64:  # central differences of the trial-wise logp
            eps = 1e-6
            for k in PARAMS:
                up = dict(p, **{k: p[k] + eps})
                dn = dict(p, **{k: p[k] - eps})
                fd = (angle.logp(rt, ch, **up) - angle.logp(rt, ch, **dn)) / (2 * eps)
                np.testing.assert_allclose(np.asarray(g[k]), np.asarray(fd), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floor_below_nondecision_time(angle: LAN, dtype) -> None:
    with jax.enable_x64(dtype == np.float64):
        rt = jnp.asarray([0.1, 0.3, 0.2999, 0.5], dtype)
        t = jnp.asarray(0.3, dtype)

        def f(t):
            return angle.logp(rt, 1.0, v=1.0, a=1.0, z=0.5, t=t, theta=0.3)

        out = np.asarray(f(t))
        assert out.dtype == dtype
        np.testing.assert_array_equal(out[:3], np.full(3, -66.1, dtype))
        assert np.isfinite(out[3]) and out[3] > -66.1
        g = jax.grad(lambda t: jnp.sum(f(t)))(t)
        assert np.isfinite(float(g))
        g_floor = jax.grad(lambda t: jnp.sum(f(t)[:3]))(t)
        assert float(g_floor) == 0.0


def test_is_a_pytree_of_the_weights(angle: LAN) -> None:
    leaves = jax.tree_util.tree_leaves(angle)
    assert len(leaves) == 8
    assert [w.shape for w in angle.network.weights] == [(100, 7), (100, 100), (100, 100), (1, 100)]
    assert angle.network.ops == ("gemm", "tanh", "gemm", "tanh", "gemm", "tanh", "gemm")
    assert isinstance(angle, rlssm.AbstractDecisionModel)
    assert isinstance(angle, LAN) and angle.name == "angle"
    assert angle.param_names == PARAMS and angle.choices == (-1, 1)
    assert dict(angle.bounds) == BOUNDS


def test_rejects_network_of_another_model(data_dir: Path) -> None:
    with pytest.raises(ValueError, match="7"):
        AngleLAN(data_dir / "ddm.onnx")
    # The loader itself reads any Gemm/Tanh chain.
    assert LANNetwork.from_onnx(data_dir / "ddm.onnx").in_features == 6


def test_missing_explicit_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        AngleLAN(tmp_path / "nope.onnx")


# --- ONNX graphs built here ------------------------------------------------------------


def _save_graph(path: Path, nodes, inits, n_in: int, n_out: int, out_name: str) -> Path:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, n_out])],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph), path)
    return path


def test_gemm_attributes(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    inits = {
        "B0": rng.normal(size=(3, 4)),  # transB = 0: (in, out)
        "C0": rng.normal(size=(1, 4)),
        "B1": rng.normal(size=(2, 4)),  # transB = 1: (out, in)
        "C1": rng.normal(size=()),  # scalar bias, broadcast
    }
    nodes = [
        helper.make_node("Gemm", ["x", "B0", "C0"], ["h0"], alpha=0.5, beta=2.0, transB=0),
        helper.make_node("Relu", ["h0"], ["h1"]),
        helper.make_node("Gemm", ["h1", "B1", "C1"], ["h2"], alpha=1.5, beta=-1.0, transB=1),
        helper.make_node("Tanh", ["h2"], ["y"]),
    ]
    path = _save_graph(tmp_path / "g.onnx", nodes, inits, 3, 2, "y")
    net = LANNetwork.from_onnx(path)
    x = rng.normal(size=(5, 3))
    with jax.enable_x64(True):
        got = np.asarray(net(jnp.asarray(x)))
    np.testing.assert_allclose(got, _numpy_forward(path, x), rtol=0, atol=1e-6)


def test_unsupported_operator_is_named(tmp_path: Path) -> None:
    inits = {"B": np.ones((2, 3)), "C": np.zeros(2)}
    nodes = [
        helper.make_node("Gemm", ["x", "B", "C"], ["h"], transB=1),
        helper.make_node("Softplus", ["h"], ["y"], name="act0"),
    ]
    path = _save_graph(tmp_path / "bad.onnx", nodes, inits, 3, 2, "y")
    with pytest.raises(ValueError, match="unsupported ONNX operator 'Softplus'.*Gemm"):
        LANNetwork.from_onnx(path)


def test_transA_refused(tmp_path: Path) -> None:
    inits = {"B": np.ones((1, 2)), "C": np.zeros(2)}
    nodes = [helper.make_node("Gemm", ["x", "B", "C"], ["y"], transA=1)]
    path = _save_graph(tmp_path / "ta.onnx", nodes, inits, 1, 2, "y")
    with pytest.raises(ValueError, match="transA"):
        LANNetwork.from_onnx(path)


# --- where the weights come from ----------------------------------------------------------


def test_explicit_path_wins(clean_env: Path, angle_onnx: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "envdir"
    env_dir.mkdir()
    (env_dir / "angle.onnx").write_bytes(b"not a network")
    monkeypatch.setenv("RLSSM_LAN_DIR", str(env_dir))
    _no_download(monkeypatch)
    model = AngleLAN(path=angle_onnx)
    assert model.network.in_features == 7


def test_env_dir_before_cache(clean_env: Path, angle_onnx: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "envdir"
    env_dir.mkdir()
    shutil.copy(angle_onnx, env_dir / "angle.onnx")
    cache = lan_cache_dir()
    cache.mkdir(parents=True)
    (cache / "angle.onnx").write_bytes(b"stale")
    monkeypatch.setenv("RLSSM_LAN_DIR", str(env_dir))
    _no_download(monkeypatch)
    assert resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256) == env_dir / "angle.onnx"
    assert AngleLAN().network.in_features == 7


def test_env_dir_without_file(clean_env: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLSSM_LAN_DIR", str(tmp_path))
    _no_download(monkeypatch)
    with pytest.raises(FileNotFoundError, match="RLSSM_LAN_DIR"):
        AngleLAN()


def test_cache_before_download(clean_env: Path, angle_onnx: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert lan_cache_dir() == clean_env / "rlssm" / "lan"
    lan_cache_dir().mkdir(parents=True)
    shutil.copy(angle_onnx, lan_cache_dir() / "angle.onnx")
    _no_download(monkeypatch)
    assert resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256) == lan_cache_dir() / "angle.onnx"


def test_default_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert lan_cache_dir() == tmp_path / ".cache" / "rlssm" / "lan"


def test_corrupt_cache_raises(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lan_cache_dir().mkdir(parents=True)
    (lan_cache_dir() / "angle.onnx").write_bytes(b"truncated")
    _no_download(monkeypatch)
    with pytest.raises(ValueError, match="SHA-256"):
        resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256)


def _fake_hub(root: Path, content: bytes) -> str:
    """A file:// endpoint laid out like huggingface.co/<repo>/resolve/<revision>/."""
    folder = root / "franklab" / "HSSM" / "resolve" / "main"
    folder.mkdir(parents=True)
    (folder / "angle.onnx").write_bytes(content)
    return root.as_uri()


def test_download_into_cache(clean_env: Path, angle_onnx: Path, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert lan_module.lan_url("angle.onnx") == (
        "https://huggingface.co/franklab/HSSM/resolve/main/angle.onnx"
    )
    monkeypatch.setenv("HF_ENDPOINT", _fake_hub(tmp_path / "hub", angle_onnx.read_bytes()))
    path = resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256)
    assert path == lan_cache_dir() / "angle.onnx"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ANGLE_LAN_SHA256
    assert sorted(p.name for p in lan_cache_dir().iterdir()) == ["angle.onnx"]
    # The next construction reads the cache.
    _no_download(monkeypatch)
    assert AngleLAN().network.in_features == 7


def test_download_checksum_mismatch(clean_env: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", _fake_hub(tmp_path / "hub", b"tampered"))
    with pytest.raises(ValueError, match="SHA-256.*deleted"):
        resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256)
    assert list(lan_cache_dir().iterdir()) == []


def _assert_supply_message(message: str) -> None:
    assert "path=" in message
    assert "RLSSM_LAN_DIR" in message
    assert str(lan_cache_dir()) in message


def test_offline_fails_fast(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Port 9 (discard) on localhost: the connection is refused at once, as offline.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    start = time.perf_counter()
    with pytest.raises(OSError, match="Could not download angle.onnx") as info:
        AngleLAN()
    assert time.perf_counter() - start < 2.0
    _assert_supply_message(str(info.value))
    assert not lan_cache_dir().exists() or list(lan_cache_dir().iterdir()) == []


def test_timeout_reported(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def slow(url, timeout):
        seen["timeout"] = timeout
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", slow)
    with pytest.raises(OSError, match="timed out") as info:
        resolve_lan_path("angle.onnx", ANGLE_LAN_SHA256)
    assert seen["timeout"] <= 10
    _assert_supply_message(str(info.value))


def test_hf_hub_offline(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _no_download(monkeypatch)
    with pytest.raises(OSError, match="HF_HUB_OFFLINE") as info:
        AngleLAN()
    _assert_supply_message(str(info.value))


# --- range safety ------------------------------------------------------------------------


def _inside(n: int) -> dict[str, np.ndarray]:
    d = _random_inputs(n, seed=5)
    return {k: d[k] for k in PARAMS}


def test_range_warning_fraction(angle: LAN) -> None:
    params = _inside(1000)
    params["v"] = params["v"].copy()
    params["v"][:250] = np.linspace(-7.2, -3.5, 250)
    params["v"][250:300] = 9.1
    params["theta"] = params["theta"].copy()
    params["theta"][0] = 1.31
    with pytest.warns(rlssm.LANRangeWarning) as record:
        angle.check_params(params)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    theta_msg, v_msg = messages
    assert v_msg.startswith("LAN('angle'): v outside its training range [-3, 3] on 30% of trials")
    assert "(300 of 1000; min -7.2, max 9.1)" in v_msg and "extrapolates" in v_msg
    assert v_msg.endswith("or use the exact rlssm.Angle.")
    assert theta_msg.startswith("LAN('angle'): theta outside its training range [-0.1, 1.3] on 0.1%")


def test_range_warning_ignores_missing_trials(angle: LAN) -> None:
    params = _inside(10)
    params["a"] = params["a"].copy()
    params["a"][:4] = np.nan
    params["a"][4] = 3.5
    with pytest.warns(rlssm.LANRangeWarning, match=r"a outside .* 16.7% of trials \(1 of 6"):
        angle.check_params(params)


def test_no_warning_inside(angle: LAN) -> None:
    params = _inside(2000)
    params["t"] = params["t"].copy()
    params["t"][:2] = [0.001, 2.0]  # the bounds themselves are inside
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        angle.check_params(params)
        angle.check_params({"v": np.zeros(3)})  # absent parameters are fine


# --- sampling ---------------------------------------------------------------------------------


def test_sample_delegates_to_angle(angle: LAN) -> None:
    angle_mod = pytest.importorskip("rlssm.decision.angle")
    key = jax.random.key(0)
    kw = dict(v=jnp.full(100, 0.8), a=1.2, z=0.5, t=0.25, theta=0.3)
    # One jitted program: the exact sampler is costly to trace, so trace it once per side.
    both = jax.jit(lambda k: (angle.sample(k, **kw), angle_mod.Angle().sample(k, **kw)))
    (rt, choice), (rt_ref, choice_ref) = both(key)
    np.testing.assert_array_equal(np.asarray(rt), np.asarray(rt_ref))
    np.testing.assert_array_equal(np.asarray(choice), np.asarray(choice_ref))
    assert rt.shape == (100,) and set(np.unique(np.asarray(choice))) <= {-1, 1, 0}

