"""The Admin page: adding users, changing roles, resetting passwords, disabling accounts, sharing a
session with a clinician, and the audit log (shown; its export built only when pressed)."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    audit_actions,
    log_in,
    make_user,
)

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer.accounts import AccountStore, LoginError
from fer.sessions.store import SessionStore
from tests.research_fixtures import CLASSES

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "7_Admin.py")
TIMEOUT = 120
NEW_PASSWORD = "a new long passphrase"


@pytest.fixture
def admin(db_path):
    return make_user(db_path, "root.admin", "admin")


def open_admin(admin) -> AppTest:
    at = log_in(AppTest.from_file(PAGE, default_timeout=TIMEOUT), admin).run()
    assert not at.exception, at.exception
    return at


def names(db_path: Path) -> dict[str, tuple[str, bool]]:
    return {
        user.name: (user.role, user.disabled_at is not None)
        for user in AccountStore(db_path).list_users()
    }


def add_user(at: AppTest, name: str, role: str, password: str, repeated: str | None = None):
    at.text_input(key="admin.add_name").input(name)
    at.selectbox(key="admin.add_role").set_value(role)
    at.text_input(key="admin.add_password").input(password)
    at.text_input(key="admin.add_repeat").input(password if repeated is None else repeated)
    return at.button(key="admin.add").click().run()


def test_the_page_lists_users_and_the_audit_log(db_path, admin):
    at = open_admin(admin)
    users, audit_table = at.dataframe[0].value, at.dataframe[-1].value
    assert list(users["User"]) == ["root.admin"] and list(users["Status"]) == ["active"]
    assert list(audit_table.columns) == ["When", "Who", "Action", "On what", "Details"]
    (export,) = at.get("download_button")
    assert export.proto.label == "Export the audit log (CSV)"
    assert "export_audit_log" not in [action for _, action, _ in audit_actions(db_path)]


def test_an_admin_adds_a_user(db_path, admin):
    at = add_user(open_admin(admin), "carla", "clinician", NEW_PASSWORD)
    assert not at.exception, at.exception
    assert names(db_path)["carla"] == ("clinician", False)
    assert AccountStore(db_path).authenticate("carla", NEW_PASSWORD).role == "clinician"
    carla = AccountStore(db_path).get_user_by_name("carla")
    # Written by the account store with the account (the same entry as `fer users add`).
    assert ("root.admin", "add_user", f"user {carla.id}") in audit_actions(db_path)
    assert sorted(at.dataframe[0].value["User"]) == ["carla", "root.admin"]


@pytest.mark.parametrize(
    ("name", "password", "repeated", "message"),
    [
        ("carla", "short", None, "12"),
        ("carla", NEW_PASSWORD, "something else entirely", "differ"),
        ("root.admin", NEW_PASSWORD, None, "exists"),
    ],
)
def test_a_bad_new_user_is_refused(db_path, admin, name, password, repeated, message):
    at = add_user(open_admin(admin), name, "reviewer", password, repeated)
    assert not at.exception, at.exception
    assert any(message in error.value for error in at.error), [e.value for e in at.error]
    assert set(names(db_path)) == {"root.admin"}


def test_role_change_password_reset_and_disabling(db_path, admin):
    carla = make_user(db_path, "carla", "clinician")
    at = open_admin(admin)
    # The admin's own account is not on the menus that could lock them out.
    assert at.selectbox(key="admin.role_user").options == ["carla"]
    assert at.selectbox(key="admin.disable_user").options == ["carla"]

    at.selectbox(key="admin.role_user").set_value("carla")
    at.selectbox(key="admin.role_role").set_value("reviewer")
    at = at.button(key="admin.role").click().run()
    assert names(db_path)["carla"] == ("reviewer", False)

    at.selectbox(key="admin.password_user").set_value("carla")
    at.text_input(key="admin.password_new").input(NEW_PASSWORD)
    at.text_input(key="admin.password_repeat").input(NEW_PASSWORD)
    at = at.button(key="admin.password").click().run()
    assert AccountStore(db_path).authenticate("carla", NEW_PASSWORD).name == "carla"

    at = at.button(key="admin.disable").click().run()  # not confirmed
    assert any("Tick the box" in error.value for error in at.error)
    assert names(db_path)["carla"] == ("reviewer", False)
    at.checkbox(key="admin.disable_confirm").check()
    at = at.button(key="admin.disable").click().run()
    assert not at.exception, at.exception
    assert names(db_path)["carla"] == ("reviewer", True)
    with pytest.raises(LoginError):
        AccountStore(db_path).authenticate("carla", NEW_PASSWORD)
    changes = audit_actions(db_path)
    assert [action for actor, action, target in changes if target == f"user {carla.id}"] == [
        "set_role", "set_password", "disable_user",
    ]


def test_an_admin_shares_a_session_with_a_clinician(db_path, admin):
    anna = make_user(db_path, "anna", "clinician")
    bert = make_user(db_path, "bert", "clinician")
    make_user(db_path, "rita", "reviewer")
    store = SessionStore(db_path)
    consent = store.record_consent("Client of Anna")
    session_id = store.create_session(consent.id, "tiny", CLASSES, "video", owner_id=anna.id)
    assert store.list_sessions(viewer=bert) == []

    at = open_admin(admin)
    # Only active clinicians can receive patient data.
    assert at.selectbox(key="admin.share_user").options == ["anna", "bert"]
    at.selectbox(key="admin.share_user").set_value("bert")
    at = at.button(key="admin.share").click().run()
    assert not at.exception, at.exception
    assert [info.id for info in store.list_sessions(viewer=bert)] == [session_id]
    assert ("root.admin", "share_session", f"session {session_id}") in audit_actions(db_path)


def test_the_audit_export_is_built_when_pressed_and_audited(db_path, admin):
    from fer.accounts import AuditLog
    from ui.auth import audit_log_export

    open_admin(admin)
    log = AuditLog(db_path)
    log.record("someone", "login")
    # The button's callable (AppTest cannot press a download button): nothing happens until it
    # runs, then it returns the whole log and records the export.
    export = audit_log_export(log, "root.admin")
    assert "export_audit_log" not in [action for _, action, _ in audit_actions(db_path)]
    text = export()
    assert text.splitlines()[0] == "at,actor,action,target,detail"
    assert "someone,login" in text
    assert audit_actions(db_path)[-1] == ("root.admin", "export_audit_log", "")


def test_a_non_admin_sees_nothing_of_the_admin_page(db_path, admin):
    clinician = make_user(db_path, "carla", "clinician")
    at = log_in(AppTest.from_file(PAGE, default_timeout=TIMEOUT), clinician).run()
    assert [error.value for error in at.error] == ["This page is not available to your role."]
    assert not at.dataframe and not at.get("download_button") and not at.text_input
