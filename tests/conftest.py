"""Shared fixtures: tiny synthetic datasets, and the real data directory when configured."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe in one process, or Python
# segfaults; page tests import it, so the test session imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import os
from pathlib import Path

import numpy as np
import pytest

# Quiet TensorFlow's C++ start-up logging in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$FER_DATA_DIR``; data tests skip when it is not configured."""
    value = os.environ.get("FER_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("FER_DATA_DIR is not set to the shared data folder")
    return Path(value)


def synthetic_fer2013_csv(n_per_split: int = 4, seed: int = 0) -> str:
    """A small, valid fer2013.csv text: every class and split present."""
    rng = np.random.default_rng(seed)
    lines = ["emotion,pixels,Usage"]
    for split in ("Training", "PublicTest", "PrivateTest"):
        for index in range(n_per_split):
            pixels = rng.integers(0, 256, 48 * 48)
            lines.append(f"{index % 7},{' '.join(map(str, pixels))},{split}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def fer2013_csv(tmp_path: Path) -> Path:
    path = tmp_path / "fer2013.csv"
    path.write_text(synthetic_fer2013_csv())
    return path
