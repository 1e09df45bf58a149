"""A database of the previous schema (r0003) upgrades to r0004 (session rooms) in place, in each
backend: every row kept, the rooms table empty and enforcing its rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool

from fer.accounts import AccountStore
from fer.rooms import RoomStore
from fer.storage.database import database_url, forget_engine
from fer.storage.migrations import head_revision
from tests.storage.migration_support import HEAD, HEAD_USER_VERSION, database_at, execute, rows

AT = datetime(2025, 1, 3, 9, 0, tzinfo=UTC).isoformat()


def make_r0003_database(location) -> None:
    with database_at(location, "r0003") as connection:
        execute(connection, "INSERT INTO users (name, role, password_hash, created_at) "
                "VALUES ('dr_a', 'clinician', 'h', :t)", t=AT)
        execute(connection, "INSERT INTO consents (given_by, given_at, statement, client_code) "
                "VALUES ('Kim', :t, 'ok', 'C-1')", t=AT)


@pytest.fixture
def r0003_location(database_location):
    make_r0003_database(database_location)
    yield database_location
    forget_engine(database_location)


def test_an_r0003_database_gains_an_empty_rooms_table_and_keeps_its_rows(
    r0003_location, cheap_password_hashes
):
    store = RoomStore(r0003_location)
    assert head_revision() == HEAD  # later ones: test_migration_r0005 onwards
    assert rows(r0003_location, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert rows(r0003_location, "SELECT name, role FROM users") == [("dr_a", "clinician")]
    assert rows(r0003_location, "SELECT given_by, client_code FROM consents") == [("Kim", "C-1")]
    assert rows(r0003_location, "SELECT count(*) FROM rooms") == [(0,)]
    if store.engine.dialect.name == "sqlite":
        assert rows(r0003_location, "PRAGMA user_version") == [(HEAD_USER_VERSION,)]
    owner = AccountStore(r0003_location).get_user_by_name("dr_a")
    room = store.create_room(owner, "C-1").room
    room, consent = store.record_client_consent(room.id, "Kim", "statement")
    assert room.consent_id == consent.id


@pytest.mark.parametrize(
    "values",
    [
        "'k1', :digest, :digest, 1, 'C-1', :t, :t, 'waiting', NULL",  # expires when created
        "'k2', 'short', :digest, 1, 'C-1', :t, :later, 'waiting', NULL",  # not a digest
        "'k3', :digest, :digest, 1, 'C-1', :t, :later, 'open', NULL",  # unknown state
        "'k4', :digest, :digest, 1, 'C-1', :t, :later, 'consented', NULL",  # consent missing
        "'k5', :digest, :digest, 1, ' ', :t, :later, 'waiting', NULL",  # empty client code
    ],
)
def test_the_rooms_table_refuses_malformed_rows(r0003_location, values):
    RoomStore(r0003_location)
    engine = sqlalchemy.create_engine(database_url(r0003_location), poolclass=NullPool)
    try:
        with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO rooms (room_key, token_hash, code_hash, owner_id, client_code, "
                    f"created_at, expires_at, state, consent_id) VALUES ({values})"
                ),
                {"digest": "a" * 64, "t": AT, "later": "2025-01-03T11:00:00+00:00"},
            )
    finally:
        engine.dispose()
