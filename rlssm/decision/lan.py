"""Likelihood approximation networks (LANs): HSSM's trained likelihoods as JAX modules.

A LAN (Fengler et al., 2021) is a multilayer perceptron trained on simulations of a
sequential sampling model: it maps ``[parameters..., rt, choice]`` to the
log-likelihood of ``(rt, choice)``. LANfactory exports them as ONNX graphs (a chain of
``Gemm`` layers and ``Tanh`` activations), and HSSM publishes them on the Hugging Face
hub. This module reads such a graph once, with the ``onnx`` package, into an Equinox
module of plain arrays whose forward pass is a few JAX matmuls (no ONNX runtime).
[`LAN`][rlssm.LAN] wraps any such network as a decision model: one of HSSM's by name
(``LAN("ddm")``, parameter order, training ranges and response coding from
[`PUBLISHED_LANS`][rlssm.decision.lan.PUBLISHED_LANS]) or a network of your own
(``LAN(path=..., params=..., choices=...)``).

Where the weights come from
---------------------------
An explicit ``path`` is used as it is. Without one,
[`resolve_lan_path`][rlssm.decision.lan.resolve_lan_path] looks, in order, in

1. the folder named by the environment variable ``RLSSM_LAN_DIR``;
2. the user cache ``$XDG_CACHE_HOME/rlssm/lan`` (``~/.cache/rlssm/lan`` when
   ``XDG_CACHE_HOME`` is unset);
3. the Hugging Face repository HSSM uses (``franklab/HSSM``, revision ``main``), from
   which it downloads the file into the cache after checking its SHA-256.

rlssm downloads only files whose SHA-256 it knows: those of ``angle.onnx`` and
``ddm.onnx`` are recorded in [`PUBLISHED_LANS`][rlssm.decision.lan.PUBLISHED_LANS];
for the other networks pass ``sha256=`` to [`LAN`][rlssm.LAN] (a checksum you have
checked yourself), or supply the file through ``path=``, ``RLSSM_LAN_DIR`` or the cache.
A file that is unknown to rlssm is never fetched unchecked. The download honours
``HF_ENDPOINT`` (a mirror) and ``HF_HUB_OFFLINE`` (no download).

References
----------
Fengler, A., Govindarajan, L. N., Chen, T., & Frank, M. J. (2021). Likelihood
approximation networks (LANs) for fast inference of simulation models in cognitive
neuroscience. *eLife*, 10, e65074.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import LANRangeWarning
from .._precision import input_float_dtype as _float_dtype
from .._types import Array, ArrayLike, Float, Int, PRNGKeyArray, RealLike
from .._spec import ParamDecl, split_decl
from .angle import Angle
from .base import AbstractDecisionModel
from .ddm import DDM

HF_REPO_ID = "franklab/HSSM"
"""Hugging Face repository holding HSSM's published LANs."""

HF_REVISION = "main"
"""Revision of [`HF_REPO_ID`][rlssm.decision.lan.HF_REPO_ID] that HSSM downloads from."""

ANGLE_LAN_FILE = "angle.onnx"
ANGLE_LAN_SHA256 = "eaf27fb63ddecfc1e5c99cb03c53883c9144ed39ccad7121f1bbb7858a4ba1cb"
"""SHA-256 of the published ``angle.onnx`` (7-100-100-100-1, tanh)."""

DDM_LAN_SHA256 = "2fbc2199d61cf3ca67725d2262c563636655d05dd1873770825db34313c179f6"
"""SHA-256 of the published ``ddm.onnx`` (6-100-100-100-1, tanh)."""

LAN_DIR_ENV = "RLSSM_LAN_DIR"

LOGP_FLOOR = -66.1
"""Log-likelihood reported where the density is 0 (``rt <= t``): HSSM's ``LOGP_LB``."""


class PublishedLAN(NamedTuple):
    """What rlssm knows of one of HSSM's published LANs.

    The entries of [`PUBLISHED_LANS`][rlssm.decision.lan.PUBLISHED_LANS] restate HSSM's
    model configuration (``hssm.modelconfig.<name>_config``, its
    ``approx_differentiable`` likelihood), so that rlssm does not import HSSM to build
    a LAN; the test suite checks them against HSSM's.

    Attributes
    ----------
    file
        File name in HSSM's Hugging Face repository (HSSM's ``loglik``).
    params
        ``name -> (lower, upper)`` in the network's input order (HSSM's
        ``list_params``), with the ranges HSSM declares for the network (its
        ``bounds``): the box the network was trained on, as HSSM states it.
    choices
        The response coding the network was trained on, in option order (HSSM's
        ``choices``); it is fed to the network as it is.
    sha256
        SHA-256 of the published file where rlssm has checked it, else ``None``: such a
        file is downloaded only with a checksum given by the user (``LAN(name,
        sha256=...)``).
    exact
        The rlssm decision model of the same process, whose sampler serves as the LAN's
        (a LAN has none of its own); ``None`` where rlssm has none.
    """

    file: str
    params: Mapping[str, tuple[float, float]]
    choices: tuple[int, ...]
    sha256: str | None
    exact: type[AbstractDecisionModel] | None


def _published(
    params: dict[str, tuple[float, float]],
    choices: tuple[int, ...],
    file: str,
    sha256: str | None = None,
    exact: type[AbstractDecisionModel] | None = None,
) -> PublishedLAN:
    return PublishedLAN(file, MappingProxyType(params), choices, sha256, exact)


_TWO = (-1, 1)

PUBLISHED_LANS: Mapping[str, PublishedLAN] = MappingProxyType(
    {
        "ddm": _published(
            {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.0, 1.0), "t": (0.0, 2.0)},
            _TWO, "ddm.onnx", DDM_LAN_SHA256, DDM,
        ),
        "ddm_sdv": _published(
            {"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0), "sv": (0.0, 2.5)},
            _TWO, "ddm_sdv.onnx",
        ),
        "angle": _published(
            {"v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0), "theta": (-0.1, 1.3)},
            _TWO, ANGLE_LAN_FILE, ANGLE_LAN_SHA256, Angle,
        ),
        "angle_extended": _published(
            {"v": (-6.0, 6.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0), "theta": (-0.1, 1.3)},
            _TWO, "angle_extended.onnx", None, Angle,
        ),
        "levy": _published(
            {"v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "alpha": (1.0, 2.0), "t": (0.001, 2.0)},
            _TWO, "levy.onnx",
        ),
        "ornstein": _published(
            {"v": (-2.0, 2.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "g": (-1.0, 1.0), "t": (0.001, 2.0)},
            _TWO, "ornstein.onnx",
        ),
        "weibull": _published(
            {
                "v": (-2.5, 2.5), "a": (0.3, 2.5), "z": (0.2, 0.8), "t": (0.001, 2.0),
                "alpha": (0.31, 4.99), "beta": (0.31, 6.99),
            },
            _TWO, "weibull.onnx",
        ),
        "race_no_bias_angle_4": _published(
            {
                "v0": (0.0, 2.5), "v1": (0.0, 2.5), "v2": (0.0, 2.5), "v3": (0.0, 2.5),
                "a": (1.0, 3.0), "z": (0.0, 0.9), "t": (0.0, 2.0), "theta": (-0.1, 1.45),
            },
            (0, 1, 2, 3), "race_no_bias_angle_4.onnx",
        ),
        "ddm_seq2_no_bias": _published(
            {"vh": (-4.0, 4.0), "vl1": (-4.0, 4.0), "vl2": (-4.0, 4.0), "a": (0.3, 2.5), "t": (0.0, 2.0)},
            (0, 1, 2, 3), "ddm_seq2_no_bias.onnx",
        ),
        "gamma_drift": _published(
            {
                "v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0),
                "shape": (2.0, 10.0), "scale": (0.01, 1.0), "c": (-3.0, 3.0),
            },
            _TWO, "gamma_drift.onnx",
        ),
        "gamma_drift_angle": _published(
            {
                "v": (-3.0, 3.0), "a": (0.3, 3.0), "z": (0.1, 0.9), "t": (0.001, 2.0),
                "theta": (-0.1, 1.3), "shape": (2.0, 10.0), "scale": (0.01, 1.0), "c": (-3.0, 3.0),
            },
            _TWO, "gamma_drift_angle.onnx",
        ),
    }
)
"""HSSM's published LANs by model name (HSSM 0.5's ``approx_differentiable`` likelihoods).

``angle_extended`` is the angle process trained over a wider drift range, hence its
exact sampler ``Angle``. SHA-256 sums are recorded for ``angle`` and ``ddm`` only.
"""

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
    model = name.removesuffix(".onnx")
    return (
        f"Supply the file in one of these ways: pass path='/path/to/{name}' to the model "
        f"(e.g. rlssm.LAN({model!r}, path=...)); set the environment variable {LAN_DIR_ENV} "
        f"to a folder containing {name}; or copy {name} into {cache}. The file is "
        f"published at {lan_url(name)}."
    )


def resolve_lan_path(name: str, sha256: str | None) -> Path:
    """Find (or download) the published LAN file ``name``.

    Looks in ``$RLSSM_LAN_DIR``, then in the user cache
    ([`lan_cache_dir`][rlssm.decision.lan.lan_cache_dir]), then downloads
    ``name`` from HSSM's Hugging Face repository into the cache, but only when its
    SHA-256 is known.

    Parameters
    ----------
    name
        File name in the repository, e.g. ``"angle.onnx"``.
    sha256
        Expected SHA-256 of the file (hex), or ``None`` when it is not known. Checked
        for cached and downloaded files; a file in ``$RLSSM_LAN_DIR`` is the user's
        choice and is taken as it is, and so is a cached file when ``sha256`` is
        ``None`` (it was put there by the user: rlssm downloads nothing unchecked).

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
        The file is in neither place and cannot be downloaded: its checksum is
        unknown, the download failed (offline, timeout after a few seconds, HTTP
        error), or ``HF_HUB_OFFLINE`` is set. The message says how to supply the file.
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
        if sha256 is None:
            return cached
        found = _sha256(cached)
        if found != sha256:
            raise ValueError(
                f"{cached} has SHA-256 {found}, expected {sha256} (the published {name}). "
                f"Delete it to download the file again, or pass path= to use it anyway."
            )
        return cached

    url = lan_url(name)
    if sha256 is None:
        # Without a checksum a download could not be told from a corrupted or tampered
        # file, so rlssm does not fetch it; the user vouches for the file instead.
        raise OSError(
            f"{name} is not in {cache}, and rlssm knows no SHA-256 of it, so it is not "
            f"downloaded from {url}. Download and check it yourself, then supply it, or "
            f"pass the checksum you trust (rlssm.LAN({name.removesuffix('.onnx')!r}, "
            f"sha256='...')) to have it downloaded and checked. " + _how_to_supply(name, cache)
        )
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


def _known_names() -> str:
    return ", ".join(repr(n) for n in PUBLISHED_LANS)


def _declared_params(params: Mapping[str, Sequence[float | int]]) -> tuple[tuple[str, ParamDecl], ...]:
    """A user's ``params`` as hashable ``(name, (lower, upper[, default]))`` pairs, checked."""
    if not params:
        raise ValueError("LAN: params must name at least one parameter, in the network's input order")
    out: list[tuple[str, ParamDecl]] = []
    for name, decl in params.items():
        if not isinstance(name, str) or not name.isidentifier() or name in ("rt", "choice"):
            raise ValueError(
                f"LAN: parameter name {name!r} must be a Python identifier other than 'rt' "
                "and 'choice' (parameters are passed as keywords)"
            )
        decl = tuple(float(x) for x in decl)
        split_decl(name, decl)  # type: ignore[arg-type]  # raises on a malformed declaration
        out.append((name, decl))  # type: ignore[arg-type]
    return tuple(out)


def _response_coding(choices: Sequence[int]) -> tuple[int, ...]:
    coding = tuple(choices)
    if (
        len(coding) < 2
        or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in coding)
        or len(set(coding)) != len(coding)
    ):
        raise ValueError(
            "LAN: choices must list two or more distinct integer response values, as the "
            f"network was trained on them (e.g. (-1, 1) or (0, 1, 2, 3)), got {choices!r}"
        )
    return tuple(int(c) for c in coding)


class LAN(AbstractDecisionModel):
    """A sequential sampling model through a likelihood approximation network.

    The log-likelihood is the output of a network trained by LANfactory on simulations
    of the process (Fengler et al., 2021), read from its ONNX file. The network is fed
    ``[params in declaration order..., rt, choice]``: raw ``rt`` (non-decision time
    included) and ``choice`` in the coding it was trained on (`choices`, fed as it is:
    ``-1``/``+1`` for two-boundary models, ``0 .. N-1`` for races), exactly as HSSM's
    ``approx_differentiable`` likelihoods and ssm-simulators' training data lay it out.
    The output is not clipped. When the model has a parameter ``t``, ``logp`` returns
    [`LOGP_FLOOR`][rlssm.decision.lan.LOGP_FLOOR] (-66.1), with zero gradient, where
    ``rt - t <= 1e-15`` (the density is 0 there; HSSM's ``ensure_positive_ndt``).

    **Which network.** ``LAN(name)`` takes one of HSSM's published networks
    ([`PUBLISHED_LANS`][rlssm.decision.lan.PUBLISHED_LANS]: ``"ddm"``, ``"angle"``,
    ``"weibull"``, ``"levy"``, ``"ornstein"``, ``"race_no_bias_angle_4"``, ...), with
    HSSM's parameter order, training ranges (`bounds`) and response coding; the file is
    ``path`` or found by [`resolve_lan_path`][rlssm.decision.lan.resolve_lan_path].
    ``LAN(path=..., params=..., choices=...)`` takes a network of your own: you declare
    its parameters in input order with their training ranges, and its response coding.

    **Range warnings.** Outside its training range (`bounds`) a network extrapolates;
    [`check_params`][rlssm.LAN.check_params] warns with a
    [`LANRangeWarning`][rlssm.LANRangeWarning]. In an [`RLSSM`][rlssm.RLSSM] it runs on
    the trial-wise decision parameters (the drift is computed from the values) by
    [`RLSSM.loglik`][rlssm.RLSSM.loglik], before fitting by
    [`RLSSM.to_hssm`][rlssm.RLSSM.to_hssm] and after fitting by
    ``rlssm.fitting.check_posterior_ranges``.

    **Sampler.** A LAN is a likelihood only; `sample` draws from ``sampler``, an exact
    rlssm model of the same process: [`DDM`][rlssm.DDM] for ``"ddm"``,
    [`Angle`][rlssm.Angle] for ``"angle"`` and ``"angle_extended"``. For the other
    processes rlssm has no exact sampler and `sample` raises ``NotImplementedError``
    (simulate them with ssm-simulators).

    Parameters
    ----------
    name
        A model name of [`PUBLISHED_LANS`][rlssm.decision.lan.PUBLISHED_LANS]. Leave it
        out for a network of your own (then ``path``, ``params`` and ``choices`` are
        required).
    path
        The ONNX file. Default for a published name: ``<name>.onnx`` from
        ``$RLSSM_LAN_DIR``, the cache ``$XDG_CACHE_HOME/rlssm/lan``
        (``~/.cache/rlssm/lan``), or downloaded from HSSM's Hugging Face repository
        with its SHA-256 checked (only ``angle`` and ``ddm`` have a recorded checksum;
        see ``sha256``). An explicit file is used as it is (a retrained network is
        fine if it takes the same inputs).
    params
        A network of your own only: ``name -> (lower, upper)`` (or ``(lower, upper,
        default)``) of every parameter, in the network's input order; the bounds are
        its training ranges, which `check_params` warns about.
    choices
        A network of your own only: the response values it was trained on, in option
        order (``(-1, 1)`` for a two-boundary model, ``+1`` the upper boundary).
    sampler
        A decision model of the same process (same `param_names` and `choices`) that
        `sample` delegates to. Default: the exact rlssm model for ``"ddm"``,
        ``"angle"`` and ``"angle_extended"``, else none.
    sha256
        A published name without ``path`` only: the SHA-256 (hex) the downloaded or
        cached file must have, overriding rlssm's record. For networks whose
        checksum rlssm does not know this is the way to have them downloaded.

    Attributes
    ----------
    network
        The loaded [`LANNetwork`][rlssm.decision.lan.LANNetwork].
    sampler
        The model `sample` delegates to, or ``None``.
    name
        The published name, or ``None`` for a network of your own.
    source
        The file the network was read from.
    choices
        The response coding, in option order.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones); a network whose input
        width is not ``len(params) + 2`` or whose output is not one number; malformed
        ``params`` or ``choices``; a ``sampler`` of other parameters or coding.
    TypeError
        ``params``/``choices`` with a published name, or a network of your own without
        them.
    FileNotFoundError, OSError
        The file cannot be found or downloaded (see
        [`resolve_lan_path`][rlssm.decision.lan.resolve_lan_path]).

    Examples
    --------
    ```python
    ddm = rlssm.LAN("ddm")                              # HSSM's ddm.onnx
    angle = rlssm.LAN("angle", path="weights/angle.onnx")
    mine = rlssm.LAN(
        path="my_ddm.onnx",
        params={"v": (-3.0, 3.0), "a": (0.3, 2.5), "z": (0.1, 0.9), "t": (0.0, 2.0)},
        choices=(-1, 1),
        sampler=rlssm.DDM(),
    )
    ```
    """

    network: LANNetwork
    sampler: AbstractDecisionModel | None
    name: str | None = eqx.field(static=True)
    source: str = eqx.field(static=True)
    choices: tuple[int, ...] = eqx.field(static=True)
    _params: tuple[tuple[str, ParamDecl], ...] = eqx.field(static=True)

    # The network is defined (finite, smooth) for every finite input; where it can be
    # trusted is `bounds`, which check_params reports on. So no parameter is restricted.
    domains: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(
        self,
        name: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
        params: Mapping[str, Sequence[float | int]] | None = None,
        choices: Sequence[int] | None = None,
        sampler: AbstractDecisionModel | None = None,
        sha256: str | None = None,
    ):
        if name is None:
            if path is None:
                raise TypeError(
                    f"LAN: give a published model name (one of {_known_names()}) or "
                    "path= to a network of your own (with params= and choices=)"
                )
            if params is None or choices is None:
                raise TypeError(
                    "LAN(path=...): a network of your own needs params={name: (lower, "
                    "upper), ...} in its input order and choices=(...), its response coding"
                )
            if sha256 is not None:
                raise TypeError("LAN: sha256= checks a published file; an explicit path is used as it is")
            self._params = _declared_params(params)
            self.choices = _response_coding(choices)
        else:
            entry = PUBLISHED_LANS.get(name)
            if entry is None:
                hint = " (for a file of your own pass path=, params= and choices=)" if name.endswith(".onnx") else ""
                raise ValueError(f"LAN: unknown model {name!r}; known: {_known_names()}{hint}")
            if params is not None or choices is not None:
                raise TypeError(
                    f"LAN({name!r}) takes its parameters and response coding from HSSM's "
                    "configuration; declare params= and choices= only for a network of your "
                    "own (LAN(path=..., params=..., choices=...))"
                )
            self._params = tuple(entry.params.items())
            self.choices = entry.choices
            if path is None:
                path = resolve_lan_path(entry.file, sha256 or entry.sha256)
            elif sha256 is not None:
                raise TypeError("LAN: sha256= checks a published file; an explicit path is used as it is")
            if sampler is None and entry.exact is not None:
                sampler = entry.exact()
        if not Path(path).is_file():
            raise FileNotFoundError(f"{self._label(name, path)}: no LAN file at {path}")
        self.name = name
        self.source = str(path)
        self.sampler = sampler
        self.network = LANNetwork.from_onnx(path)

    def __check_init__(self) -> None:
        label = self._label(self.name, self.source)
        names = self.param_names
        n_in = len(names) + 2
        if self.network.in_features != n_in or self.network.out_features != 1:
            raise ValueError(
                f"{label}: the network maps {self.network.in_features} inputs to "
                f"{self.network.out_features} outputs; this LAN maps {n_in} "
                f"([{', '.join(names)}, rt, choice]) to 1 (the log-likelihood)"
            )
        if self.sampler is not None and (
            self.sampler.param_names != names or tuple(self.sampler.choices) != self.choices
        ):
            raise ValueError(
                f"{label}: sampler {type(self.sampler).__name__} takes {self.sampler.param_names} "
                f"with choices {tuple(self.sampler.choices)}; the LAN takes {names} with "
                f"choices {self.choices}"
            )

    @staticmethod
    def _label(name: str | None, source: str | os.PathLike[str]) -> str:
        return f"LAN({name!r})" if name is not None else f"LAN(path={str(source)!r})"

    @property
    def params(self) -> Mapping[str, ParamDecl]:  # type: ignore[override]
        return MappingProxyType(dict(self._params))

    def _ordered(self, params: Mapping[str, RealLike], what: str) -> list[RealLike]:
        names = self.param_names
        if set(params) != set(names):
            missing = [n for n in names if n not in params]
            extra = sorted(set(params) - set(names))
            raise TypeError(
                f"{self._label(self.name, self.source)}.{what}: takes the parameters {names}; "
                f"missing {missing}, unexpected {extra}"
            )
        return [params[n] for n in names]

    def logp(self, rt: RealLike, choice: RealLike, **params: RealLike) -> Float[Array, "..."]:
        values = self._ordered(params, "logp")
        dtype = _float_dtype(rt, choice, *values)
        args = jnp.broadcast_arrays(*(jnp.asarray(x, dtype=dtype) for x in (*values, rt, choice)))
        # The input layout of HSSM and LANfactory: the parameters in order, then rt, choice.
        out = self.network(jnp.stack(args, axis=-1))[..., 0]
        if "t" not in self.param_names:
            return out
        t = args[self.param_names.index("t")]
        # A single where suffices: the MLP is finite with finite gradients for any
        # finite input, so the discarded branch cannot poison the gradient with NaN.
        return jnp.where(args[-2] - t <= 1e-15, jnp.asarray(LOGP_FLOOR, dtype=dtype), out)

    def sample(
        self, key: PRNGKeyArray, **params: RealLike
    ) -> tuple[Float[Array, "..."], Int[Array, "..."]]:
        self._ordered(params, "sample")
        if self.sampler is None:
            label = self._label(self.name, self.source)
            if self.name is not None:
                raise NotImplementedError(
                    f"{label}.sample: no exact sampler of the {self.name} process in rlssm; "
                    f"simulate with ssm-simulators (ssms.basic_simulators.simulator."
                    f"simulator(theta, model={self.name!r})), or pass sampler= an rlssm "
                    "decision model of that process"
                )
            raise NotImplementedError(
                f"{label}.sample: a network of your own has no sampler; pass sampler= an "
                "rlssm decision model of the process it was trained on (same parameters and "
                "choices), or simulate with ssm-simulators"
            )
        # The LAN approximates the process's likelihood; draws come from the process.
        return self.sampler.sample(key, **params)

    @property
    def has_range_check(self) -> bool:
        return True

    def check_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Warn for every parameter that leaves the network's training range.

        Issues one [`LANRangeWarning`][rlssm.LANRangeWarning] per parameter of
        `param_names` (present in ``params``) with values outside `bounds`, giving the
        share of trials affected and the extremes. NaNs (missed trials) are ignored.
        """
        label = self._label(self.name, self.source)
        entry = PUBLISHED_LANS.get(self.name) if self.name is not None else None
        exact = entry.exact if entry is not None else None
        cure = f", or use the exact rlssm.{exact.__name__}" if exact is not None else ""
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
                f"{label}: {name} outside its training range [{lower:g}, {upper:g}] "
                f"on {percent:.3g}% of trials ({outside} of {values.size}; min "
                f"{values.min():.3g}, max {values.max():.3g}); the network extrapolates "
                f"there and its log-likelihood is unreliable. Narrow the bounds or priors "
                f"of {name}{cure}.",
                LANRangeWarning,
                stacklevel=2,
            )


def AngleLAN(path: str | os.PathLike[str] | None = None) -> LAN:  # noqa: N802  (was a class)
    """The angle model (linearly collapsing bounds) through HSSM's published LAN.

    ``LAN("angle", path=path)``: the log-likelihood is the output of the network
    LANfactory trained on ssm-simulators' angle model, fed ``[v, a, z, t, theta, rt,
    choice]`` (raw ``rt``, non-decision time included; ``choice`` in ``{-1, 1}``)
    exactly as HSSM's ``approx_differentiable`` angle likelihood does. The output is not
    clipped. Where ``rt - t <= 1e-15`` the density is 0 and `logp` returns
    [`LOGP_FLOOR`][rlssm.decision.lan.LOGP_FLOOR] (-66.1, HSSM's
    ``ensure_positive_ndt``), with zero gradient.

    Outside its training range (`bounds`, ssm-simulators' angle bounds) the network
    extrapolates; [`check_params`][rlssm.LAN.check_params] warns with a
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

    Returns
    -------
    LAN
        ``LAN("angle", path=path)``: `param_names` ``("v", "a", "z", "t", "theta")``,
        `choices` ``(-1, 1)``; its ``network`` attribute is the loaded
        [`LANNetwork`][rlssm.decision.lan.LANNetwork].
    """
    return LAN("angle", path=path)
