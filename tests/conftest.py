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


SHARED_VIDEO = "videos/WolfgangLanger_Pexels.mp4"


@pytest.fixture(scope="session")
def video_data_dir(data_dir: Path) -> Path:
    """``$FER_DATA_DIR`` holding the face landmarker and the shared video; skips otherwise."""
    required = (data_dir / "face_landmarker.task", data_dir / SHARED_VIDEO)
    if not all(path.is_file() for path in required):
        pytest.skip(f"face_landmarker.task or {SHARED_VIDEO} missing in {data_dir}")
    return data_dir


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
