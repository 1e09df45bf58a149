"""The Session room and Join pages: no room without a valid link or code, nothing of the client
shown or analysed before the client's own consent, the room for its owner only, withdrawal.

AppTest cannot play video (the webrtc component's session lookup is patched, see the shared
README); the browser test ``test_browser_rooms.py`` covers the stream between two browsers.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    build_tiny_model,
    log_in,
    make_user,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.accounts import AccountStore
from fer.rooms import RoomStore
from fer.sessions.store import SessionStore
from ui import rooms

ROOT = Path(__file__).resolve().parents[2]
JOIN = str(ROOT / "pages" / "9_Join.py")
ROOM = str(ROOT / "pages" / "9_Session_room.py")
TIMEOUT = 120

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    for name in ("FER_ICE_SERVERS", "FER_TURN_URL", "FER_ROOM_LIFETIME_MIN", "FER_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    make_user(path, "anna", "clinician")
    make_user(path, "bert", "clinician")
    rooms.code_attempts.clear()  # each test guesses from a fresh count
    rooms.room_registry.clear()
    return path


def user(db_path: Path, name: str):
    return AccountStore(db_path).get_user_by_name(name)


def invite(db_path: Path, **kwargs):
    return RoomStore(db_path).create_room(user(db_path, "anna"), "C-17", **kwargs)


def join(token: str | None = None) -> AppTest:
    at = AppTest.from_file(JOIN, default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["room"] = token
    return at.run()


def shown(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "text", "caption", "title", "subheader", "info", "success",
                 "warning", "error", "code"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    return "\n".join(parts)


def no_camera(at: AppTest) -> bool:
    return not at.get("component_instance") and not at.get("iframe") and not [
        button for button in at.button if "camera" in str(button.label)
    ] and "Your consent is on record." not in shown(at)


# ------------------------------------------------------------------------------- join page


def test_without_a_link_the_join_page_asks_for_the_code_only(db_path):
    at = join()
    assert not at.exception, at.exception
    assert [box.label for box in at.text_input] == ["Session code"]
    assert no_camera(at) and not at.checkbox


@pytest.mark.parametrize("token", ["nonsense", "abc.def", ""])
def test_a_wrong_link_gets_a_clear_page_and_no_room(db_path, token):
    invitation = invite(db_path)
    at = join(token or f"{invitation.token.room_key}.{'x' * 43}")
    assert not at.exception, at.exception
    assert [error.value for error in at.error] == [rooms.NOT_FOUND_MESSAGE]
    assert no_camera(at) and not at.checkbox and not at.text_input
    assert "C-17" not in shown(at)


def test_an_expired_or_ended_link_says_so(db_path):
    created = datetime.now(UTC) - timedelta(hours=3)
    expired = invite(db_path, now=created)
    at = join(str(expired.token))
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["expired"]]
    assert no_camera(at) and not at.checkbox
    ended = invite(db_path)
    RoomStore(db_path).end_room(ended.room.id)
    at = join(str(ended.token))
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["ended"]]
    assert no_camera(at) and not at.button  # no consent was given: nothing to withdraw


def test_the_link_shows_the_explanation_and_consent_but_no_camera(db_path):
    invitation = invite(db_path)
    at = join(str(invitation.token))
    assert not at.exception, at.exception
    text = shown(at)
    for words in ("What is analysed", "What is stored", "For how long", "withdraw"):
        assert words in text
    assert [box.label for box in at.text_input] == ["Your name"]
    assert no_camera(at)
    assert "Your camera stays off until you agree." in text
    assert RoomStore(db_path).get_room(invitation.room.id).state == "waiting"


def test_consent_needs_a_name_and_the_tick(db_path):
    invitation = invite(db_path)
    at = join(str(invitation.token))
    at.text_input(key="join.name").input("Kim")
    at = at.button(key="join.consent").click().run()
    assert "Tick the box" in at.error[0].value
    assert RoomStore(db_path).get_room(invitation.room.id).state == "waiting"
    assert no_camera(at)


def test_a_wrong_code_is_refused_and_guessing_is_limited(db_path):
    invite(db_path)
    at = join()
    for _ in range(5):
        at.text_input(key="join.code").input("ABCD-EFGH")
        at = at.button(key="join.code_submit").click().run()
        assert at.error[0].value == "No session has this code. Check it with your clinician."
    at.text_input(key="join.code").input("ABCD-EFGH")
    at = at.button(key="join.code_submit").click().run()
    assert at.error[0].value == (
        "Too many wrong codes from this browser. Try again in 15 minutes, or open the link your "
        "clinician sent you."
    )


def test_the_right_code_opens_the_consent(db_path):
    invitation = invite(db_path)
    at = join()
    at.text_input(key="join.code").input(invitation.short_code.lower())
    at = at.button(key="join.code_submit").click().run()
    assert not at.exception, at.exception
    assert [box.label for box in at.text_input] == ["Your name"]
    assert no_camera(at)


def consent_on_join_page(invitation) -> AppTest:
    """The Join page of ``invitation``'s link after the client Kim has consented."""
    at = join(str(invitation.token))
    at.text_input(key="join.name").input("Kim")
    at.checkbox(key="join.agree").check()
    return at.button(key="join.consent").click().run()


def test_the_client_consents_then_withdraws(db_path, monkeypatch, tiny_model):
    monkeypatch.setenv("FER_MODEL", str(tiny_model))
    invitation = invite(db_path)
    at = consent_on_join_page(invitation)
    assert not at.exception, at.exception
    room = RoomStore(db_path).get_room(invitation.room.id)
    assert room.state == "consented"
    consent = SessionStore(db_path).get_consent(room.consent_id)
    assert (consent.given_by, consent.client_code) == ("Kim", "C-17")
    assert ("client of room 1", "record_consent", f"consent {consent.id}") in audit_actions(
        db_path
    )
    # The camera waits for the client's own click (in the camera component); the room
    # analyses under the consent.
    assert [success.value for success in at.success] == ["Your consent is on record."]
    live_room = rooms.room_registry().get(room.id)
    assert live_room is not None and live_room.analysing

    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert RoomStore(db_path).get_room(room.id).state == "withdrawn"
    assert SessionStore(db_path).get_consent(room.consent_id).withdrawn_at is not None
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]
    assert no_camera(at) and rooms.room_registry().get(room.id) is None


def test_a_model_that_cannot_be_loaded_shows_the_client_no_server_detail(
    db_path, monkeypatch, tmp_path
):
    monkeypatch.setenv("FER_MODEL", str(tmp_path / "server-side" / "no-such-model"))
    at = consent_on_join_page(invite(db_path))
    assert not at.exception, at.exception
    assert [error.value for error in at.error] == [
        "The clinic's analysis is not set up. Tell your clinician."
    ]
    assert "server-side" not in shown(at) and "no-such-model" not in shown(at)


def test_a_withdrawal_the_database_refuses_leaves_the_analysis_stopped(
    db_path, monkeypatch, tiny_model
):
    import sqlalchemy

    monkeypatch.setenv("FER_MODEL", str(tiny_model))
    invitation = invite(db_path)
    at = consent_on_join_page(invitation)
    room_id = invitation.room.id
    live_room = rooms.room_registry().get(room_id)
    assert live_room.analysing
    original = RoomStore.withdraw_client_consent

    def locked(self, *args, **kwargs):
        raise sqlalchemy.exc.OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(RoomStore, "withdraw_client_consent", locked)  # refuses once
    at = at.button(key="join.withdraw").click().run()
    assert not at.exception, at.exception
    assert RoomStore(db_path).get_room(room_id).state == "consented"  # nothing recorded
    assert "could not be recorded" in at.warning[0].value
    assert not live_room.analysing and no_camera(at)
    at = at.run()  # a rerun does not turn the analysis back on behind the client's back
    assert not live_room.analysing and no_camera(at)
    assert [info.value for info in at.info] == ["The analysis of your camera is stopped."]
    monkeypatch.setattr(RoomStore, "withdraw_client_consent", original)
    at = at.button(key="join.withdraw").click().run()  # trying again works
    assert RoomStore(db_path).get_room(room_id).state == "withdrawn"
    assert [warning.value for warning in at.warning] == [rooms.CLOSED_MESSAGES["withdrawn"]]


# ----------------------------------------------------------------------- session room page


def room_page(db_path: Path, name: str, room_key: str | None = None) -> AppTest:
    at = AppTest.from_file(ROOM, default_timeout=TIMEOUT)
    if room_key is not None:
        at.query_params["room"] = room_key
    return log_in(at, user(db_path, name)).run()


def test_a_clinician_creates_a_room_and_sees_its_link_and_code(db_path):
    at = room_page(db_path, "anna")
    at.text_input(key="rooms.client_code").input("C-17")
    at = at.button(key="rooms.create").click().run()
    assert not at.exception, at.exception
    link, code = (element.value for element in at.code)
    assert "/join?room=" in link and len(code) == 9 and code[4] == "-"
    (room,) = RoomStore(db_path).list_rooms(user(db_path, "anna"))
    assert RoomStore(db_path).room_by_token(link.split("room=")[1]) == room
    assert RoomStore(db_path).room_by_code(code) == room
    assert "Waiting for the client's consent" in shown(at)
    assert not at.get("plotly_chart") and not at.metric
    assert ("anna", "create_room", f"room {room.id}") in audit_actions(db_path)


def test_before_consent_the_clinician_sees_nothing_of_the_client(db_path):
    invitation = invite(db_path)
    at = room_page(db_path, "anna", invitation.room.room_key)
    assert not at.exception, at.exception
    assert "Waiting for the client's consent" in shown(at)
    assert not at.get("plotly_chart") and not at.metric
    assert not [button for button in at.button if "recording" in str(button.label)]
    assert not at.code  # the credentials were shown only to the browser session that made them


def test_another_clinician_cannot_open_the_room(db_path):
    invitation = invite(db_path)
    at = room_page(db_path, "bert", invitation.room.room_key)
    assert not at.exception, at.exception
    assert [error.value for error in at.error] == [
        "There is no room at this address for your account."
    ]
    assert "C-17" not in shown(at) and not at.code


def test_the_room_page_is_for_clinicians_and_admins_only(db_path):
    make_user(db_path, "rita", "reviewer")
    at = room_page(db_path, "rita")
    assert [error.value for error in at.error] == ["This page is not available to your role."]


def test_a_malformed_room_lifetime_is_reported(monkeypatch):
    monkeypatch.setenv("FER_ROOM_LIFETIME_MIN", "forever")
    with pytest.raises(ValueError, match="FER_ROOM_LIFETIME_MIN"):
        rooms.room_lifetime()
    assert rooms.room_lifetime({"FER_ROOM_LIFETIME_MIN": "30"}) == timedelta(minutes=30)
    assert rooms.room_lifetime({"FER_ROOM_LIFETIME_MIN": "7.5"}) == timedelta(minutes=7.5)
    # inf and 1e20 once raised OverflowError; 1_5, +15 and other scripts' digits were accepted.
    for text in ("1", "1441", "inf", "1e20", "nan", "-5", "1_5", "+15", "١٥", "1e2"):
        with pytest.raises(ValueError, match="FER_ROOM_LIFETIME_MIN .*between 5 and 1440"):
            rooms.room_lifetime({"FER_ROOM_LIFETIME_MIN": text})


@pytest.mark.parametrize(
    ("page_url", "expected"),
    [
        ("http://127.0.0.1:8501/Session_room", "http://127.0.0.1:8501"),
        ("https://clinic.example/fer/Session_room/", "https://clinic.example/fer"),
        ("https://clinic.example/fer", "https://clinic.example/fer"),
        ("http://127.0.0.1:8501", "http://127.0.0.1:8501"),
    ],
)
def test_the_join_link_starts_at_the_app_s_own_address(page_url, expected):
    assert rooms.app_url(page_url) == expected
    assert rooms.join_link("key.secret", {"FER_PUBLIC_URL": "https://x.example/"}) == (
        "https://x.example/join?room=key.secret"
    )


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
    assert at.session_state["rooms.recordings"] == {room.id: live_room.recorder.session_id}
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
