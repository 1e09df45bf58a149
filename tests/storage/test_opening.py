"""Opening a database: a read-only look at its schema revision first, the write lock only when
there is something to migrate; several processes may make a new one at once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fer.storage.database
from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from tests.sessions.helpers import CLASSES
from tests.storage.migration_support import HEAD, rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A child imports the store, says so, and opens the database when told to: both children then
# open it together instead of one after the other's import.
OPEN_WHEN_TOLD = """\
import sys
import time
from fer.sessions.store import SessionStore
print("ready", flush=True)
sys.stdin.readline()
SessionStore(sys.argv[1])
"""


def test_a_migrated_database_opens_and_lists_while_another_program_writes(
    tmp_path, monkeypatch
):
    path = tmp_path / "sessions.db"
    store = SessionStore(path)
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    forget_engine(path)
    # Shorter than usual, so that waiting for the writer fails the test soon.
    busy_timeout_s = 2.0
    monkeypatch.setattr(fer.storage.database, "BUSY_TIMEOUT_MS", int(busy_timeout_s * 1000))
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE sessions SET notes = 'being written' WHERE id = ?", (session_id,))
        started = time.monotonic()
        listed = SessionStore(path).list_sessions()
        elapsed_s = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        forget_engine(path)
    assert [(info.id, info.notes) for info in listed] == [(session_id, "")]
    assert elapsed_s < busy_timeout_s / 2


def test_processes_opening_a_new_database_together_migrate_it_once(database_location):
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, str(database_location)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("open\n")
            child.stdin.flush()
        outcomes = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outcomes]
    assert rows(database_location, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    store = SessionStore(database_location)
    consent = store.record_consent("Dana Client")
    assert store.create_session(consent.id, "m", CLASSES, "live") > 0


def file_made_by_another_process_first(monkeypatch, path: Path) -> None:
    """``os.open`` of ``path`` finds it made (0600) by another process just before."""
    real_open = os.open

    def open_after_the_other(file, flags, *args, **kwargs):
        if Path(file) == path and flags & os.O_EXCL and not path.exists():
            os.close(real_open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_after_the_other)


def test_a_new_file_made_by_another_process_meanwhile_is_used(tmp_path, monkeypatch):
    path = tmp_path / "sessions.db"
    file_made_by_another_process_first(monkeypatch, path)
    store = SessionStore(path)
    assert store.list_sessions() == []
    assert rows(path, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_a_link_put_where_the_new_file_goes_is_still_refused(tmp_path, monkeypatch):
    path = tmp_path / "sessions.db"
    target = tmp_path / "elsewhere.db"
    real_open = os.open

    def link_first(file, flags, *args, **kwargs):
        if Path(file) == path and flags & os.O_EXCL and not path.is_symlink():
            path.symlink_to(target)
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", link_first)
    with pytest.raises(FileExistsError):
        SessionStore(path)
    assert not target.exists()


def test_a_new_file_answered_locked_without_waiting_is_set_up_once_the_other_is_done(
    tmp_path, monkeypatch
):
    """Two processes setting up one new file: SQLite answers one of them "database is locked"
    at once rather than let both wait for each other, whatever the busy timeout."""
    real = fer.storage.database._set_sqlite_file_modes
    attempts = []

    def locked_once(engine):
        attempts.append(1)
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        real(engine)

    monkeypatch.setattr(fer.storage.database, "_set_sqlite_file_modes", locked_once)
    path = tmp_path / "sessions.db"
    try:
        assert SessionStore(path).list_sessions() == []
    finally:
        forget_engine(path)
    assert len(attempts) == 2


def test_a_file_that_stays_locked_is_named_after_the_busy_timeout(tmp_path, monkeypatch):
    def always_locked(engine):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(fer.storage.database, "_set_sqlite_file_modes", always_locked)
    monkeypatch.setattr(fer.storage.database, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "sessions.db"
    started = time.monotonic()
    with pytest.raises(ValueError, match=f"{path.name} cannot be used: database is locked"):
        SessionStore(path)
    assert time.monotonic() - started < 5
