"""A database made by the store before SQLAlchemy upgrades in place, and nothing is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from tests.storage.legacy_v1 import SCHEMA_V1, SCHEMA_VERSION
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
ORIGINAL_COLUMNS = {
    "consents": "id, given_by, given_at, statement, withdrawn_at",
    "sessions": "id, consent_id, consent_by, consent_given_at, started_at, ended_at, model, "
    "classes, source, notes",
    "frames": "id, session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, label, "
    "confidence, landmarks, blendshapes",
}


def make_legacy_database(path) -> None:
    """A file as today's (pre-SQLAlchemy) code left it: WAL, user_version 1, mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(SCHEMA_V1)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    iso = lambda offset: (START + timedelta(minutes=offset)).isoformat()  # noqa: E731
    connection.executemany(
        "INSERT INTO consents (given_by, given_at, statement, withdrawn_at) VALUES (?, ?, ?, ?)",
        [
            ("Dana Client", iso(0), "I agree.", None),
            ("Kim Withdrawn", iso(1), "I agree too.", iso(50)),
        ],
    )
    classes = json.dumps(["neutral", "happy", "sad"])
    connection.executemany(
        "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, ended_at, "
        "model, classes, source, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "Dana Client", iso(0), iso(2), iso(12), "ferplus", classes, "live", "intake"),
            (1, "Dana Client", iso(0), iso(20), None, "ferplus", classes, "video", ""),
            (2, "Kim Withdrawn", iso(1), iso(30), iso(50), "ferplus", classes, "image", "n"),
        ],
    )
    rng = np.random.default_rng(0)
    rows = []
    for session_id, n_rows in ((1, 40), (2, 7), (3, 1)):
        for index in range(n_rows):
            probs = rng.dirichlet(np.ones(3)).astype("<f4")
            landmarks = rng.random((478, 2)).astype("<f4").tobytes() if index % 2 else None
            blendshapes = json.dumps({"jawOpen": float(index) / 10}) if index % 3 else None
            rows.append((
                session_id, index / 30, index % 2, 1.5, 2.5, 30.0, 40.0, probs.tobytes(),
                probs.tobytes(), "happy", float(probs.max()), landmarks, blendshapes,
            ))
    connection.executemany(
        "INSERT INTO frames (session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, "
        "label, confidence, landmarks, blendshapes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        rows,
    )
    connection.commit()
    connection.close()
    os.chmod(path, 0o644)


def dump(path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as connection:
        return {
            table: connection.execute(f"SELECT {columns} FROM {table} ORDER BY id").fetchall()
            for table, columns in ORIGINAL_COLUMNS.items()
        }


@pytest.fixture
def legacy_path(tmp_path):
    path = tmp_path / "old" / "sessions.db"
    make_legacy_database(path)
    yield path
    forget_engine(path)


def test_a_legacy_file_upgrades_in_place_with_every_row_kept(legacy_path):
    before = dump(legacy_path)
    assert [len(rows) for rows in before.values()] == [2, 3, 48]
    SessionStore(legacy_path)
    assert dump(legacy_path) == before
    with sqlite3.connect(legacy_path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD,)
        ]
        assert connection.execute("PRAGMA user_version").fetchone() == (HEAD_USER_VERSION,)
        assert connection.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute(
            "SELECT count(*) FROM sessions WHERE owner_id IS NOT NULL"
        ).fetchone() == (0,)
        assert connection.execute(
            "SELECT count(*) FROM frames WHERE valence IS NOT NULL OR arousal IS NOT NULL OR "
            "action_units IS NOT NULL OR au_asymmetry IS NOT NULL OR head_pose IS NOT NULL"
        ).fetchone() == (0,)
        for table in ("markers", "api_tokens"):
            assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    assert stat.S_IMODE(legacy_path.stat().st_mode) == 0o600


def test_the_upgraded_file_reads_as_before_through_the_store(legacy_path):
    before = dump(legacy_path)
    store = SessionStore(legacy_path)
    sessions = {info.id: info for info in store.list_sessions()}
    assert sorted(sessions) == [1, 2, 3]
    first = sessions[1]
    assert (first.consent_by, first.notes, first.n_frames) == ("Dana Client", "intake", 40)
    assert first.started_at == START + timedelta(minutes=2)
    assert first.ended_at == START + timedelta(minutes=12)
    assert first.owner_id is None and first.consent_withdrawn_at is None
    assert sessions[2].ended_at is None
    assert sessions[3].consent_withdrawn_at == START + timedelta(minutes=50)
    frame = store.load_frames(1, include_extras=True)
    stored = before["frames"][:40]
    np.testing.assert_allclose(frame["t_seconds"], [row[2] for row in stored])
    np.testing.assert_allclose(
        frame[["prob_neutral", "prob_happy", "prob_sad"]].to_numpy(),
        [np.frombuffer(row[8], "<f4") for row in stored],
        atol=1e-6,
    )
    for value, row in zip(frame["landmarks"], stored, strict=True):
        if row[12] is None:
            assert value is None
        else:
            np.testing.assert_array_equal(value, np.frombuffer(row[12], "<f4").reshape(-1, 2))
    assert frame["blendshapes"].tolist() == [
        None if row[13] is None else json.loads(row[13]) for row in stored
    ]
    # Frames from before the signals were recorded read as having none.
    assert {"valence", "arousal", "AU12", "AU43", "yaw", "asym_AU12"} <= set(frame.columns)
    assert frame[["valence", "AU12", "yaw", "asym_AU12"]].isna().all().all()
    assert store.list_markers(1).empty
    consent = store.get_consent(2)
    assert consent.withdrawn_at == START + timedelta(minutes=50)
    assert consent.client_code is None and consent.erased_at is None


def test_the_upgraded_file_takes_new_writes_and_enforces_the_new_rules(legacy_path):
    store = SessionStore(legacy_path)
    store.close_abandoned_sessions()
    assert store.get_session(2).ended_at == START + timedelta(minutes=20, seconds=6 / 30)
    consent = store.record_consent("New Person")
    session_id = store.create_session(consent.id, "ferplus", ["happy"], "live")
    assert session_id == 4
    store.add_marker(session_id, 0.0, "start")
    assert store.list_markers(session_id)["note"].tolist() == ["start"]
    with sqlite3.connect(legacy_path) as connection, pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, "
            "model, classes, source) VALUES (2, 'x', 'now', 'now', 'm', '[]', 'live')"
        )


def test_opening_again_changes_nothing(legacy_path):
    SessionStore(legacy_path)
    before = dump(legacy_path)
    forget_engine(legacy_path)
    SessionStore(legacy_path)
    assert dump(legacy_path) == before


def test_a_database_from_newer_software_is_refused(legacy_path):
    SessionStore(legacy_path)
    forget_engine(legacy_path)
    with sqlite3.connect(legacy_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(ValueError, match="newer software"):
        SessionStore(legacy_path)


def test_a_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, what TEXT)")
    with pytest.raises(ValueError, match="did not make"):
        SessionStore(path)
