"""The SQLite file: private to its owner, and deleted values really leave its bytes."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from tests.sessions.helpers import CLASSES, record

SECRET_NAME = "Zelda Quasimodo-Unique"
SECRET_NOTES = "NOTES-SECRET-4711-mentions the divorce"
KEPT_NOTES = "KEPT-NOTES-0815"


def file_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    return b"".join(
        member.read_bytes()
        for member in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
        if member.exists()
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_is_private_to_its_owner(tmp_path):
    path = tmp_path / "new" / "deeper" / "sessions.db"
    store = SessionStore(path)
    consent = store.record_consent("Dana")
    store.create_session(consent.id, "m", CLASSES, "live", frames=[record()])
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    for member in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if member.exists():
            assert mode(member) & 0o077 == 0


def test_every_folder_made_for_a_new_database_is_private_whatever_the_umask(tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    existing.chmod(0o755)
    path = existing / "new" / "deeper" / "sessions.db"
    previous = os.umask(0)
    try:
        SessionStore(path)
    finally:
        os.umask(previous)
    assert mode(existing / "new") == 0o700 and mode(path.parent) == 0o700
    assert mode(path) == 0o600
    assert mode(existing) == 0o755  # a folder that was there already keeps its mode


def test_an_existing_folder_of_the_user_keeps_its_mode_and_an_old_file_is_tightened(tmp_path):
    folder = tmp_path / "shared-folder"
    folder.mkdir()
    folder.chmod(0o755)
    path = folder / "sessions.db"
    path.touch()
    path.chmod(0o644)
    SessionStore(path)
    assert mode(folder) == 0o755
    assert mode(path) == 0o600


def test_every_connection_deletes_securely(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.fixture
def filled(tmp_path):
    """A store with a session to delete (secret name and notes) and one to keep."""
    path = tmp_path / "sessions.db"
    store = SessionStore(path)
    keep = store.record_consent("Kept Person")
    store.create_session(keep.id, "m", CLASSES, "live", notes=KEPT_NOTES, frames=[record()])
    secret = store.record_consent(SECRET_NAME)
    session_id = store.create_session(
        secret.id, "m", CLASSES, "live", notes=SECRET_NOTES,
        frames=[record(index / 30) for index in range(300)],
    )
    content = file_bytes(path)
    assert SECRET_NAME.encode() in content and SECRET_NOTES.encode() in content
    yield store, secret.id, session_id
    forget_engine(path)


def test_withdrawal_with_deletion_and_erasure_leave_nothing_in_the_file(filled):
    store, consent_id, _ = filled
    assert store.withdraw_consent(consent_id) == 1
    store.erase_consent_name(consent_id)
    content = file_bytes(store.path)
    assert SECRET_NAME.encode() not in content
    assert SECRET_NOTES.encode() not in content
    assert KEPT_NOTES.encode() in content  # the search itself works
    consent = store.get_consent(consent_id)
    assert consent.given_by == f"erased (consent {consent_id})"
    assert consent.given_at is not None and consent.withdrawn_at is not None


def test_deleting_a_session_removes_its_notes_from_the_file(filled):
    store, _, session_id = filled
    size_before = store.path.stat().st_size
    store.delete_session(session_id)
    assert SECRET_NOTES.encode() not in file_bytes(store.path)
    assert store.path.stat().st_size < size_before  # freed pages were handed back
    assert not Path(f"{store.path}-wal").exists() or Path(f"{store.path}-wal").stat().st_size == 0


def test_a_deletion_hands_every_freed_page_back(filled):
    import sqlite3

    store, _, session_id = filled
    store.delete_session(session_id)
    connection = sqlite3.connect(store.path)
    try:
        assert connection.execute("PRAGMA freelist_count").fetchone() == (0,)
    finally:
        connection.close()


def test_a_reader_holding_an_old_snapshot_only_delays_the_erasure(filled, monkeypatch):
    import sqlite3
    import time

    import fer.storage.erasure

    monkeypatch.setattr(fer.storage.erasure, "LOG_RETRY_INTERVAL_S", 0.1)
    store, _, session_id = filled
    wal = Path(f"{store.path}-wal")
    reader = sqlite3.connect(store.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM frames").fetchone()  # holds the snapshot open
    store.delete_session(session_id)  # gives up waiting after a few seconds
    assert wal.stat().st_size > 0  # the log could not be emptied under the reader
    reader.execute("COMMIT")
    reader.close()
    deadline = time.monotonic() + 10
    while wal.exists() and wal.stat().st_size > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not wal.exists() or wal.stat().st_size == 0
    assert SECRET_NOTES.encode() not in file_bytes(store.path)


def test_purged_and_overwritten_values_leave_the_file(filled):
    store, _, session_id = filled
    store.set_notes(session_id, "nothing to see")
    assert SECRET_NOTES.encode() not in file_bytes(store.path)
    later = datetime.now(UTC) + timedelta(days=40)
    assert store.purge_older_than(30, now=later) == 2
    assert KEPT_NOTES.encode() not in file_bytes(store.path)


def test_the_database_file_is_not_readable_by_others_after_writes(filled):
    store, _, _ = filled
    for member in store.path.parent.iterdir():
        if member.name.startswith(store.path.name):
            assert os.stat(member).st_mode & 0o077 == 0, member
