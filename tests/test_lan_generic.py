"""Generic LANs: ``LAN(name)`` for HSSM's published networks and ``LAN(path=...)`` for one's own.

The table of published networks is checked against HSSM's own configuration, the ddm
network against the analytic DDM, and the input layout against a numpy evaluation of
the ONNX graph.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
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
from rlssm.decision import LAN
from rlssm.decision.lan import DDM_LAN_SHA256, PUBLISHED_LANS, lan_cache_dir

DDM_BOX = {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)}
"""ssm-simulators' ddm ranges: where the published ddm network was trained."""


def _mlp(path: Path, n_in: int, seed: int = 0, hidden: int = 8) -> Path:
    """A small random Gemm-Tanh-Gemm ONNX network with ``n_in`` inputs and one output."""
    rng = np.random.default_rng(seed)
    inits = {
        "W0": rng.normal(size=(hidden, n_in)),
        "b0": rng.normal(size=hidden),
        "W1": rng.normal(size=(1, hidden)),
        "b1": rng.normal(size=1),
    }
    nodes = [
        helper.make_node("Gemm", ["x", "W0", "b0"], ["h0"], transB=1),
        helper.make_node("Tanh", ["h0"], ["h1"]),
        helper.make_node("Gemm", ["h1", "W1", "b1"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    onnx.save(helper.make_model(graph), path)
    return path


def _numpy_forward(path: Path, x: np.ndarray) -> np.ndarray:
    """Reference forward pass of a `_mlp` file, read back with onnx, in float64."""
    w = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in onnx.load(path).graph.initializer}
    return (np.tanh(x @ w["W0"].T + w["b0"]) @ w["W1"].T + w["b1"])[:, 0]


@pytest.fixture(scope="module")
def ddm_lan(data_dir: Path) -> LAN:
    return LAN("ddm", path=data_dir / "ddm.onnx")


# --- the table of published networks ------------------------------------------------------

_HSSM_DUMP = """
import json, sys
from hssm.modelconfig import get_default_model_config, list_models
out = {}
for name in list_models():
    cfg = get_default_model_config(name)
    lan = cfg.get("likelihoods", {}).get("approx_differentiable")
    if lan is None:
        continue
    out[name] = dict(
        list_params=list(cfg["list_params"]),
        choices=list(cfg["choices"]),
        response=list(cfg["response"]),
        loglik=lan["loglik"],
        bounds={k: list(v) for k, v in lan["bounds"].items()},
    )
json.dump(out, open(sys.argv[1], "w"))
"""


def test_table_equals_hssm_config(tmp_path: Path) -> None:
    # HSSM runs in a subprocess: importing it switches JAX's global x64 flag on, which
    # must not leak into this test session (and rlssm must never import it for a LAN).
    out = tmp_path / "hssm_lans.json"
    subprocess.run(
        [sys.executable, "-c", _HSSM_DUMP, str(out)], check=True, capture_output=True, timeout=180
    )
    hssm_lans = json.loads(out.read_text())
    # Every network HSSM publishes is in the table, and nothing else.
    assert sorted(hssm_lans) == sorted(PUBLISHED_LANS)
    for name, entry in PUBLISHED_LANS.items():
        cfg = hssm_lans[name]
        assert list(entry.params) == cfg["list_params"], name  # the network's input order
        assert {k: list(v) for k, v in entry.params.items()} == cfg["bounds"], name
        assert list(entry.choices) == cfg["choices"], name
        assert entry.file == cfg["loglik"], name
        assert cfg["response"] == ["rt", "response"], name  # [params..., rt, choice]


def test_recorded_ddm_checksum_is_the_published_file(data_dir: Path) -> None:
    digest = hashlib.sha256((data_dir / "ddm.onnx").read_bytes()).hexdigest()
    assert digest == DDM_LAN_SHA256 == PUBLISHED_LANS["ddm"].sha256


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown model 'wiener'") as info:
        LAN("wiener")
    for name in ("'ddm'", "'angle'", "'weibull'", "'levy'", "'ornstein'", "'race_no_bias_angle_4'"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="path="):
        LAN("my_net.onnx")


# --- the ddm network against the analytic DDM -----------------------------------------------


def test_ddm_lan_close_to_analytic_ddm(ddm_lan: LAN) -> None:
    """Median and 90% error where responses are not rare (benchmarks/lan_ddm_error.py: 0.032, 0.13)."""
    exact = rlssm.DDM()
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        p = {k: jnp.asarray(rng.uniform(lo, hi, 2000)) for k, (lo, hi) in DDM_BOX.items()}
        # The LAN's draws are the exact DDM's (one jitted program: the sampler is costly to trace).
        draws = jax.jit(lambda key: (ddm_lan.sample(key, **p), exact.sample(key, **p)))
        (rt, choice), (rt_ref, choice_ref) = draws(jax.random.key(0))
        np.testing.assert_array_equal(np.asarray(rt), np.asarray(rt_ref))
        np.testing.assert_array_equal(np.asarray(choice), np.asarray(choice_ref))
        lan_lp = np.asarray(ddm_lan.logp(rt, choice, **p))
        exact_lp = np.asarray(exact.logp(rt, choice, **p))
    assert lan_lp.dtype == np.float64
    dense = exact_lp >= -3.0
    assert dense.mean() > 0.9
    err = np.abs(lan_lp - exact_lp)[dense]
    assert np.median(err) < 0.05
    assert np.quantile(err, 0.9) < 0.25
    # The same responses with the choice flipped are far off: the coding is fed as it is.
    with jax.enable_x64(True):
        flipped = np.asarray(ddm_lan.logp(rt, -choice, **p))
    assert np.median(np.abs(flipped - exact_lp)[dense]) > 1.0


def test_ddm_lan_api(ddm_lan: LAN) -> None:
    assert ddm_lan.param_names == ("v", "a", "z", "t") and ddm_lan.choices == (-1, 1)
    assert dict(ddm_lan.bounds) == dict(PUBLISHED_LANS["ddm"].params)
    assert isinstance(ddm_lan.sampler, rlssm.DDM)  # its draws: test_ddm_lan_close_to_analytic_ddm
    # Below the non-decision time: HSSM's floor, with zero gradient.
    out = ddm_lan.logp(jnp.asarray([0.2, 0.5], jnp.float32), 1, v=1.0, a=1.0, z=0.5, t=0.25)
    assert out.dtype == jnp.float32 and float(out[0]) == np.float32(-66.1) and float(out[1]) > -66.1
    # A pytree of the weights whose static fields hash: it passes through jit.
    f = jax.jit(lambda m, rt: m.logp(rt, -1, v=0.5, a=1.0, z=0.5, t=0.2))
    np.testing.assert_allclose(
        np.asarray(f(ddm_lan, jnp.linspace(0.3, 2.0, 5, dtype=jnp.float32))),
        np.asarray(ddm_lan.logp(jnp.linspace(0.3, 2.0, 5, dtype=jnp.float32), -1, v=0.5, a=1.0, z=0.5, t=0.2)),
        rtol=1e-6,
    )


def test_ddm_lan_in_a_model(ddm_lan: LAN, seed_data) -> None:
    data = seed_data[seed_data["participant_id"].isin(sorted(seed_data["participant_id"].unique())[:2])]
    # Per-participant values (two participants).
    params = dict(
        rl_alpha=np.array([0.5, 0.6]), rl_alpha_neg=np.array([0.4, 0.3]), scaler=np.array([2.0, 1.5]),
        a=np.array([1.2, 1.0]), z=np.array([0.4, 0.5]), t=np.array([0.25, 0.3]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", rlssm.LANRangeWarning)  # v = 2 (Q1 - Q0) stays in [-3, 3]
        lan_ll = rlssm.RLSSM(rlssm.DualRateRW(), ddm_lan, precision="float64").loglik(data, params)
    exact_ll = rlssm.RLSSM(rlssm.DualRateRW(), rlssm.DDM(), precision="float64").loglik(data, params)
    assert lan_ll.shape == (len(data),)
    assert np.median(np.abs(lan_ll - exact_ll)) < 0.05


# --- range warnings, samplers and networks of one's own -------------------------------------


def test_range_warnings_for_any_lan(ddm_lan: LAN, tmp_path: Path) -> None:
    inside = {"v": np.array([-3.0, 0.0, 3.0]), "a": np.array([0.3, 1.0, 2.5]), "z": np.array([0.0, 0.5, 1.0])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ddm_lan.check_params(inside)
    with pytest.warns(rlssm.LANRangeWarning) as record:
        ddm_lan.check_params(dict(inside, a=np.array([0.2, 1.0, 2.6, np.nan])))
    (message,) = [str(w.message) for w in record]
    assert message.startswith("LAN('ddm'): a outside its training range [0.3, 2.5] on 66.7% of trials (2 of 3;")
    assert message.endswith("or use the exact rlssm.DDM.")

    own = LAN(path=_mlp(tmp_path / "own.onnx", 4), params={"drift": (-1, 1), "bound": (0.5, 2.0)}, choices=(0, 1))
    with pytest.warns(rlssm.LANRangeWarning) as record:
        own.check_params({"drift": np.array([0.0, 1.5]), "bound": np.array([1.0, 1.0])})
    (message,) = [str(w.message) for w in record]
    assert message.startswith(f"LAN(path={str(tmp_path / 'own.onnx')!r}): drift outside its training range [-1, 1] on 50%")
    assert "rlssm." not in message  # no exact model to suggest


def test_weibull_sample_names_the_missing_process(tmp_path: Path) -> None:
    weibull = LAN("weibull", path=_mlp(tmp_path / "weibull.onnx", 8))
    assert weibull.param_names == ("v", "a", "z", "t", "alpha", "beta") and weibull.sampler is None
    params = dict(v=0.5, a=1.0, z=0.5, t=0.3, alpha=1.0, beta=2.0)
    assert np.isfinite(float(weibull.logp(1.0, 1, **params)))
    with pytest.raises(
        NotImplementedError, match="no exact sampler of the weibull process in rlssm; simulate with ssm-simulators"
    ):
        weibull.sample(jax.random.key(0), **params)


def test_race_network_input_layout(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "race.onnx", 10, seed=1)
    race = LAN("race_no_bias_angle_4", path=path)
    assert race.param_names == ("v0", "v1", "v2", "v3", "a", "z", "t", "theta")
    assert race.choices == (0, 1, 2, 3) and race.n_options == 4
    rng = np.random.default_rng(2)
    p = {k: rng.uniform(lo, hi, 40) for k, (lo, hi) in race.bounds.items()}
    rt = p["t"] + rng.uniform(0.05, 2.0, 40)
    choice = rng.integers(0, 4, 40)  # fed as it is, 0..3, as HSSM and LANfactory do
    with jax.enable_x64(True):
        got = np.asarray(race.logp(rt, choice, **p))
    x = np.column_stack([p[k] for k in race.param_names] + [rt, choice])
    np.testing.assert_allclose(got, _numpy_forward(path, x), rtol=0, atol=1e-10)


def test_own_network(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "own.onnx", 5, seed=3)
    own = LAN(path=path, params={"v": (-3, 3), "a": (0.3, 2.5, 1.0), "z": (0.1, 0.9)}, choices=(-1, 1))
    assert own.name is None and own.param_names == ("v", "a", "z")
    assert own.bounds == {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9)} and own.defaults["a"] == 1.0
    rng = np.random.default_rng(4)
    p = {k: rng.uniform(lo, hi, 30) for k, (lo, hi) in own.bounds.items()}
    rt, choice = rng.uniform(0.0, 2.0, 30), rng.choice([-1.0, 1.0], 30)
    with jax.enable_x64(True):
        got = np.asarray(own.logp(rt, choice, **p))
    # No parameter t: no floor, the network's output everywhere (rt near 0 included).
    np.testing.assert_allclose(got, _numpy_forward(path, np.column_stack([p["v"], p["a"], p["z"], rt, choice])), atol=1e-10)
    with pytest.raises(TypeError, match=r"missing \['z'\], unexpected \['t'\]"):
        own.logp(1.0, 1, v=0.0, a=1.0, t=0.3)
    with pytest.raises(NotImplementedError, match="sampler="):
        own.sample(jax.random.key(0), v=0.0, a=1.0, z=0.5)


def test_own_network_with_a_sampler(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "ddm_like.onnx", 6)
    decl = {"v": (-3, 3), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)}
    own = LAN(path=path, params=decl, choices=(-1, 1), sampler=rlssm.DDM())
    assert isinstance(own.sampler, rlssm.DDM)
    with pytest.raises(ValueError, match="sampler Angle takes"):
        LAN(path=path, params=decl, choices=(-1, 1), sampler=rlssm.Angle())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(), TypeError, "published model name"),
        (dict(params={"v": (0, 1)}, choices=(0, 1)), TypeError, "path="),
        (dict(name="ddm", params={"v": (0, 1)}), TypeError, "HSSM's configuration"),
        (dict(path="x", params={"v": (0, 1)}), TypeError, "choices="),
        (dict(path="x", params={"rt": (0, 1)}, choices=(0, 1)), ValueError, "'rt'"),
        (dict(path="x", params={"v": (1, 0)}, choices=(0, 1)), ValueError, "lower bound"),
        (dict(path="x", params={"v": (0, 1)}, choices=(1,)), ValueError, "two or more distinct"),
        (dict(path="x", params={"v": (0, 1)}, choices=(1, 1)), ValueError, "two or more distinct"),
    ],
)
def test_construction_errors(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        LAN(**kwargs)


def test_wrong_input_width(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"maps 8 \(\[v, a, z, t, alpha, beta, rt, choice\]\) to 1"):
        LAN("weibull", path=_mlp(tmp_path / "w.onnx", 7))


# --- weights without a recorded checksum -----------------------------------------------------


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No LAN folder, an empty private cache, no HF settings; returns the cache root."""
    for var in ("RLSSM_LAN_DIR", "HF_ENDPOINT", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    cache_root = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_root))
    return cache_root


def test_unknown_checksum_is_not_downloaded(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    with pytest.raises(OSError, match="knows no SHA-256 of it") as info:
        LAN("levy")
    message = str(info.value)
    assert "sha256=" in message and "RLSSM_LAN_DIR" in message and "levy.onnx" in message


def test_unknown_checksum_cache_or_given_checksum(clean_env: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    net = _mlp(tmp_path / "levy.onnx", 7).read_bytes()
    # A user-supplied checksum makes the download possible, and is checked.
    hub = tmp_path / "hub"
    folder = hub / "franklab" / "HSSM" / "resolve" / "main"
    folder.mkdir(parents=True)
    (folder / "levy.onnx").write_bytes(net)
    monkeypatch.setenv("HF_ENDPOINT", hub.as_uri())
    with pytest.raises(ValueError, match="SHA-256"):
        LAN("levy", sha256="0" * 64)
    levy = LAN("levy", sha256=hashlib.sha256(net).hexdigest())
    assert levy.source == str(lan_cache_dir() / "levy.onnx") and levy.network.in_features == 7
    # Once in the cache (put there by the user or by a checked download), it is used as it is.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert LAN("levy").param_names == ("v", "a", "z", "alpha", "t")
