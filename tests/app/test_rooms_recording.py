"""Recording in a Session room: logging out ends the clinician's recordings (in every room), a
room past its expiry ends its analysis and saves its recording, a marked moment is stored."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    log_in,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)
from tests.app import room_support  # isort: skip
from tests.app.room_support import (  # isort: skip
    ROOT,
    TIMEOUT,
    invite,
    room_page,
    shown,
    user,
)

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.rooms import RoomStore
from fer.sessions.store import SessionStore
from ui import rooms

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")
db_path = room_support.db_path  # the fixture


def recording_room(db_path: Path, owner_id: int | None = None):
    """A consented room of anna's, analysing and recording: (room, live room, session id)."""
    from types import SimpleNamespace

    from fer.sessions.recorder import SessionRecorder

    invitation = invite(db_path)
    room, consent = RoomStore(db_path).record_client_consent(invitation.room.id, "Kim", "ok")
    live_room = rooms.room_registry().room(room.id)
    live_room.allow_analysis(consent.id, SimpleNamespace(classes=("neutral", "happy")), "tiny")
    sessions = SessionStore(db_path)
    session_id = sessions.create_session(
        consent.id, "tiny", ["neutral", "happy"], "live", owner_id=owner_id
    )
    live_room.start_recording(SessionRecorder(sessions, session_id))
    return room, live_room, session_id


def test_logging_out_ends_the_recording_the_clinician_started(db_path):
    room, live_room, session_id = recording_room(db_path)
    sessions = SessionStore(db_path)
    at = log_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT),
                user(db_path, "anna"))
    at.session_state["rooms.recordings"] = {room.id: session_id}
    at = at.run()
    at = at.sidebar.button(key="auth.logout").click().run()
    assert not at.exception, at.exception
    assert live_room.recorder is None
    assert sessions.get_session(session_id).ended_at is not None
    assert live_room.analysing  # the client's camera is theirs to stop


def analysing_room(db_path: Path):
    """A consented room of anna's, analysing, not recording: (room, live room)."""
    from types import SimpleNamespace

    invitation = invite(db_path)
    room, consent = RoomStore(db_path).record_client_consent(invitation.room.id, "Kim", "ok")
    live_room = rooms.room_registry().room(room.id)
    live_room.allow_analysis(consent.id, SimpleNamespace(classes=("neutral", "happy")), "tiny")
    return room, live_room


@pytest.mark.parametrize("logout", ["button", "idle"])
def test_logging_out_ends_the_recordings_in_every_room(db_path, monkeypatch, logout):
    """A clinician recording in two rooms who logged out left the first recording on: only
    the last room started was kept for the logout to end."""
    monkeypatch.setattr(rooms, "prepare_model", lambda: object())
    app = log_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT),
                 user(db_path, "anna"))
    app = app.run()  # the process's start-up, which ends sessions left open, is behind us
    (first, first_live), (second, second_live) = analysing_room(db_path), analysing_room(db_path)
    at = room_page(db_path, "anna", first.room_key)
    at = at.button(key="rooms.record_start").click().run()
    at.query_params["room"] = second.room_key  # the clinician opens the second room
    at = at.run().button(key="rooms.record_start").click().run()
    assert not at.exception, at.exception
    recorders = [first_live.recorder, second_live.recorder]
    assert None not in recorders
    # AppTest keeps a page's session state to itself: the logout gets what the room page kept
    # (its widgets aside), as in one browser session.
    widgets = {widget.key for widget in (*at.button, *at.text_input)}
    for key in at.session_state.keys():
        if key.startswith("rooms.") and key not in widgets:
            app.session_state[key] = at.session_state[key]
    if logout == "button":
        app = app.sidebar.button(key="auth.logout").click().run()
    else:
        app.session_state["auth.last_activity"] = time.monotonic() - 24 * 3600
        app = app.run()
    assert "auth.user" not in app.session_state
    assert not app.exception, app.exception
    assert first_live.recorder is None and second_live.recorder is None
    sessions = SessionStore(db_path)
    for recorder in recorders:
        assert sessions.get_session(recorder.session_id).ended_at is not None
    assert first_live.analysing and second_live.analysing  # the clients' cameras are theirs


def test_stopping_a_recording_leaves_it_to_no_logout(db_path, monkeypatch):
    monkeypatch.setattr(rooms, "prepare_model", lambda: object())
    room, live_room = analysing_room(db_path)
    at = room_page(db_path, "anna", room.room_key)
    at = at.button(key="rooms.record_start").click().run()
    session_id = live_room.recorder.session_id
    assert at.session_state["rooms.recordings"] == {room.id: session_id}
    assert ("anna", "record_session", f"session {session_id}") in audit_actions(db_path)
    at = at.button(key="rooms.record_stop").click().run()
    assert at.session_state["rooms.recordings"] == {}


def test_an_expired_room_stops_its_analysis_and_saves_its_recording(db_path):
    from types import SimpleNamespace

    from fer.sessions.recorder import SessionRecorder

    created = datetime.now(UTC) - timedelta(minutes=10)
    invitation = invite(db_path, lifetime=timedelta(minutes=5), now=created)
    room, consent = RoomStore(db_path).record_client_consent(
        invitation.room.id, "Kim", "ok", now=created + timedelta(minutes=1)
    )
    live_room = rooms.room_registry().room(room.id)
    live_room.allow_analysis(consent.id, SimpleNamespace(classes=("neutral",), close=lambda: None))
    sessions = SessionStore(db_path)
    session_id = sessions.create_session(consent.id, "tiny", ["neutral"], "live")
    live_room.start_recording(SessionRecorder(sessions, session_id))
    at = room_page(db_path, "anna", room.room_key)
    assert not at.exception, at.exception
    assert "The invitation expired." in shown(at)
    assert not live_room.analysing and rooms.room_registry().get(room.id) is None
    assert sessions.get_session(session_id).ended_at is not None
    assert not at.get("plotly_chart") and not at.metric


def test_a_marked_moment_is_stored_and_its_message_outlives_the_redraws(db_path):
    room, live_room, session_id = recording_room(db_path, user(db_path, "anna").id)
    sessions = SessionStore(db_path)
    at = room_page(db_path, "anna", room.room_key)
    at.text_input(key="rooms.note").input("looked away")
    at = at.button(key="rooms.mark").click().run()
    assert not at.exception, at.exception
    (marker,) = sessions.list_markers(session_id).itertuples()
    assert marker.note == "looked away"
    assert at.text_input(key="rooms.note").value == ""  # the next moment starts blank
    for _ in range(2):  # the view's own redraws, four a second
        at = at.run()
        assert "Moment marked at" in shown(at) and "looked away" in shown(at)
