"""Shared by the Session room and Join page tests: the pages' database, the pages run in AppTest,
and what they show."""

from tests.app.page_support import build_tiny_model, log_in, make_user  # isort: skip

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.accounts import AccountStore
from fer.rooms import RoomStore
from ui import rooms

ROOT = Path(__file__).resolve().parents[2]
JOIN = str(ROOT / "pages" / "9_Join.py")
ROOM = str(ROOT / "pages" / "9_Session_room.py")
TIMEOUT = 120


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


def room_page(db_path: Path, name: str, room_key: str | None = None) -> AppTest:
    at = AppTest.from_file(ROOM, default_timeout=TIMEOUT)
    if room_key is not None:
        at.query_params["room"] = room_key
    return log_in(at, user(db_path, name)).run()
