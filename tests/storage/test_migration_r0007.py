"""r0007: every database gets a random installation id of its own, once, in each backend; a
database of an earlier revision gets one when it upgrades, and no writer can change it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from fer.sessions.store import SessionStore
from fer.storage.database import forget_engine
from fer.storage.migrations import head_revision
from tests.sessions.helpers import CLASSES
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION, database_at, execute, rows
from tests.storage.test_triggers import PlainConnection

AT = datetime(2025, 1, 6, 9, 0, tzinfo=UTC).isoformat()


@pytest.fixture
def store(database_location):
    yield SessionStore(database_location)
    forget_engine(database_location)


@pytest.fixture
def r0006_location(database_location):
    """One consent and one session, as revision r0006 stored them."""
    with database_at(database_location, "r0006") as connection:
        execute(connection, "INSERT INTO consents (given_by, given_at, statement, client_code) "
                "VALUES ('Dana', :t, 'ok', 'C-17')", t=AT)
        execute(connection, "INSERT INTO sessions (consent_id, consent_by, consent_given_at, "
                "started_at, model, classes, source, notes) VALUES (1, 'Dana', :t, :t, "
                "'ferplus', :c, 'video', '')", t=AT, c=json.dumps(CLASSES))
    yield database_location
    forget_engine(database_location)


def test_a_new_database_gets_a_random_id_that_survives_reopening(store, database_location):
    installation_id = store.installation_id()
    assert installation_id.version == 4
    forget_engine(database_location)
    assert SessionStore(database_location).installation_id() == installation_id


def test_two_databases_get_different_ids(tmp_path):
    first = SessionStore(tmp_path / "clinic-a" / "sessions.db")
    second = SessionStore(tmp_path / "clinic-b" / "sessions.db")
    assert first.installation_id() != second.installation_id()


def test_an_r0006_database_gets_an_id_when_it_upgrades_and_keeps_its_rows(r0006_location):
    assert rows(r0006_location, "SELECT version_num FROM alembic_version") == [("r0006",)]
    store = SessionStore(r0006_location)
    assert head_revision() == HEAD
    assert rows(r0006_location, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    if store.dialect == "sqlite":
        assert rows(r0006_location, "PRAGMA user_version") == [(HEAD_USER_VERSION,)]
    (only_row, stored), = rows(r0006_location, "SELECT only_row, id FROM installation")
    assert only_row == 1 and uuid.UUID(stored) == store.installation_id()
    assert store.get_consent(1).client_code == "C-17"
    assert [info.id for info in store.list_sessions()] == [1]
    forget_engine(r0006_location)
    assert SessionStore(r0006_location).installation_id() == uuid.UUID(stored)


def test_no_writer_can_change_remove_or_add_an_installation_id(store, database_location):
    writer = PlainConnection(store)
    with pytest.raises(writer.refused, match="kept for the life of the database"):
        writer.execute("UPDATE installation SET id = :id", id=str(uuid.uuid4()))
    with pytest.raises(writer.refused, match="kept for the life of the database"):
        writer.execute("DELETE FROM installation")
    writer.refuses("INSERT INTO installation (only_row, id) VALUES (2, :id)", id=str(uuid.uuid4()))
    writer.refuses("INSERT INTO installation (only_row, id) VALUES (1, :id)", id=str(uuid.uuid4()))
    if store.dialect == "postgresql":
        with pytest.raises(writer.refused, match="kept for the life of the database"):
            writer.execute("TRUNCATE installation")
    assert rows(database_location, "SELECT id FROM installation") == [
        (str(store.installation_id()),)
    ]
