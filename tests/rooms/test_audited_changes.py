"""A room's changes (created, consented, withdrawn, ended) write their audit entry in the
transaction of the change: an entry that cannot be written undoes the change."""

from __future__ import annotations

import pytest

from fer.accounts import AccountStore
from fer.rooms import RoomStore
from fer.rooms.statement import consent_statement
from fer.sessions.store import SessionStore
from tests.sessions.helpers import CLASSES, audit_entries, count

PASSWORD = "correct horse battery"


@pytest.fixture
def location(database_location, cheap_password_hashes):
    return database_location


@pytest.fixture
def anna(location):
    return AccountStore(location).add_user("anna", "clinician", PASSWORD)


def test_a_room_is_created_with_its_audit_entry_or_not_at_all(location, anna):
    store = RoomStore(location)
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.create_room(anna, "C-17", actor="")
    assert count(store, "rooms") == 0
    room = store.create_room(anna, "C-17", actor="anna").room
    assert audit_entries(location) == [("anna", "create_room", f"room {room.id}", "")]


def test_the_clients_consent_withdrawal_and_end_are_audited_with_them(location, anna):
    store = RoomStore(location)
    room = store.create_room(anna, "C-17").room
    client = f"client of room {room.id}"
    statement = consent_statement(30)
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.record_client_consent(room.id, "Dana", statement, actor="")
    assert store.get_room(room.id).state == "waiting" and count(store, "consents") == 0
    room, consent = store.record_client_consent(room.id, "Dana", statement, actor=client)
    sessions = SessionStore(location)
    sessions.create_session(consent.id, "ferplus", CLASSES, "live")
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.withdraw_client_consent(room.id, actor="")
    assert count(store, "sessions") == 1 and store.get_room(room.id).state == "consented"
    assert store.withdraw_client_consent(room.id, actor=client) == 1
    assert count(store, "sessions") == 0
    assert audit_entries(location) == [
        (client, "record_consent", f"consent {consent.id}", ""),
        (client, "withdraw_consent", f"consent {consent.id}", "deleted 1 session(s)"),
    ]


def test_ending_a_room_is_audited_or_not_done(location, anna):
    store = RoomStore(location)
    room = store.create_room(anna, "C-17").room
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.end_room(room.id, actor="")
    assert store.get_room(room.id).state == "waiting"
    assert store.end_room(room.id, actor="anna").state == "ended"
    assert audit_entries(location) == [("anna", "end_room", f"room {room.id}", "")]
