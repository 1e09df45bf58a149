"""A database made by the previous schema (r0002: accounts, shares, audit log) upgrades to r0003
(per-frame signals, markers, API tokens) in place, in each backend, and nothing is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool

from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from fer.storage.database import database_url, forget_engine
from fer.storage.migrations import head_revision
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION, database_at, execute

START = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
CLASSES = ["neutral", "happy", "sad"]
# Every column the r0002 schema had, per table, in a stable order.
R0002_COLUMNS = {
    "consents": "id, given_by, given_at, statement, withdrawn_at, client_code, erased_at",
    "users": "id, name, role, password_hash, created_at, disabled_at, failed_logins, "
    "locked_until",
    "sessions": "id, consent_id, consent_by, consent_given_at, started_at, ended_at, model, "
    "classes, source, notes, owner_id",
    "frames": "id, session_id, t_seconds, track_id, x, y, w, h, probs, smoothed, label, "
    "confidence, landmarks, blendshapes",
    "session_shares": "session_id, user_id, shared_at",
    "audit_log": "id, at, actor, action, target, detail",
}


def iso(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def make_r0002_database(location) -> None:
    """A database migrated to r0002 only, holding a row of every kind that schema knew."""
    with database_at(location, "r0002") as connection:

        def run(sql: str, **params) -> None:
            execute(connection, sql, **params)

        run(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES "
            "('dr_a', 'clinician', 'h1', :t), ('dr_b', 'clinician', 'h2', :t), "
            "('root', 'admin', 'h3', :t)",
            t=iso(0),
        )
        run(
            "INSERT INTO consents (given_by, given_at, statement, client_code) VALUES "
            "('Dana Client', :t, 'I agree.', 'C-17'), ('Kim', :t, 'I agree.', NULL)",
            t=iso(1),
        )
        plan = ((1, 2, 12, 1), (1, 20, None, 1), (2, 30, 31, 2))
        for consent_id, started, ended, owner in plan:
            run(
                "INSERT INTO sessions (consent_id, consent_by, consent_given_at, started_at, "
                "ended_at, model, classes, source, notes, owner_id) VALUES (:c, 'Dana', "
                ":g, :s, NULL, 'ferplus', :classes, 'live', 'n', :o)",
                c=consent_id, g=iso(1), s=iso(started), classes=json.dumps(CLASSES), o=owner,
            )
            rng = np.random.default_rng(consent_id * 100 + started)
            for index in range(5):
                probs = rng.dirichlet(np.ones(3)).astype("<f4").tobytes()
                run(
                    "INSERT INTO frames (session_id, t_seconds, track_id, x, y, w, h, probs, "
                    "smoothed, label, confidence, blendshapes) VALUES ((SELECT max(id) FROM "
                    "sessions), :t, 0, 1, 2, 3, 4, :p, :p, 'happy', 0.5, :b)",
                    t=index / 10, p=probs, b=json.dumps({"jawOpen": index / 10}),
                )
            if ended is not None:
                run("UPDATE sessions SET ended_at = :e WHERE id = (SELECT max(id) FROM "
                    "sessions)", e=iso(ended))
        run("INSERT INTO session_shares (session_id, user_id, shared_at) VALUES (1, 2, :t)",
            t=iso(40))
        run("INSERT INTO audit_log (at, actor, action, target) VALUES (:t, 'root', "
            "'share_session', 'session 1')", t=iso(40))


def dump(location) -> dict[str, list[tuple]]:
    engine = sqlalchemy.create_engine(database_url(location), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in connection.exec_driver_sql(
                        f"SELECT {columns} FROM {table} ORDER BY {columns.split(',')[0]}, "
                        f"{columns.split(',')[1]}"
                    )
                ]
                for table, columns in R0002_COLUMNS.items()
            }
    finally:
        engine.dispose()


@pytest.fixture
def r0002_location(database_location):
    make_r0002_database(database_location)
    yield database_location
    forget_engine(database_location)


def test_an_r0002_database_upgrades_in_place_with_every_row_kept(r0002_location):
    before = dump(r0002_location)
    assert [len(rows) for rows in before.values()] == [2, 3, 3, 15, 1, 1]
    store = SessionStore(r0002_location)
    assert dump(r0002_location) == before
    with store.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        signals = connection.exec_driver_sql(
            "SELECT count(*) FROM frames WHERE valence IS NULL AND arousal IS NULL AND "
            "action_units IS NULL AND au_asymmetry IS NULL AND head_pose IS NULL"
        ).scalar()
        if store.dialect == "sqlite":
            assert connection.exec_driver_sql("PRAGMA user_version").scalar() == HEAD_USER_VERSION
    # Opening migrates on to the head (HEAD).
    assert version == head_revision() == HEAD
    assert signals == 15
    sessions = {info.id: info for info in store.list_sessions()}
    assert sessions[1].client_code == "C-17" and sessions[1].owner_id == 1
    assert [info.id for info in store.list_sessions_of_client("C-17")] == [1, 2]
    frame = store.load_frames(1)
    assert len(frame) == 5 and frame[["valence", "AU4", "roll"]].isna().all().all()


def test_an_upgraded_r0002_database_records_signals_and_markers(r0002_location):
    store = SessionStore(r0002_location)
    base = FrameRecord(
        t_seconds=1.0, track_id=0, bbox=(1, 2, 3, 4), probs=np.array([0.2, 0.7, 0.1]),
        smoothed=np.array([0.2, 0.7, 0.1]), label="happy", confidence=0.7,
        valence=0.5, arousal=0.25, action_units={"AU12": 0.75}, au_asymmetry={"AU12": 0.125},
        head_pose={"yaw": 10.0, "pitch": -5.0, "roll": 1.5},
    )
    assert store.add_frames(2, [base]) == 1  # session 2 was left open
    marker = store.add_marker(2, 0.5, "looked away")
    frame = store.load_frames(2)
    assert frame["valence"].tolist()[-1] == 0.5 and frame["AU12"].tolist()[-1] == 0.75
    assert frame["asym_AU12"].tolist()[-1] == 0.125 and frame["yaw"].tolist()[-1] == 10.0
    markers = store.list_markers(2)
    assert markers["id"].tolist() == [marker] and markers["note"].tolist() == ["looked away"]
    store.delete_session(2)
    assert store.list_markers(1).empty
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM markers").scalar() == 0


def test_opening_an_upgraded_r0002_database_again_changes_nothing(r0002_location):
    SessionStore(r0002_location)
    before = dump(r0002_location)
    forget_engine(r0002_location)
    SessionStore(r0002_location)
    assert dump(r0002_location) == before
