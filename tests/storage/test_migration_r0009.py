"""r0009: an upgraded SQLite database refuses REPLACE onto a protected row, as a new one does
(tests/storage/test_triggers.py); PostgreSQL only moves to the new revision."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from fer.storage.migrations import head_revision
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION, database_at, execute, rows

GIVEN = datetime(2025, 1, 8, tzinfo=UTC).isoformat()
WITHDRAWN = datetime(2025, 1, 9, tzinfo=UTC).isoformat()


def test_an_r0008_database_keeps_its_withdrawal_from_a_replace(database_location):
    with database_at(database_location, "r0008") as connection:
        execute(connection, "INSERT INTO consents (id, given_by, given_at, statement, "
                "withdrawn_at) VALUES (1, 'Dana', :given, 'ok', :withdrawn)",
                given=GIVEN, withdrawn=WITHDRAWN)
    try:
        store = SessionStore(database_location)
        assert head_revision() == HEAD
        assert rows(database_location, "SELECT version_num FROM alembic_version") == [(HEAD,)]
        if store.dialect == "sqlite":
            assert rows(database_location, "PRAGMA user_version") == [(HEAD_USER_VERSION,)]
            connection = sqlite3.connect(store.path)
            try:
                with pytest.raises(sqlite3.IntegrityError, match="never replaced"):
                    connection.execute(
                        "REPLACE INTO consents (id, given_by, given_at, statement) "
                        "VALUES (1, 'Dana', ?, 'ok')", (GIVEN,)
                    )
            finally:
                connection.close()
        assert store.get_consent(1).withdrawn_at == datetime.fromisoformat(WITHDRAWN)
    finally:
        forget_engine(database_location)
