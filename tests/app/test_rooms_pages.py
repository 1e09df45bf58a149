"""The Session room and Join pages: no room without a valid link or code, nothing of the client
shown or analysed before the client's own consent, the room for its owner only, withdrawal.

AppTest cannot play video (the webrtc component's session lookup is patched, see the shared
README); the browser test ``test_browser_rooms.py`` covers the stream between two browsers.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    make_user,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)
from tests.app import room_support  # isort: skip
from tests.app.room_support import (  # isort: skip
    invite,
    join,
    no_camera,
    room_page,
    shown,
    user,
)

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from fer.rooms import RoomStore
from fer.sessions.store import SessionStore
from ui import rooms

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")
db_path = room_support.db_path  # the fixture
tiny_model = room_support.tiny_model  # the fixture


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
