"""Several app instances: a room's key names the instance hosting it (``FER_INSTANCE``), the
proxy's pattern reads that name back, and a short code typed on another instance sends the
client on to the hosting one with a link the proxy routes.

The two instances behind nginx, in real browsers: ``tests/app/test_proxy_instances.py``.
"""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    log_in,
    webrtc_without_runtime,  # noqa: F401  (fixture)
)
from tests.app import room_support  # isort: skip
from tests.app.room_support import JOIN, ROOM, TIMEOUT  # isort: skip

import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from fer.accounts import AccountStore
from fer.rooms import RoomNotFoundError, RoomStore, credentials
from fer.rooms.credentials import INSTANCE_SEPARATOR
from ui import rooms

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "docs" / "deployment" / "nginx-instances.conf"


def test_a_token_s_room_key_starts_with_the_instance_name():
    token = credentials.new_join_token("b2")
    assert len(token.room_key) == len("b2-") + credentials.ROOM_KEY_LENGTH
    assert token.room_key.startswith("b2-")
    assert credentials.instance_of(token.room_key) == "b2"
    assert credentials.parse_join_token(str(token)) == token
    assert not credentials.new_join_token().room_key.startswith("b2-")


@pytest.mark.parametrize("name", ["", "A", "a-b", "a_b", "a.b", "é", "a b", "a" * 17])
def test_instance_names_outside_the_proxy_s_pattern_are_refused(name):
    with pytest.raises(ValueError, match="lower-case letters or digits"):
        credentials.new_join_token(name) if name else credentials.check_instance_name(name)


def proxy_pattern() -> re.Pattern:
    """The nginx map's regular expression that reads the instance from ``?room=``."""
    text = NGINX_TEMPLATE.read_text()
    (pattern,) = re.findall(r'map \$arg_room \$instance_from_link \{\s*"~([^"]+)"', text)
    return re.compile(pattern.replace("(?<", "(?P<"))


@pytest.mark.parametrize("instance", ["a", "b", "x9", "clinic2"])
def test_the_proxy_reads_the_instance_that_made_the_key(instance):
    for _ in range(50):  # the random part may hold dashes and lower-case letters
        token = credentials.new_join_token(instance)
        match = proxy_pattern().match(str(token))
        assert match is not None and match["name"] == instance


@pytest.fixture
def location(tmp_path, cheap_password_hashes):
    return tmp_path / "sessions.db"


def test_the_store_names_the_instance_in_the_key(location):
    anna = AccountStore(location).add_user("anna", "clinician", "correct horse battery")
    store = RoomStore(location)
    invitation = store.create_room(anna, "C-17", instance="a")
    assert invitation.room.room_key.startswith("a-")
    assert store.room_by_token(str(invitation.token)) == invitation.room
    with pytest.raises(ValueError, match="lower-case"):
        store.create_room(anna, "C-18", instance="Clinic-A")
    assert len(store.list_rooms(anna)) == 1


def test_the_app_reads_its_instance_name_from_the_environment():
    assert rooms.instance_name({}) == ""
    assert rooms.instance_name({"FER_INSTANCE": " a1 "}) == "a1"
    with pytest.raises(ValueError, match="FER_INSTANCE"):
        rooms.instance_name({"FER_INSTANCE": "Instance-A"})


def test_a_room_is_hosted_elsewhere_only_when_its_key_names_another_instance(location):
    anna = AccountStore(location).add_user("anna", "clinician", "correct horse battery")
    store = RoomStore(location)
    on_a = store.create_room(anna, "C-17", instance="a").room
    assert rooms.hosted_elsewhere(on_a, {"FER_INSTANCE": "b"})
    assert not rooms.hosted_elsewhere(on_a, {"FER_INSTANCE": "a"})
    unnamed = store.create_room(anna, "C-18").room
    assert not rooms.hosted_elsewhere(unnamed, {"FER_INSTANCE": "b"})
    assert not rooms.hosted_elsewhere(unnamed, {})


def test_a_key_without_an_instance_never_reads_as_one_with():
    # Keys made by one instance: before this fix about 2 % began "lowercase-" by chance, and
    # the Join page sent a client who typed the right code on to a server that does not exist.
    assert all(
        INSTANCE_SEPARATOR not in credentials.new_join_token().room_key for _ in range(3000)
    )
    assert all(
        credentials.instance_of(credentials.new_join_token("a").room_key) == "a"
        for _ in range(300)
    )
    for old_key in ("ab3-XyZ12345", "a-b-c-d-e-f-", "x-" + "-" * 10, "-abcdefghijk"):
        assert len(old_key) == credentials.ROOM_KEY_LENGTH
        assert credentials.instance_of(old_key) == ""
    assert credentials.instance_of("a-" + "ab3-XyZ1234_") == "a"
    assert credentials.instance_of("a-short") == ""


# ------------------------------------------------------------------ the pages, two instances


db_path = room_support.db_path  # the fixture: anna's (and bert's) accounts


def invite_on(db_path: Path, instance: str):
    anna = AccountStore(db_path).get_user_by_name("anna")
    return RoomStore(db_path).create_room(anna, "C-17", instance=instance)


def type_code(code: str) -> AppTest:
    at = AppTest.from_file(JOIN, default_timeout=TIMEOUT).run()
    at.text_input(key="join.code").input(code)
    return at.button(key="join.code_submit").click().run()


@pytest.mark.usefixtures("webrtc_without_runtime")
def test_the_session_room_page_names_its_instance_in_new_rooms(db_path, monkeypatch):
    def create_room() -> AppTest:
        at = AppTest.from_file(ROOM, default_timeout=TIMEOUT)
        at = log_in(at, AccountStore(db_path).get_user_by_name("anna")).run()
        at.text_input(key="rooms.client_code").input("C-17")
        return at.button(key="rooms.create").click().run()

    monkeypatch.setenv("FER_INSTANCE", "b")
    at = create_room()
    assert not at.exception, at.exception
    assert "/join?room=b-" in at.code[0].value
    monkeypatch.setenv("FER_INSTANCE", "Not A Name")
    at = create_room()
    assert "An instance name" in at.error[0].value and not at.code


@pytest.mark.usefixtures("webrtc_without_runtime")
def test_a_code_typed_on_another_instance_sends_the_client_on(db_path, monkeypatch):
    invitation = invite_on(db_path, "a")
    monkeypatch.setenv("FER_INSTANCE", "b")
    at = type_code(invitation.short_code.lower())
    assert not at.exception, at.exception
    assert not [box for box in at.text_input if box.label == "Your name"]
    (link_html,) = [md.value for md in at.markdown if "Continue to your session" in md.value]
    href = re.search(r'href="\?([^"]+)"', link_html)[1].replace("&amp;", "&")
    assert parse_qs(href) == {
        "room": [invitation.room.room_key], "code": [invitation.short_code]
    }
    assert 'target="_self"' in link_html  # a page load the proxy sees, in the same tab

    monkeypatch.setenv("FER_INSTANCE", "a")  # the hosting instance opens the consent at once
    at = type_code(invitation.short_code)
    assert [box.label for box in at.text_input] == ["Your name"]


def forwarded(room_key: str, code: str) -> AppTest:
    at = AppTest.from_file(JOIN, default_timeout=TIMEOUT)
    at.query_params["room"] = room_key
    at.query_params["code"] = code
    return at.run()


@pytest.mark.usefixtures("webrtc_without_runtime")
def test_the_forwarding_link_opens_only_the_room_its_code_opens(db_path, monkeypatch):
    monkeypatch.setenv("FER_INSTANCE", "a")
    invitation, other = invite_on(db_path, "a"), invite_on(db_path, "a")
    at = forwarded(invitation.room.room_key, invitation.short_code)
    assert not at.exception, at.exception
    assert [box.label for box in at.text_input] == ["Your name"]
    assert "code" not in at.query_params  # the code leaves the address bar
    assert "room" not in at.query_params  # and the key, no link on its own
    reloaded = AppTest.from_file(JOIN, default_timeout=TIMEOUT).run()  # a new browser session
    assert [box.label for box in reloaded.text_input] == ["Session code"]
    for room_key, code in (
        (invitation.room.room_key, other.short_code),  # another room's code
        (invitation.room.room_key, "ABCD-EFGH"),  # no room's code
    ):
        at = forwarded(room_key, code)
        assert [error.value for error in at.error] == [rooms.NOT_FOUND_MESSAGE]
        assert not at.text_input
    assert len(rooms.code_attempts()._failures) == 2  # each counts as a wrong guess
    with pytest.raises(RoomNotFoundError):
        rooms.room_from_forwarded_code(
            RoomStore(db_path), other.room.room_key, invitation.short_code
        )
