"""The client's withdrawal on the Join page, whenever and however the room closed: the consent
statement promises it on that page at any time, and a withdrawal must never be lost.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    make_user,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)
from tests.app.room_support import (  # isort: skip
    invite,
    join,
    no_camera,
    room_page,
    shown,
    user,
)

import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from fer.rooms import RoomStore
from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from ui import rooms

CLASSES = ["neutral", "happy"]

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


@pytest.fixture
def db_path(db_path, monkeypatch):
    """The pages' database with anna's account; no room, and no guess, from another test."""
    for name in ("FER_ICE_SERVERS", "FER_TURN_URL", "FER_ROOM_LIFETIME_MIN", "FER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    make_user(db_path, "anna", "clinician")
    rooms.code_attempts.clear()
    rooms.room_registry.clear()
    return db_path


def one_frame() -> FrameRecord:
    probs = np.array([0.3, 0.7], np.float32)
    return FrameRecord(0.0, 0, (0, 0, 48, 48), probs, probs, "happy", 0.7)


def consented_room(db_path, created=None):
    """anna's room with Kim's consent, ``created`` then (None: now): (invitation, room)."""
    kwargs = {} if created is None else {"now": created}
    invitation = invite(db_path, **kwargs)
    consented_at = None if created is None else created + timedelta(minutes=1)
    room, _ = RoomStore(db_path).record_client_consent(
        invitation.room.id, "Kim", "ok", now=consented_at
    )
    return invitation, room


def recorded_session(db_path, room) -> int:
    """A session of one frame recorded under ``room``'s consent."""
    return SessionStore(db_path).create_session(
        room.consent_id, "tiny", CLASSES, "live", owner_id=user(db_path, "anna").id,
        frames=[one_frame()],
    )


def withdrawn_and_deleted(db_path, room, session_id) -> bool:
    sessions = SessionStore(db_path)
    return (
        sessions.get_consent(room.consent_id).withdrawn_at is not None
        and session_id not in {info.id for info in sessions.list_sessions()}
    )


def open_by(how: str, invitation):
    if how == "link":
        return join(str(invitation.token))
    at = join()
    at.text_input(key="join.code").input(invitation.short_code)
    return at.button(key="join.code_submit").click().run()


@pytest.mark.parametrize(
    ("closing", "how"), [("ended", "link"), ("ended", "code"), ("expired", "link")]
)
def test_after_the_room_closed_the_client_can_still_withdraw(db_path, closing, how):
    created = datetime.now(UTC) - timedelta(hours=3) if closing == "expired" else None
    invitation, room = consented_room(db_path, created)
    session_id = recorded_session(db_path, room)
    if closing == "ended":
        RoomStore(db_path).end_room(room.id, actor="anna")  # the clinician's "End the room"
    at = open_by(how, invitation)
    assert not at.exception, at.exception
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES[closing]]
    assert no_camera(at) and not at.checkbox

    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert withdrawn_and_deleted(db_path, room, session_id)
    assert ("client of room 1", "withdraw_consent", f"consent {room.consent_id}") in (
        audit_actions(db_path)
    )
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]
    assert not at.button  # nothing left to withdraw


def recording_room(db_path, close_recognizer=lambda: None):
    """A consented room analysing and recording, one result not yet saved: (invitation, room,
    live room, session id)."""
    from fer.sessions.recorder import SessionRecorder

    invitation, room = consented_room(db_path)
    live_room = rooms.room_registry().room(room.id)
    live_room.allow_analysis(
        room.consent_id, SimpleNamespace(classes=CLASSES, close=close_recognizer), "tiny"
    )
    session_id = SessionStore(db_path).create_session(
        room.consent_id, "tiny", CLASSES, "live", owner_id=user(db_path, "anna").id
    )
    recorder = SessionRecorder(SessionStore(db_path), session_id)
    recorder.add_records([one_frame()])
    live_room.start_recording(recorder)
    return invitation, room, live_room, session_id


def database_locked(*args, **kwargs):
    import sqlalchemy

    raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database is locked"))


def test_after_ending_the_session_the_client_can_still_withdraw(db_path):
    invitation, room, _, session_id = recording_room(db_path)
    at = join(str(invitation.token))

    at = at.button(key="join.end").click().run()
    assert not at.exception, at.exception
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["ended"]]
    assert len(SessionStore(db_path).load_frames(session_id)) == 1  # saved when it ended

    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert withdrawn_and_deleted(db_path, room, session_id)
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]


def test_a_withdrawal_after_the_close_that_fails_is_reported_and_can_be_retried(
    db_path, monkeypatch
):
    invitation, room = consented_room(db_path)
    session_id = recorded_session(db_path, room)
    RoomStore(db_path).end_room(room.id)
    at = join(str(invitation.token))
    original = RoomStore.withdraw_client_consent
    monkeypatch.setattr(RoomStore, "withdraw_client_consent", database_locked)
    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert "could not be recorded" in at.warning[-1].value
    monkeypatch.setattr(RoomStore, "withdraw_client_consent", original)
    at = at.button(key="join.withdraw").click().run()
    assert withdrawn_and_deleted(db_path, room, session_id)


# ------------------------------------------------------------- leaving while analysing


def test_a_withdrawal_goes_through_when_the_recording_cannot_be_saved(db_path, monkeypatch):
    """Saving the recording came first and outside the error handling: a locked database made
    the click fail with the consent still in force and nothing reported to the client."""
    invitation, room, live_room, session_id = recording_room(db_path)
    at = join(str(invitation.token))
    monkeypatch.setattr(SessionStore, "insert_encoded", database_locked)
    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert not live_room.analysing and rooms.room_registry().get(room.id) is None
    assert RoomStore(db_path).get_room(room.id).state == "withdrawn"
    assert withdrawn_and_deleted(db_path, room, session_id)  # its unsaved result dropped
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]


def test_a_withdrawal_goes_through_when_stopping_the_analysis_fails(db_path):
    def close_fails():
        raise RuntimeError("the model would not close")

    invitation, room, live_room, session_id = recording_room(db_path, close_fails)
    at = join(str(invitation.token))
    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert not live_room.analysing
    assert withdrawn_and_deleted(db_path, room, session_id)
    warnings = [warning.value for warning in at.warning]
    assert "something failed as it stopped (error id" in warnings[0]
    assert warnings[1:] == [rooms.CLOSED_MESSAGES["withdrawn"]]


def test_the_session_ends_when_its_recording_cannot_be_saved_and_the_client_is_told(
    db_path, monkeypatch
):
    invitation, room, live_room, session_id = recording_room(db_path)
    at = join(str(invitation.token))
    monkeypatch.setattr(SessionStore, "insert_encoded", database_locked)
    at = at.button(key="join.end").click().run()
    assert not at.exception, at.exception
    assert not live_room.analysing
    assert RoomStore(db_path).get_room(room.id).state == "ended"
    warnings = [warning.value for warning in at.warning]
    assert "the end of its recording may not have been saved" in warnings[0]
    assert warnings[1:] == [rooms.CLOSED_MESSAGES["ended"]]
    at = at.run()
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["ended"]]


# ----------------------------------------------- a withdrawal recorded on Session replay


def withdraw_on_session_replay(db_path, room, delete_data: bool = True) -> None:
    """The client phoned; the clinician records the withdrawal (``ui.consent.withdraw_form``),
    deleting what was recorded or keeping it under the clinic's policy."""
    SessionStore(db_path).withdraw_consent(
        room.consent_id, delete_data=delete_data, viewer=user(db_path, "anna"), actor="anna"
    )


def test_a_withdrawal_recorded_on_session_replay_stops_the_room_on_the_clinician_s_page(
    db_path,
):
    invitation, room, live_room, session_id = recording_room(db_path)
    withdraw_on_session_replay(db_path, room)
    at = room_page(db_path, "anna", room.room_key)
    assert not at.exception, at.exception
    assert "The client withdrew their consent" in shown(at)
    assert "consent is on record" not in shown(at)
    assert not [button for button in at.button if "recording" in str(button.label)]
    assert not live_room.analysing and rooms.room_registry().get(room.id) is None
    assert withdrawn_and_deleted(db_path, room, session_id)
    at = join(str(invitation.token))
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]
    assert no_camera(at) and not at.button


def test_a_withdrawal_recorded_on_session_replay_stops_the_room_on_the_client_s_page(db_path):
    invitation, room, live_room, session_id = recording_room(db_path)
    at = join(str(invitation.token))
    assert [success.value for success in at.success] == ["Your consent is on record."]
    withdraw_on_session_replay(db_path, room)
    at = at.run()  # the page's next run (the camera component reruns it, as does a click)
    assert not at.exception, at.exception
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]
    assert no_camera(at) and not at.button
    assert not live_room.analysing and rooms.room_registry().get(room.id) is None


def test_a_withdrawal_that_kept_the_sessions_is_not_called_a_deletion(db_path):
    from fer.rooms.store import WITHDRAWN_KEPT

    invitation, room, live_room, session_id = recording_room(db_path)
    withdraw_on_session_replay(db_path, room, delete_data=False)
    at = room_page(db_path, "anna", room.room_key)
    assert not at.exception, at.exception
    assert "kept under the clinic's policy" in shown(at) and "was deleted" not in shown(at)
    assert SessionStore(db_path).get_session(session_id).consent_withdrawn_at is not None
    for opened in (join(str(invitation.token)), join(str(invitation.token)).run()):
        assert not opened.exception, opened.exception
        assert [warning.value for warning in opened.warning] == [
            rooms.CLOSED_MESSAGES[WITHDRAWN_KEPT]
        ]
        assert no_camera(opened) and not opened.button


@pytest.mark.parametrize("delete_data", [True, False], ids=["deleted", "kept"])
def test_a_withdrawal_recorded_elsewhere_stops_the_analysis_with_no_page_open(
    db_path, delete_data
):
    """Neither page runs (both closed, or the client's camera alone is left on): the registry's
    sweeper reads the withdrawal from the database and stops the analysis, dropping the row the
    recording had not written."""
    invitation, room, live_room, session_id = recording_room(db_path)
    other_invitation, other_room = consented_room(db_path)
    other = rooms.room_registry().room(other_room.id)
    other.allow_analysis(other_room.consent_id, SimpleNamespace(classes=CLASSES, close=None))
    registry = rooms.room_registry()
    assert registry.close_withdrawn(rooms.consent_in_force) == []
    withdraw_on_session_replay(db_path, room, delete_data=delete_data)
    sweeper = registry.start_sweeping(every_s=0.05, consent_in_force=rooms.consent_in_force)
    deadline = time.monotonic() + 10
    while registry.get(room.id) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sweeper.is_alive()
    assert registry.get(room.id) is None and not live_room.analysing
    assert live_room.process_frame(np.zeros((48, 48, 3), np.uint8), 1.0) is None
    assert registry.get(other_room.id) is other and other.analysing  # its consent stands
    kept = SessionStore(db_path).list_sessions(viewer=user(db_path, "anna"))
    if delete_data:
        assert withdrawn_and_deleted(db_path, room, session_id)
    else:  # kept as it was when withdrawn: the unsaved row was dropped, not written after
        assert [info.id for info in kept] == [session_id]
        assert SessionStore(db_path).load_frames(session_id).empty
