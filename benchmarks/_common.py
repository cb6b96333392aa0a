"""Shared set-up of the benchmark scripts: data, offline LAN weights for HSSM, priors.

Import this module *before* ``hssm`` (or anything that imports ``huggingface_hub``):
`offline_hssm_lan` sets environment variables that ``huggingface_hub`` reads once, at
import time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]

HSSM_PRESET = "2AB_RW_DualAlpha_Angle"
"""HSSM 0.5's RLSSM preset matching ``RLSSM(DualRateRW(), AngleLAN())``."""

PARAM_NAMES = ("rl_alpha", "rl_alpha_neg", "scaler", "a", "z", "t", "theta")

SEED_POINT = {
    "rl_alpha": 0.6,
    "rl_alpha_neg": 0.6,
    "scaler": 3.2,
    "a": 1.2,
    "z": 0.1,
    "t": 0.1,
    "theta": 0.1,
}
"""The seed tutorial's test point (it has one rate; both rates take it here)."""

SEED_TOTAL_F64 = -6618.5671
"""Total log-likelihood of the seed data at `SEED_POINT` (float64, correct +-1 coding)."""


def add_xla_flags(host_devices: int = 0, extra: str = "") -> None:
    """Append ``--xla_force_host_platform_device_count`` (when ``host_devices`` > 0) and
    ``extra`` to ``XLA_FLAGS``; JAX reads them once, so this must run before it is imported."""
    import sys

    if "jax" in sys.modules:
        raise SystemExit("XLA flags (--host-devices, --xla-flags) must be set before JAX is imported")
    flags = (f"--xla_force_host_platform_device_count={host_devices} " if host_devices else "") + extra
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def data_dir(explicit: str | None = None) -> Path:
    """Folder with ``rldm_data.npy`` and ``angle.onnx``.

    ``explicit`` (``--data-dir``), else ``$RLSSM_TEST_DATA`` (what the test suite
    reads), else ``../shared/data`` next to the repository.
    """
    if explicit:
        path = Path(explicit)
    elif os.environ.get("RLSSM_TEST_DATA"):
        path = Path(os.environ["RLSSM_TEST_DATA"])
    else:
        path = REPO_ROOT.parent / "shared" / "data"
    if not (path / "rldm_data.npy").is_file() or not (path / "angle.onnx").is_file():
        raise SystemExit(
            f"{path} lacks rldm_data.npy or angle.onnx: pass --data-dir or set RLSSM_TEST_DATA"
        )
    return path


def seed_data(folder: Path) -> pd.DataFrame:
    """The seed tutorial's data (20 x 200), ``trial`` renamed ``trial_id``, responses 0/1."""
    df = np.load(folder / "rldm_data.npy", allow_pickle=True).item()["data"]
    df = df.rename(columns={"trial": "trial_id"})
    return df.sort_values(["participant_id", "trial_id"], kind="stable").reset_index(drop=True)


def seed_truth(folder: Path) -> dict[str, float]:
    """Group means that generated the seed data (``params_true_group``'s ``*_mean``).

    The data were generated with one learning rate, so ``rl_alpha_neg``'s truth is
    ``rl_alpha``'s.
    """
    stored = np.load(folder / "rldm_data.npy", allow_pickle=True).item()["params_true_group"]
    out = {k[: -len("_mean")]: float(v) for k, v in stored.items() if k.endswith("_mean")}
    out["rl_alpha_neg"] = out["rl_alpha"]
    return out


def tiled_data(seed: pd.DataFrame, participants: int, trials: int) -> pd.DataFrame:
    """Synthetic data of ``participants x trials`` made by tiling the seed data.

    New participant ``j`` replays seed participant ``j mod 20``'s trial sequence,
    repeated (or cut) to ``trials`` trials, under a new id ``j`` and ``trial_id``
    ``0..trials-1``. Rows are sorted by participant then trial, a balanced panel (what
    HSSM's RLSSM requires).
    """
    if participants < 1 or trials < 1:
        raise SystemExit("--participants and --trials must be positive")
    groups = [g.sort_values("trial_id") for _, g in seed.groupby("participant_id", sort=True)]
    frames = []
    for j in range(participants):
        src = groups[j % len(groups)]
        reps = -(-trials // len(src))
        block = pd.concat([src] * reps, ignore_index=True).iloc[:trials].copy()
        block["participant_id"] = j
        block["trial_id"] = np.arange(trials)
        frames.append(block)
    return pd.concat(frames, ignore_index=True)


def hssm_frame(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` as HSSM's preset wants it: responses coded -1/+1 (0 -> -1, 1 -> +1).

    The preset's choices are ``(-1, 1)`` and its learning rule maps -1 to option 0 and
    +1 to option 1 (``response_to_choice``); rlssm takes the 0/1 data as it is
    (``choices=(0, 1)``, option 1 = upper boundary).
    """
    out = data.copy()
    out["response"] = np.where(out["response"].to_numpy() == 1, 1.0, -1.0)
    return out


_HF_TMP: str | None = None


def offline_hssm_lan(onnx_file: Path) -> str:
    """Let HSSM find ``angle.onnx`` without a network: a throw-away Hugging Face cache.

    HSSM 0.5 resolves the angle LAN with ``hf_hub_download("franklab/HSSM",
    "angle.onnx")``; there is no argument to pass a path to a preset. This makes a
    temporary cache in the hub's layout (``models--franklab--HSSM/refs/main`` ->
    ``snapshots/<rev>/angle.onnx``, a symlink to ``onnx_file``), points
    ``HF_HUB_CACHE`` at it and sets ``HF_HUB_OFFLINE=1``. Nothing is written to the
    repository or to the user's cache; the folder is removed at exit.

    Must run before ``huggingface_hub`` is imported (it reads these variables once).
    """
    global _HF_TMP
    if _HF_TMP is not None:
        return _HF_TMP
    import sys

    if "huggingface_hub" in sys.modules:
        raise RuntimeError("offline_hssm_lan must run before huggingface_hub is imported")
    tmp = tempfile.mkdtemp(prefix="rlssm_bench_hf_")
    atexit.register(shutil.rmtree, tmp, True)
    revision = "0" * 40
    repo = Path(tmp) / "models--franklab--HSSM"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    os.symlink(Path(onnx_file).resolve(), snapshot / "angle.onnx")
    os.environ["HF_HUB_CACHE"] = tmp
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    _HF_TMP = tmp
    return tmp


def seed_priors():
    """Intercept priors of the seed tutorial's hierarchical model (as hssm.Prior).

    TruncatedNormal intercepts (sigma left at PyMC's default, 1, as in the tutorial):
    rl_alpha and rl_alpha_neg mu 0.3 in (0.01, 1); scaler mu 1.5 in (0.1, 5); a mu 1.0
    in (0.3, 2.5); z mu 0.2 in (0.1, 0.9); t mu 0.2 in (0.01, 1), initval 0.1; theta
    mu 0.3 in (0, 1.2).
    """
    import hssm

    tn = lambda **kw: hssm.Prior("TruncatedNormal", **kw)  # noqa: E731
    return {
        "rl_alpha": tn(mu=0.3, lower=0.01, upper=1.0),
        "rl_alpha_neg": tn(mu=0.3, lower=0.01, upper=1.0),
        "scaler": tn(mu=1.5, lower=0.1, upper=5.0),
        "a": tn(mu=1.0, lower=0.3, upper=2.5),
        "z": tn(mu=0.2, lower=0.1, upper=0.9),
        "t": tn(mu=0.2, lower=0.01, upper=1.0, initval=0.1),
        "theta": tn(mu=0.3, lower=0.0, upper=1.2),
    }


def seed_include():
    """``include=`` of the seed model: ``p ~ 1 + (1|participant_id)`` for all 7 parameters."""
    import hssm

    return [
        hssm.Param(name, formula=f"{name} ~ 1 + (1|participant_id)", prior={"Intercept": prior})
        for name, prior in seed_priors().items()
    ]


def machine_note() -> str:
    """One line about the machine: JAX backend, devices, CPU count, load."""
    import jax

    try:
        load = ", load avg %.1f" % os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = ""
    devs = ", ".join(str(d) for d in jax.devices())
    return f"jax {jax.__version__} backend={jax.default_backend()} devices=[{devs}] cpus={os.cpu_count()}{load}"


class Report:
    """Collects markdown; prints as it goes."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self("| " + " | ".join(header) + " |")
        self("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self("| " + " | ".join(row) + " |")
        self()


def interleaved_times(timed: dict, warmup: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each ``timed[key] = (fn, params, x64)``: ``warmup`` untimed calls
    each, then ``repeats`` rounds that call every function once, in an order rotated each
    round (so slow phases of a loaded machine fall on all of them alike)."""
    import time

    import jax

    keys = list(timed)
    for key in keys:
        fn, params, x64 = timed[key]
        with jax.enable_x64(x64):
            for _ in range(warmup):
                jax.block_until_ready(fn(params))
    times: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(repeats):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            fn, params, x64 = timed[key]
            with jax.enable_x64(x64):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(params))
                times[key].append(time.perf_counter() - t0)
    return times


def medians_ms(times: dict[str, list[float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Median and interquartile range of each key's times, in milliseconds."""
    import statistics

    med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    iqr = {}
    for k, v in times.items():
        q = statistics.quantiles([1e3 * x for x in v], n=4)
        iqr[k] = q[2] - q[0]
    return med, iqr
