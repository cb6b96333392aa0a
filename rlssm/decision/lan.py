"""Likelihood approximation networks (LANs): the angle model through a trained MLP.

A LAN (Fengler et al., 2021) is a multilayer perceptron trained on simulations of a
sequential sampling model: it maps ``[parameters..., rt, choice]`` to the
log-likelihood of ``(rt, choice)``. LANfactory exports them as ONNX graphs (a chain of
``Gemm`` layers and ``Tanh`` activations), and HSSM publishes them on the Hugging Face
hub. This module reads such a graph once, with the ``onnx`` package, into an Equinox
module of plain arrays whose forward pass is a few JAX matmuls (no ONNX runtime).

Where the weights come from
---------------------------
[`AngleLAN`][rlssm.AngleLAN] takes an explicit ``path``; without one,
[`resolve_lan_path`][rlssm.decision.lan.resolve_lan_path] looks, in order, in

1. the folder named by the environment variable ``RLSSM_LAN_DIR``;
2. the user cache ``$XDG_CACHE_HOME/rlssm/lan`` (``~/.cache/rlssm/lan`` when
   ``XDG_CACHE_HOME`` is unset);
3. the Hugging Face repository HSSM uses (``franklab/HSSM``, revision ``main``), from
   which it downloads the file into the cache after checking its SHA-256.

The download honours ``HF_ENDPOINT`` (a mirror) and ``HF_HUB_OFFLINE`` (no download).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import LANRangeWarning
from .._precision import input_float_dtype as _float_dtype
from .._types import Array, ArrayLike, Float, Int, PRNGKeyArray, RealLike
from .._spec import ParamDecl
from .base import AbstractDecisionModel

HF_REPO_ID = "franklab/HSSM"
"""Hugging Face repository holding HSSM's published LANs."""

HF_REVISION = "main"
"""Revision of [`HF_REPO_ID`][rlssm.decision.lan.HF_REPO_ID] that HSSM downloads from."""

ANGLE_LAN_FILE = "angle.onnx"
ANGLE_LAN_SHA256 = "eaf27fb63ddecfc1e5c99cb03c53883c9144ed39ccad7121f1bbb7858a4ba1cb"
"""SHA-256 of the published ``angle.onnx`` (7-100-100-100-1, tanh)."""

LAN_DIR_ENV = "RLSSM_LAN_DIR"

LOGP_FLOOR = -66.1
"""Log-likelihood reported where the density is 0 (``rt <= t``): HSSM's ``LOGP_LB``."""

# Short on purpose: an offline machine should learn at once how to supply the file
# rather than wait through retries. It bounds the connection and each read.
_DOWNLOAD_TIMEOUT_S = 5.0
_DOWNLOAD_DEADLINE_S = 300.0  # the whole download (the published angle LAN is ~200 kB)

_ACTIVATIONS = {
    "Tanh": "tanh",
    "Relu": "relu",
    "Sigmoid": "sigmoid",
}


class LANNetwork(eqx.Module):
    """A multilayer perceptron read from an ONNX graph of ``Gemm`` layers and activations.

    Build it with [`from_onnx`][rlssm.decision.lan.LANNetwork.from_onnx]. The weights
    keep the file's dtype (float32 for LANfactory exports) and are cast to the input's
    dtype at call time, so the network evaluates in float32 or float64 alike.

    Attributes
    ----------
    weights
        One ``(out_features, in_features)`` matrix per ``Gemm`` layer (``alpha`` and
        ``transB`` folded in).
    biases
        One ``(out_features,)`` vector per ``Gemm`` layer (``beta`` folded in).
    ops
        The graph's operations in order: ``"gemm"`` or an activation name
        (``"tanh"``, ``"relu"``, ``"sigmoid"``).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    ops: tuple[str, ...] = eqx.field(static=True)

    def __check_init__(self) -> None:
        n_gemm = self.ops.count("gemm")
        if not (n_gemm == len(self.weights) == len(self.biases)) or n_gemm == 0:
            raise ValueError(
                f"LANNetwork: {n_gemm} 'gemm' ops need as many weights and biases, "
                f"got {len(self.weights)} and {len(self.biases)}"
            )
        for k in range(1, n_gemm):
            if self.weights[k].shape[1] != self.weights[k - 1].shape[0]:
                raise ValueError(
                    f"LANNetwork: layer {k} takes {self.weights[k].shape[1]} inputs but "
                    f"layer {k - 1} gives {self.weights[k - 1].shape[0]}"
                )

    @property
    def in_features(self) -> int:
        """Length of the input vector."""
        return int(self.weights[0].shape[1])

    @property
    def out_features(self) -> int:
        """Length of the output vector."""
        return int(self.weights[-1].shape[0])

    @classmethod
    def from_onnx(cls, path: str | os.PathLike[str]) -> LANNetwork:
        """Read an ONNX MLP (LANfactory / HSSM export).

        Parameters
        ----------
        path
            The ``.onnx`` file.

        Returns
        -------
        LANNetwork
            The network, equivalent to the graph for inputs of shape
            ``(..., in_features)``.

        Raises
        ------
        ValueError
            If the graph is not a single chain of ``Gemm`` layers and ``Tanh`` /
            ``Relu`` / ``Sigmoid`` activations; the message names the first offending
            node.
        """
        import onnx  # only needed here; keeps ``import rlssm`` light
        from onnx import helper, numpy_helper

        path = Path(path)
        try:
            model = onnx.load(path)
        except Exception as err:  # protobuf's DecodeError and friends do not name the file
            raise ValueError(f"{path}: not a readable ONNX model ({type(err).__name__}: {err})") from err
        graph = model.graph
        where = f"{path}"

        constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        # Old exporters also list initializers among the graph inputs.
        inputs = [inp for inp in graph.input if inp.name not in constants]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ValueError(
                f"{where}: a LAN graph has one input and one output, got inputs "
                f"{[i.name for i in inputs]} and outputs {[o.name for o in graph.output]}"
            )

        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        ops: list[str] = []
        current = inputs[0].name
        for node in graph.node:
            label = f"{where}: node {node.name or node.output[0]!r} ({node.op_type})"
            if node.op_type == "Constant":
                attrs = {a.name: a for a in node.attribute}
                if "value" not in attrs:
                    raise ValueError(f"{label}: only tensor-valued Constant nodes are supported")
                constants[node.output[0]] = numpy_helper.to_array(attrs["value"].t)
                continue
            if not node.input or node.input[0] != current:
                raise ValueError(
                    f"{label}: the graph is not a single chain (expected input {current!r}, "
                    f"got {list(node.input)})"
                )
            if node.op_type == "Gemm":
                attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
                weight, bias = _gemm_layer(list(node.input), attrs, constants, label)
                weights.append(weight)
                biases.append(bias)
                ops.append("gemm")
            elif node.op_type in _ACTIVATIONS:
                ops.append(_ACTIVATIONS[node.op_type])
            elif node.op_type == "Identity":
                pass
            else:
                raise ValueError(
                    f"{label}: unsupported ONNX operator {node.op_type!r}; rlssm reads MLPs "
                    f"built from Gemm layers and {', '.join(_ACTIVATIONS)} activations"
                )
            current = node.output[0]
        if current != graph.output[0].name:
            raise ValueError(
                f"{where}: the chain ends in {current!r}, not in the graph output "
                f"{graph.output[0].name!r}"
            )
        if not weights:
            raise ValueError(f"{where}: the graph has no Gemm layer")

        dims = inputs[0].type.tensor_type.shape.dim
        declared = dims[-1].dim_value if dims else 0
        if declared > 0 and declared != weights[0].shape[1]:
            raise ValueError(
                f"{where}: the input declares {declared} features but the first layer "
                f"takes {weights[0].shape[1]}"
            )
        return cls(weights=tuple(weights), biases=tuple(biases), ops=tuple(ops))

    def __call__(self, x: Float[ArrayLike, "*batch features"]) -> Float[Array, "*batch out"]:
        """Evaluate the network on the last axis of ``x``, in the dtype of ``x``."""
        x = jnp.asarray(x)
        dtype = x.dtype
        layer = 0
        for op in self.ops:
            if op == "gemm":
                weight = jnp.asarray(self.weights[layer], dtype=dtype)
                bias = jnp.asarray(self.biases[layer], dtype=dtype)
                # Full precision: on GPUs the default float32 matmul may use TF32, which
                # would shift the log-likelihood by far more than float32 rounding.
                x = jnp.matmul(x, weight.T, precision=jax.lax.Precision.HIGHEST) + bias
                layer += 1
            elif op == "tanh":
                x = jnp.tanh(x)
            elif op == "relu":
                x = jax.nn.relu(x)
            elif op == "sigmoid":
                x = jax.nn.sigmoid(x)
            else:  # pragma: no cover - from_onnx and __check_init__ rule this out
                raise ValueError(f"unknown op {op!r}")
        return x


def _gemm_layer(
    names: list[str], attrs: Mapping[str, Any], constants: Mapping[str, np.ndarray], label: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(weight, bias)`` of a Gemm node acting on a row vector, as ``x @ weight.T + bias``.

    ONNX Gemm computes ``alpha * A' @ B' + beta * C`` with ``A' = A.T`` if ``transA``
    and ``B' = B.T`` if ``transB``. ``A`` is the running activation, a row per sample;
    transposing it would mix samples, which no MLP layer does, so ``transA = 1`` is
    refused.
    """
    alpha = float(attrs.get("alpha", 1.0))
    beta = float(attrs.get("beta", 1.0))
    if attrs.get("transA", 0):
        raise ValueError(f"{label}: Gemm with transA=1 is not an MLP layer")
    for name in names[1:]:
        if name and name not in constants:
            raise ValueError(f"{label}: Gemm operand {name!r} is not a constant (initializer)")
    b = constants[names[1]]
    if b.ndim != 2 or not np.issubdtype(b.dtype, np.floating):
        raise ValueError(f"{label}: Gemm weight must be a 2-D float matrix, got {b.dtype}{b.shape}")
    # B' has shape (in, out); keep (out, in) like torch's Linear.
    weight = b if attrs.get("transB", 0) else b.T
    out_features = weight.shape[0]
    if len(names) > 2 and names[2]:
        c = constants[names[2]]
        try:  # C broadcasts unidirectionally to the (1, out) output of one sample
            bias = np.broadcast_to(c, (1, out_features)).reshape(out_features)
        except ValueError:
            raise ValueError(
                f"{label}: Gemm bias of shape {c.shape} does not broadcast to {(1, out_features)}"
            ) from None
    else:
        bias = np.zeros(out_features, dtype=weight.dtype)
    # alpha = beta = 1 in every LANfactory export; skipping the product keeps the weights
    # bit-identical to the file.
    if alpha != 1.0:
        weight = (alpha * weight).astype(b.dtype)
    if beta != 1.0:
        bias = (beta * bias).astype(bias.dtype)
    return np.ascontiguousarray(weight), np.ascontiguousarray(bias)


def lan_cache_dir() -> Path:
    """The user cache for LAN weights: ``$XDG_CACHE_HOME/rlssm/lan``, else ``~/.cache/rlssm/lan``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rlssm" / "lan"


def lan_url(name: str) -> str:
    """Download address of ``name`` in HSSM's Hugging Face repository (honours ``HF_ENDPOINT``)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{HF_REPO_ID}/resolve/{HF_REVISION}/{name}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _how_to_supply(name: str, cache: Path) -> str:
    return (
        f"Supply the file in one of these ways: pass path='/path/to/{name}' to the model "
        f"(e.g. rlssm.AngleLAN(path=...)); set the environment variable {LAN_DIR_ENV} to a "
        f"folder containing {name}; or copy {name} into {cache}. The file is published at "
        f"{lan_url(name)}."
    )


def resolve_lan_path(name: str, sha256: str) -> Path:
    """Find (or download) the published LAN file ``name``.

    Looks in ``$RLSSM_LAN_DIR``, then in the user cache
    ([`lan_cache_dir`][rlssm.decision.lan.lan_cache_dir]), then downloads
    ``name`` from HSSM's Hugging Face repository into the cache.

    Parameters
    ----------
    name
        File name in the repository, e.g. ``"angle.onnx"``.
    sha256
        Expected SHA-256 of the file (hex). Checked for cached and downloaded files; a
        file in ``$RLSSM_LAN_DIR`` is the user's choice and is taken as it is.

    Returns
    -------
    Path
        A local path of the file.

    Raises
    ------
    FileNotFoundError
        ``RLSSM_LAN_DIR`` is set but holds no ``name``.
    ValueError
        The cached or downloaded file has another checksum (a download is deleted).
    OSError
        The download failed (offline, timeout after a few seconds, HTTP error, or
        ``HF_HUB_OFFLINE`` set); the message says how to supply the file instead.
    """
    env_dir = os.environ.get(LAN_DIR_ENV)
    if env_dir:
        candidate = Path(env_dir).expanduser() / name
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{LAN_DIR_ENV} is set to {env_dir!r} but {candidate} does not exist; put "
                f"{name} there or unset {LAN_DIR_ENV}"
            )
        return candidate

    cache = lan_cache_dir()
    cached = cache / name
    if cached.is_file():
        found = _sha256(cached)
        if found != sha256:
            raise ValueError(
                f"{cached} has SHA-256 {found}, expected {sha256} (the published {name}). "
                f"Delete it to download the file again, or pass path= to use it anyway."
            )
        return cached

    url = lan_url(name)
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise OSError(
            f"{name} is not in {cache} and HF_HUB_OFFLINE is set, so it is not downloaded "
            f"from {url}. " + _how_to_supply(name, cache)
        )
    _download(url, cached, sha256)
    return cached


def _download(url: str, dest: Path, sha256: str) -> None:
    """Fetch ``url`` to ``dest`` atomically, checking its SHA-256."""
    tmp: Path | None = None
    digest = hashlib.sha256()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
        tmp = Path(tmp_name)
        # The timeout bounds each read; the deadline bounds the whole download, so that
        # a server trickling bytes cannot hold the caller forever.
        deadline = time.monotonic() + _DOWNLOAD_DEADLINE_S
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the download took longer than {_DOWNLOAD_DEADLINE_S:.0f} s")
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise OSError(
            f"Could not download {dest.name} from {url} ({exc}). "
            + _how_to_supply(dest.name, dest.parent)
        ) from exc
    found = digest.hexdigest()
    if found != sha256:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"The file downloaded from {url} has SHA-256 {found}, expected {sha256}; it was "
            f"deleted. The published file may have changed: check it, then pass path= or "
            f"set {LAN_DIR_ENV}."
        )
    os.replace(tmp, dest)


class AngleLAN(AbstractDecisionModel):
    """The angle model (linearly collapsing bounds) through HSSM's published LAN.

    The log-likelihood is the output of the network LANfactory trained on
    ssm-simulators' angle model, fed ``[v, a, z, t, theta, rt, choice]`` (raw ``rt``,
    non-decision time included; ``choice`` in ``{-1, 1}``) exactly as HSSM's
    ``approx_differentiable`` angle likelihood does. The output is not clipped. Where
    ``rt - t <= 1e-15`` the density is 0 and `logp` returns
    [`LOGP_FLOOR`][rlssm.decision.lan.LOGP_FLOOR] (-66.1, HSSM's
    ``ensure_positive_ndt``), with zero gradient.

    Outside its training range (`bounds`, ssm-simulators' angle bounds) the network
    extrapolates; [`check_params`][rlssm.AngleLAN.check_params] warns with a
    [`LANRangeWarning`][rlssm.LANRangeWarning]. In an [`RLSSM`][rlssm.RLSSM] the drift
    is computed (``v = scaler * (Q[1] - Q[0])``), so it is checked three times, each
    time as one warning with the share of trials affected: by
    [`RLSSM.loglik`][rlssm.RLSSM.loglik] on the parameters given; by
    [`RLSSM.to_hssm`][rlssm.RLSSM.to_hssm] before fitting, on the decision parameters
    that draws from the priors imply on the data
    (``rlssm.fitting.check_decision_ranges``); and after fitting, on the per-trial
    posterior parameters, by ``rlssm.fitting.check_posterior_ranges(model, hm,
    idata)``. Samples come from the exact angle process ([`Angle`][rlssm.Angle]).

    Parameters
    ----------
    path
        The ONNX file. Default: the published ``angle.onnx``, found by
        [`resolve_lan_path`][rlssm.decision.lan.resolve_lan_path] in
        ``$RLSSM_LAN_DIR``, the cache ``$XDG_CACHE_HOME/rlssm/lan``
        (``~/.cache/rlssm/lan``), or downloaded from
        ``https://huggingface.co/franklab/HSSM/resolve/main/angle.onnx`` (SHA-256
        checked). An explicit file is used as it is (a retrained network is fine, if it
        takes the same 7 inputs).

    Attributes
    ----------
    network
        The loaded [`LANNetwork`][rlssm.decision.lan.LANNetwork].
    """

    network: LANNetwork

    params: ClassVar[Mapping[str, ParamDecl]] = {
        "v": (-3.0, 3.0),
        "a": (0.3, 3.0),
        "z": (0.1, 0.9),
        "t": (0.001, 2.0),
        "theta": (-0.1, 1.3),
    }
    choices: ClassVar[tuple[int, ...]] = (-1, 1)

    def __init__(self, path: str | os.PathLike[str] | None = None):
        if path is None:
            path = resolve_lan_path(ANGLE_LAN_FILE, ANGLE_LAN_SHA256)
        elif not Path(path).is_file():
            raise FileNotFoundError(f"AngleLAN: no LAN file at {path}")
        self.network = LANNetwork.from_onnx(path)

    def __check_init__(self) -> None:
        n_in = len(self.param_names) + 2
        if self.network.in_features != n_in or self.network.out_features != 1:
            raise ValueError(
                f"AngleLAN: the network maps {self.network.in_features} inputs to "
                f"{self.network.out_features} outputs; the angle LAN maps {n_in} "
                "([v, a, z, t, theta, rt, choice]) to 1 (the log-likelihood)"
            )

    def logp(
        self,
        rt: RealLike,
        choice: RealLike,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        theta: RealLike,
    ) -> Float[Array, "..."]:
        dtype = _float_dtype(rt, choice, v, a, z, t, theta)
        args = jnp.broadcast_arrays(
            *(jnp.asarray(x, dtype=dtype) for x in (v, a, z, t, theta, rt, choice))
        )
        # HSSM's input order: the parameters in list_params order, then the data columns.
        out = self.network(jnp.stack(args, axis=-1))[..., 0]
        rt_b, t_b = args[5], args[3]
        # A single where suffices: the tanh MLP is finite with finite gradients for any
        # finite input, so the discarded branch cannot poison the gradient with NaN.
        return jnp.where(rt_b - t_b <= 1e-15, jnp.asarray(LOGP_FLOOR, dtype=dtype), out)

    def sample(
        self,
        key: PRNGKeyArray,
        *,
        v: RealLike,
        a: RealLike,
        z: RealLike,
        t: RealLike,
        theta: RealLike,
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        # The LAN approximates the angle process's likelihood; draws come from the
        # process itself. Imported here so that this module does not depend on it.
        from .angle import Angle

        return Angle().sample(key, v=v, a=a, z=z, t=t, theta=theta)

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Warn for every parameter that leaves the network's training range.

        Issues one [`LANRangeWarning`][rlssm.LANRangeWarning] per parameter of
        `param_names` (present in ``params``) with values outside `bounds`, giving the
        share of trials affected and the extremes. NaNs (missed trials) are ignored.
        """
        name_of_model = type(self).__name__
        for name in self.param_names:
            if name not in params:
                continue
            values = np.asarray(params[name], dtype=np.float64).ravel()
            values = values[~np.isnan(values)]
            if values.size == 0:
                continue
            lower, upper = self.bounds[name]
            outside = int(np.count_nonzero((values < lower) | (values > upper)))
            if outside == 0:
                continue
            percent = 100.0 * outside / values.size
            warnings.warn(
                f"{name_of_model}: {name} outside its training range [{lower:g}, {upper:g}] "
                f"on {percent:.3g}% of trials ({outside} of {values.size}; min "
                f"{values.min():.3g}, max {values.max():.3g}); the network extrapolates "
                f"there and its log-likelihood is unreliable. Narrow the bounds or priors "
                f"of {name}, or use the exact rlssm.Angle.",
                LANRangeWarning,
                stacklevel=2,
            )
