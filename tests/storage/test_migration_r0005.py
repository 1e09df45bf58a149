"""A database of the previous schema (r0004) upgrades to r0005 (how bright each recorded face
was) in place, in each backend: every frame kept, its brightness unknown rather than fine, and
new frames stored with theirs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from fer.storage.migrations import head_revision
from tests.sessions.helpers import CLASSES, face_result
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION, database_at, execute

AT = datetime(2025, 1, 4, 9, 0, tzinfo=UTC).isoformat()


def make_r0004_database(location) -> None:
    """One consent, one open session and three frames, as revision r0004 stored them."""
    probs = np.array([0.2, 0.7, 0.1], "<f4").tobytes()
    with database_at(location, "r0004") as connection:
        execute(connection, "INSERT INTO consents (given_by, given_at, statement) VALUES "
                "('Dana', :t, 'ok')", t=AT)
        execute(connection, "INSERT INTO sessions (consent_id, consent_by, consent_given_at, "
                "started_at, model, classes, source, notes) VALUES (1, 'Dana', :t, :t, "
                "'ferplus', :c, 'live', '')", t=AT, c=json.dumps(CLASSES))
        for index in range(3):
            execute(connection, "INSERT INTO frames (session_id, t_seconds, track_id, x, y, w, h, "
                    "probs, smoothed, label, confidence) VALUES (1, :t, 0, 1, 2, 3, 4, :p, :p, "
                    "'happy', 0.7)", t=index / 10, p=probs)


@pytest.fixture
def r0004_location(database_location):
    make_r0004_database(database_location)
    yield database_location
    forget_engine(database_location)


def test_an_r0004_database_keeps_its_frames_with_their_brightness_unknown(r0004_location):
    store = SessionStore(r0004_location)
    assert head_revision() == HEAD  # later ones: test_migration_r0006 onwards
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            (HEAD,)
        ]
        if store.dialect == "sqlite":
            assert connection.exec_driver_sql("PRAGMA user_version").scalar() == HEAD_USER_VERSION
    frame = store.load_frames(1)
    assert frame["t_seconds"].tolist() == [0.0, 0.1, 0.2]
    assert frame["prob_happy"].tolist() == [pytest.approx(0.7)] * 3
    assert frame["clipped_share"].isna().all()
    assert frame["overexposed"].isna().all()  # unknown, never "not over-exposed"
    result = face_result()
    result.clipped_share = 0.5
    store.add_frames(1, [FrameRecord.from_result(0.3, result)])
    after = store.load_frames(1)
    assert after["clipped_share"].tolist()[3] == 0.5
    assert after["overexposed"].tolist()[3] is True
    assert pd.isna(after["overexposed"][0])
