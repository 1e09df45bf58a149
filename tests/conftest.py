"""Shared fixtures: tiny synthetic datasets, and the real data directory when configured."""

from __future__ import annotations

# streamlit_webrtc (aiortc) must be imported before TensorFlow/MediaPipe in one process, or Python
# segfaults; page tests import it, so the test session imports it first.
import streamlit_webrtc  # noqa: F401  # isort: skip

import os
import time
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


@pytest.fixture
def local_zone_ahead_of_utc():
    """The machine's zone: five and a half hours ahead of UTC all year (a POSIX TZ string, so no
    zone database is needed)."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "XYZ-5:30"
    time.tzset()
    yield "+05:30"
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


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


# --- databases for the store suite --------------------------------------------------------------

POSTGRES_URL_ENV = "FER_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """``$FER_TEST_POSTGRES_URL`` (scripts/run_tests.sh starts a throw-away server and sets it)."""
    value = os.environ.get(POSTGRES_URL_ENV)
    if not value:
        pytest.skip(
            f"{POSTGRES_URL_ENV} is not set: PostgreSQL variants need a server "
            "(scripts/run_tests.sh starts a throw-away one)"
        )
    return value


@pytest.fixture
def postgres_location(postgres_url: str):
    """A ``postgresql://`` location whose tables live in a fresh schema, dropped afterwards."""
    import uuid

    import sqlalchemy
    from sqlalchemy.pool import NullPool

    from fer.storage.database import database_url, forget_engine

    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(database_url(postgres_url), poolclass=NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    location = f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    try:
        yield location
    finally:
        forget_engine(location)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_location(request, tmp_path: Path):
    """The session database in each backend: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return tmp_path / "data" / "sessions.db"
    return request.getfixturevalue("postgres_location")


@pytest.fixture
def cheap_password_hashes(monkeypatch):
    """Argon2 with the smallest cost, so account tests stay fast (the algorithm is the same)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        "fer.accounts.users.password_hasher",
        PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
    )
