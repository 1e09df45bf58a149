"""r0006: a session id is never given twice, in each backend, also in a database made by an
earlier revision; on SQLite the highest deleted id is kept by a trigger the store numbers past."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from tests.sessions.helpers import CLASSES, record
from tests.storage.migration_support import database_at, execute, rows

AT = datetime(2025, 1, 5, 9, 0, tzinfo=UTC).isoformat()


@pytest.fixture
def r0005_location(database_location):
    """One consent and three sessions (ids 1-3), as revision r0005 stored them."""
    with database_at(database_location, "r0005") as connection:
        execute(connection, "INSERT INTO consents (given_by, given_at, statement) VALUES "
                "('Dana', :t, 'ok')", t=AT)
        for _ in range(3):
            execute(connection, "INSERT INTO sessions (consent_id, consent_by, consent_given_at, "
                    "started_at, model, classes, source, notes) VALUES (1, 'Dana', :t, :t, "
                    "'ferplus', :c, 'video', '')", t=AT, c=json.dumps(CLASSES))
    yield database_location
    forget_engine(database_location)


def test_the_newest_session_s_id_is_not_given_again_after_the_upgrade(r0005_location):
    store = SessionStore(r0005_location)
    assert [info.id for info in store.list_sessions()] == [3, 2, 1]
    store.delete_session(3)
    consent = store.record_consent("Eli")
    fourth = store.create_session(consent.id, "m", CLASSES, "live", frames=[record()])
    assert fourth == 4
    store.delete_session(fourth)
    store.delete_session(2)  # an older one: the highest deleted stays 4
    fifth = store.create_session(consent.id, "m", CLASSES, "live", frames=[record()])
    assert fifth == 5
    assert [info.id for info in store.list_sessions()] == [5, 1]
    if store.dialect == "sqlite":
        assert rows(r0005_location, "SELECT only_row, highest FROM session_ids_deleted") == [
            (1, 4)
        ]


def test_the_table_of_deleted_ids_holds_one_row(r0005_location):
    store = SessionStore(r0005_location)
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's identity column needs no table")
    with store.engine.begin() as connection, pytest.raises(Exception, match="CHECK"):
        connection.exec_driver_sql("INSERT INTO session_ids_deleted VALUES (2, 9)")
