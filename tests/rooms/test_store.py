"""Rooms in the database: invitations stored as digests, links and codes that open only an open
room, the client's own consent, withdrawal and the end of a room; in each backend."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy

from fer.accounts import AccountStore
from fer.rooms import RoomClosedError, RoomNotFoundError, RoomStore
from fer.rooms.credentials import format_code
from fer.rooms.statement import consent_statement
from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from fer.storage.database import read_connection

PASSWORD = "correct horse battery"
CLASSES = ["neutral", "happy", "sad"]


@pytest.fixture
def location(database_location, cheap_password_hashes):
    return database_location


@pytest.fixture
def accounts(location):
    store = AccountStore(location)
    return {
        name: store.add_user(name, role, PASSWORD)
        for name, role in (("anna", "clinician"), ("bert", "clinician"), ("rita", "reviewer"))
    }


def dump(store: RoomStore) -> str:
    with read_connection(store.engine) as connection:
        rows = connection.execute(sqlalchemy.text("SELECT * FROM rooms")).all()
    return repr(rows)


def test_an_invitation_keeps_only_digests_of_its_link_and_code(location, accounts):
    store = RoomStore(location)
    invitation = store.create_room(accounts["anna"], "C-17")
    stored = dump(store)
    assert invitation.token.secret not in stored and invitation.short_code not in stored
    assert invitation.token.room_key in stored  # the public name, for routing
    room = store.room_by_token(str(invitation.token))
    assert room == invitation.room and room.state == "waiting" and room.client_code == "C-17"
    assert room.expires_at - room.created_at == timedelta(hours=2)
    assert store.room_by_code(format_code(invitation.short_code).lower()) == room


def test_a_wrong_link_or_code_opens_nothing(location, accounts):
    store = RoomStore(location)
    invitation = store.create_room(accounts["anna"], "C-17")
    token = invitation.token
    for text in (f"{token.room_key}.{'A' * 43}", f"otherkey.{token.secret}", "garbage", ""):
        with pytest.raises(RoomNotFoundError):
            store.room_by_token(text)
    wrong_code = "ABCDEFGH" if invitation.short_code != "ABCDEFGH" else "HGFEDCBA"
    for text in (wrong_code, "nonsense"):
        with pytest.raises(RoomNotFoundError):
            store.room_by_code(text)


def test_an_expired_or_ended_room_is_closed_with_its_reason(location, accounts):
    store = RoomStore(location)
    created = datetime.now(UTC) - timedelta(hours=3)
    old = store.create_room(accounts["anna"], "C-1", timedelta(hours=2), now=created)
    with pytest.raises(RoomClosedError) as closed:
        store.room_by_token(str(old.token))
    assert closed.value.reason == "expired"
    with pytest.raises(RoomClosedError):
        store.room_by_code(old.short_code)
    current = store.create_room(accounts["anna"], "C-2", timedelta(minutes=30))
    store.end_room(current.room.id)
    with pytest.raises(RoomClosedError) as closed:
        store.room_by_token(str(current.token))
    assert closed.value.reason == "ended"


def test_lifetime_owner_and_client_code_are_checked(location, accounts):
    store = RoomStore(location)
    with pytest.raises(PermissionError):
        store.create_room(accounts["rita"], "C-1")
    for lifetime in (timedelta(minutes=1), timedelta(days=2)):
        with pytest.raises(ValueError, match="between"):
            store.create_room(accounts["anna"], "C-1", lifetime)
    with pytest.raises(ValueError):
        store.create_room(accounts["anna"], "   ")


def test_only_the_owner_opens_the_room_on_the_clinician_side(location, accounts):
    store = RoomStore(location)
    room = store.create_room(accounts["anna"], "C-17").room
    assert store.owned_room(room.room_key, accounts["anna"]) == room
    with pytest.raises(RoomNotFoundError):
        store.owned_room(room.room_key, accounts["bert"])
    assert store.list_rooms(accounts["anna"]) == [room]
    assert store.list_rooms(accounts["bert"]) == []


def test_the_client_consents_once_as_themselves(location, accounts):
    store = RoomStore(location)
    room = store.create_room(accounts["anna"], "C-17").room
    statement = consent_statement(30)
    before = datetime.now(UTC)
    room, consent = store.record_client_consent(room.id, "Kim", statement)
    assert room.state == "consented" and room.consent_id == consent.id
    stored = SessionStore(location).get_consent(consent.id)
    assert (stored.given_by, stored.client_code, stored.statement) == ("Kim", "C-17", statement)
    assert before <= stored.given_at <= datetime.now(UTC)
    with pytest.raises(RoomClosedError):
        store.record_client_consent(room.id, "Someone else", statement)


def test_an_expired_room_takes_no_consent(location, accounts):
    store = RoomStore(location)
    created = datetime.now(UTC) - timedelta(hours=3)
    room = store.create_room(accounts["anna"], "C-1", now=created).room
    with pytest.raises(RoomClosedError):
        store.record_client_consent(room.id, "Kim", "statement")


def consented_room_with_a_session(location, accounts):
    """(room store, session store, invitation, room, consent, session id): a room whose client
    consented, with one recorded session of one frame."""
    store, sessions = RoomStore(location), SessionStore(location)
    invitation = store.create_room(accounts["anna"], "C-17")
    room, consent = store.record_client_consent(invitation.room.id, "Kim", "statement")
    probs = np.array([0.2, 0.5, 0.3], np.float32)
    session_id = sessions.create_session(
        consent.id, "tiny", CLASSES, "live", owner_id=accounts["anna"].id,
        frames=[FrameRecord(0.5, 0, (0, 0, 48, 48), probs, probs, "happy", 0.5)],
    )
    return store, sessions, invitation, room, consent, session_id


def test_withdrawal_deletes_the_room_s_recordings_and_closes_it(location, accounts):
    store, sessions, invitation, room, consent, session_id = consented_room_with_a_session(
        location, accounts
    )
    assert store.withdraw_client_consent(room.id) == 1
    assert session_id not in {info.id for info in sessions.list_sessions()}
    assert sessions.get_consent(consent.id).withdrawn_at is not None
    assert store.get_room(room.id).state == "withdrawn"
    with pytest.raises(RoomClosedError) as closed:
        store.room_by_token(str(invitation.token))
    assert closed.value.reason == "withdrawn"


def test_a_closed_room_still_leads_its_client_to_withdraw_their_consent(location, accounts):
    """The consent statement promises a withdrawal on the join page at any time: a room's link
    and code find it once the room has ended, while its consent is in force."""
    store, sessions, invitation, room, consent, session_id = consented_room_with_a_session(
        location, accounts
    )
    room = store.end_room(room.id)
    with pytest.raises(RoomClosedError):
        store.room_by_token(str(invitation.token))
    assert store.room_by_token(str(invitation.token), include_closed_with_consent=True) == room
    assert store.room_by_code(invitation.short_code, include_closed_with_consent=True) == room
    assert store.consent_in_force(room)

    assert store.withdraw_client_consent(room.id) == 1
    assert session_id not in {info.id for info in sessions.list_sessions()}
    assert not store.consent_in_force(room)
    assert store.get_room(room.id).state == "ended"
    with pytest.raises(RoomClosedError):
        store.room_by_token(str(invitation.token), include_closed_with_consent=True)
    never_consented = store.create_room(accounts["anna"], "C-18")
    store.end_room(never_consented.room.id)
    assert not store.consent_in_force(never_consented.room)
    with pytest.raises(RoomClosedError):
        store.room_by_code(never_consented.short_code, include_closed_with_consent=True)


def test_a_withdrawal_recorded_in_the_session_store_closes_the_consent_s_room(
    location, accounts
):
    """A clinician records the client's withdrawal on Session replay: the room stayed
    consented, its link still opened the camera and the analysis went on."""
    store, sessions = RoomStore(location), SessionStore(location)
    invitation = store.create_room(accounts["anna"], "C-17")
    room, consent = store.record_client_consent(invitation.room.id, "Kim", "statement")
    sessions.withdraw_consent(consent.id, actor="anna")
    closed = store.get_room(room.id)
    assert closed.state == "withdrawn"
    assert closed.ended_at == sessions.get_consent(consent.id).withdrawn_at
    with pytest.raises(RoomClosedError) as refused:
        store.room_by_token(str(invitation.token), include_closed_with_consent=True)
    assert refused.value.reason == "withdrawn"
    ended = store.create_room(accounts["anna"], "C-18").room
    ended, ended_consent = store.record_client_consent(ended.id, "Kim", "statement")
    ended = store.end_room(ended.id)
    sessions.withdraw_consent(ended_consent.id)
    assert store.get_room(ended.id) == ended  # a room never goes back from ended


def test_a_withdrawal_is_dated_once_the_consent_is_locked(location, accounts, monkeypatch):
    """A clinician may start recording while the client withdraws: the session commits first
    (holding the consent), then the withdrawal. It was dated before it waited for that lock,
    so it came out earlier than the session's start and was refused, the consent standing."""
    from datetime import UTC, datetime, timedelta

    store, sessions = RoomStore(location), SessionStore(location)
    room = store.create_room(accounts["anna"], "C-17").room
    room, consent = store.record_client_consent(room.id, "Kim", "statement")
    sessions.create_session(consent.id, "tiny", CLASSES, "live", owner_id=accounts["anna"].id)
    # The clock as read before waiting for the lock: before the session started.
    early = datetime.now(UTC) - timedelta(seconds=5)
    monkeypatch.setattr("fer.rooms.store.utc_now", lambda: early)
    store.withdraw_client_consent(room.id)
    assert sessions.get_consent(consent.id).withdrawn_at > early
    assert store.get_room(room.id).state == "withdrawn"


def test_the_schema_refuses_taking_a_room_back(location, accounts):
    store = RoomStore(location)
    room = store.create_room(accounts["anna"], "C-17").room
    room, _ = store.record_client_consent(room.id, "Kim", "statement")
    store.end_room(room.id)
    for sql in (
        f"UPDATE rooms SET state = 'consented' WHERE id = {room.id}",
        f"UPDATE rooms SET consent_id = NULL WHERE id = {room.id}",
    ):
        with pytest.raises(sqlalchemy.exc.DatabaseError), store.engine.begin() as connection:
            connection.execute(sqlalchemy.text(sql))
    assert store.get_room(room.id).state == "ended"


@pytest.mark.parametrize("room_key", ["\x00", "abc\x00def", "x" * 500, "<script>", "ключ"])
def test_a_typed_room_key_that_is_none_of_ours_finds_nothing(location, accounts, room_key):
    # PostgreSQL refuses a NUL in text outright: it must never reach the database.
    with pytest.raises(RoomNotFoundError):
        RoomStore(location).owned_room(room_key, accounts["anna"])


def test_a_nul_in_the_client_s_name_is_refused_in_words(location, accounts):
    store = RoomStore(location)
    room = store.create_room(accounts["anna"], "C-17").room
    with pytest.raises(ValueError, match="Your name must not contain a NUL character"):
        store.record_client_consent(room.id, "Kim\x00", consent_statement(30))
    assert store.get_room(room.id).state == "waiting"
