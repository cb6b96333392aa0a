"""Shared fixtures.

Test data (the seed tutorial's data and the published LAN weights) is read from the
directory in ``RLSSM_TEST_DATA`` (``.ci/run`` sets it to ``../shared/data``); it is never
copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

# Strict dtype promotion: an accidental float32/float64 mix is an error in tests.
jax.config.update("jax_numpy_dtype_promotion", "strict")


def _data_dir() -> Path:
    env = os.environ.get("RLSSM_TEST_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        raise RuntimeError(
            f"Test data directory {path} not found: set RLSSM_TEST_DATA to the folder holding "
            "angle.onnx, ddm.onnx and rldm_data.npy"
        )
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with ``angle.onnx``, ``ddm.onnx`` and ``rldm_data.npy``."""
    return _data_dir()


@pytest.fixture(scope="session")
def angle_onnx(data_dir: Path) -> Path:
    """Path of the published angle LAN."""
    return data_dir / "angle.onnx"


@pytest.fixture(scope="session")
def seed_file(data_dir: Path) -> dict:
    """The seed tutorial's pickled dict (data, meta_data, true parameters)."""
    return np.load(data_dir / "rldm_data.npy", allow_pickle=True).item()


@pytest.fixture()
def seed_data(seed_file: dict) -> pd.DataFrame:
    """The seed data with ``trial`` renamed ``trial_id``, as the seed tutorial does."""
    return seed_file["data"].rename(columns={"trial": "trial_id"}).copy()
