"""Login before anything else: the login gate of every page, the page list per role, the login
form (failures, lock-out), logout, the idle time-out, a disabled account, the error messages and
the start-up maintenance, through ``app.py`` and each page script on its own."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    PASSWORD,
    audit_actions,
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
from fer.sessions.store import SessionStore
from tests.research_fixtures import CLASSES, make_session_db

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 120
SECRET_NAME = "Secret Client Name"
PAGE_FILES = sorted(path.name for path in (ROOT / "pages").glob("*.py"))
# The client's join page of a remote session needs no login: every role (and none) has it,
# hidden from the menu; the room's link is its credential (tests/app/test_rooms_pages.py).
JOIN_PAGE = "9_Join.py"
EXPECTED_PAGES = {
    None: ["0_Login.py", JOIN_PAGE],
    "clinician": [
        "0_Home.py", JOIN_PAGE, "1_Live.py", "2_Upload.py", "5_Session_replay.py",
        "9_Session_room.py", "8_Client_history.py",
    ],
    "reviewer": ["0_Home.py", JOIN_PAGE, "3_Evaluation.py", "4_Clusters.py", "6_Dataset.py"],
    "admin": [
        "0_Home.py", JOIN_PAGE, "1_Live.py", "2_Upload.py", "5_Session_replay.py",
        "9_Session_room.py", "8_Client_history.py", "3_Evaluation.py", "4_Clusters.py",
        "6_Dataset.py", "7_Admin.py",
    ],
}

pytestmark = pytest.mark.usefixtures("webrtc_without_runtime")


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A database with one user per role and one recorded session (of the clinician)."""
    path = tmp_path / "sessions.db"
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    monkeypatch.delenv("FER_MODEL", raising=False)
    users = {role: make_user(path, f"{role}.one", role) for role in EXPECTED_PAGES if role}
    store = SessionStore(path)
    consent = store.record_consent(SECRET_NAME)
    store.create_session(
        consent.id, "tiny", CLASSES, "video", notes="secret notes",
        owner_id=users["clinician"].id,
    )
    return path


def user(db_path: Path, role: str):
    return AccountStore(db_path).get_user_by_name(f"{role}.one")


def everything_shown(at: AppTest) -> str:
    """The text of every element the page rendered (values and labels)."""
    parts = []
    for node in at.main.children.values() if hasattr(at.main, "children") else []:
        parts.append(str(node))
    for kind in (
        "markdown", "text", "caption", "title", "header", "subheader", "info", "success",
        "warning", "error", "selectbox", "dataframe", "metric",
    ):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
            parts.append(str(getattr(element, "options", "")))
    return " ".join(parts)


def registered_pages(at: AppTest) -> list[str]:
    """The page scripts ``st.navigation`` offered in the last run, in menu order (without the
    hidden login pages a logged-out browser gets at every page's URL)."""
    return [
        Path(info["script_path"]).name
        for info in at._registered_pages.values()
        if info.get("script_path")
    ]


def login_aliases(at: AppTest) -> list[str]:
    """URL paths that show the login form instead of their page (logged out only)."""
    return [
        info["url_pathname"]
        for info in at._registered_pages.values()
        if not info.get("script_path")
    ]


# ------------------------------------------------------------------------------ login gate


def test_without_login_the_app_offers_only_the_login_page(db_path):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert registered_pages(at) == EXPECTED_PAGES[None]
    # Every page's URL exists, as a login form: a typed URL opens its page after the login.
    assert login_aliases(at) == [
        "home", "Live", "Upload", "Session_replay", "Session_room", "Client_history",
        "Evaluation", "Clusters", "Dataset", "Admin",
    ]
    assert [title.value for title in at.title] == ["Log in"]
    assert SECRET_NAME not in everything_shown(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(ROOT / "pages" / "5_Session_replay.py"))


@pytest.mark.parametrize(
    "page", [name for name in PAGE_FILES if name not in ("0_Login.py", JOIN_PAGE)]
)
def test_every_page_on_its_own_shows_nothing_without_login(db_path, page):
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert [warning.value for warning in at.warning] == ["Log in to use this page."]
    assert not at.title and not at.dataframe and not at.selectbox and not at.button
    assert not at.get("plotly_chart") and not at.get("download_button")
    assert SECRET_NAME not in everything_shown(at)


def test_the_join_page_needs_no_login_and_shows_only_the_code_form(db_path):
    at = AppTest.from_file(str(ROOT / "pages" / JOIN_PAGE), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert not at.warning and not at.error
    assert [box.label for box in at.text_input] == ["Session code"]
    assert not at.dataframe and not at.selectbox and not at.get("plotly_chart")
    assert SECRET_NAME not in everything_shown(at)


@pytest.mark.parametrize("role", ["clinician", "reviewer", "admin"])
def test_each_role_gets_its_pages(db_path, role):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, role)).run()
    assert not at.exception, at.exception
    assert registered_pages(at) == EXPECTED_PAGES[role]
    assert login_aliases(at) == []
    for page in EXPECTED_PAGES[role]:
        at.switch_page(str(ROOT / "pages" / page)).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [error.value for error in at.error])


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("reviewer", "5_Session_replay.py"), ("reviewer", "1_Live.py"),
        ("reviewer", "2_Upload.py"), ("reviewer", "7_Admin.py"), ("clinician", "7_Admin.py"),
        ("clinician", "3_Evaluation.py"), ("clinician", "4_Clusters.py"),
    ],
)
def test_a_page_refuses_a_role_it_is_not_for(db_path, role, page):
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=TIMEOUT)
    at = log_in(at, user(db_path, role)).run()
    assert not at.exception, at.exception
    assert [error.value for error in at.error] == ["This page is not available to your role."]
    assert not at.dataframe and not at.selectbox and not at.get("download_button")
    assert SECRET_NAME not in everything_shown(at)


# ----------------------------------------------------------------------------- login form


def submit_login(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="auth.name").input(name)
    at.text_input(key="auth.password").input(password)
    return at.button(key="auth.login").click().run()


def test_logging_in_opens_the_role_s_pages_and_is_audited(db_path):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = submit_login(at, "clinician.one", PASSWORD)
    assert not at.exception, at.exception
    assert registered_pages(at) == EXPECTED_PAGES["clinician"]
    assert at.session_state["auth.user"].name == "clinician.one"
    assert "auth.password" not in at.session_state or not at.session_state["auth.password"]
    assert ("clinician.one", "login", "") in audit_actions(db_path)


def test_a_wrong_password_is_refused_and_audited(db_path):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at = submit_login(at, "clinician.one", "not the password")
    assert registered_pages(at) == EXPECTED_PAGES[None]
    assert [error.value for error in at.error] == ["Wrong name or password."]
    # A password typed into the name box is not kept in the audit log, which keeps all.
    at = submit_login(at, "Tr0ub4dor&3-horse", "not the password")
    assert [error.value for error in at.error] == ["Wrong name or password."]
    failed = [actor for actor, action, _ in audit_actions(db_path) if action == "login_failed"]
    assert failed == ["clinician.one", "(unknown name)"]


def test_repeated_failures_lock_the_account(db_path):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    for _ in range(5):
        at = submit_login(at, "clinician.one", "not the password")
    at = submit_login(at, "clinician.one", PASSWORD)  # right, but locked now
    assert registered_pages(at) == EXPECTED_PAGES[None]
    assert "locked until" in at.error[0].value
    for _ in range(20):  # refused unchecked while locked: no audit row per request
        at = submit_login(at, "clinician.one", "not the password")
    failed = [actor for actor, action, _ in audit_actions(db_path) if action == "login_failed"]
    assert failed == ["clinician.one"] * 5


def test_logout_forgets_everything(db_path):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at.session_state["replay.frames"] = "cached patient data"
    at = at.run()
    at = at.sidebar.button(key="auth.logout").click().run()
    assert not at.exception, at.exception
    assert registered_pages(at) == EXPECTED_PAGES[None]
    assert "replay.frames" not in at.session_state and "auth.user" not in at.session_state
    assert ("clinician.one", "logout", "") in audit_actions(db_path)


@pytest.mark.parametrize(("setting", "idle_s", "logged_out"), [
    (None, 14 * 60, False), (None, 16 * 60, True), ("2", 3 * 60, True), ("2", 60, False),
])
def test_idle_time_out(db_path, monkeypatch, setting, idle_s, logged_out):
    if setting is not None:
        monkeypatch.setenv("FER_IDLE_TIMEOUT_MIN", setting)
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "admin"))
    at.session_state["auth.last_activity"] = time.monotonic() - idle_s
    at = at.run()
    assert not at.exception, at.exception
    if logged_out:
        assert registered_pages(at) == EXPECTED_PAGES[None]
        assert "without activity" in at.info[0].value
        (entry,) = [e for e in audit_actions(db_path) if e[1] == "logout"]
        assert entry[0] == "admin.one"
    else:
        assert registered_pages(at) == EXPECTED_PAGES["admin"]


def test_the_idle_time_out_is_read_like_the_retention_period():
    from ui.auth import idle_timeout_s

    assert idle_timeout_s({}) == 15 * 60
    assert idle_timeout_s({"FER_IDLE_TIMEOUT_MIN": "0.05"}) == pytest.approx(3.0)
    assert idle_timeout_s({"FER_IDLE_TIMEOUT_MIN": "480"}) == 480 * 60
    # inf and 1e400 turned the idle logout off; 1_5, +15 and other scripts' digits were taken.
    for text in ("inf", "1e400", "nan", "0", "-1", "481", "1_5", "+15", "١٥", "1e1"):
        with pytest.raises(ValueError, match="FER_IDLE_TIMEOUT_MIN .*more than 0 and at most 480"):
            idle_timeout_s({"FER_IDLE_TIMEOUT_MIN": text})


def test_a_disabled_account_is_logged_out_at_its_next_click(db_path):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at = at.run()
    assert registered_pages(at) == EXPECTED_PAGES["clinician"]
    AccountStore(db_path).disable_user("clinician.one")
    at = at.run()
    assert registered_pages(at) == EXPECTED_PAGES[None]
    assert "not active" in at.info[0].value


def test_a_role_change_applies_at_the_next_click(db_path):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at = at.run()
    AccountStore(db_path).set_role("clinician.one", "reviewer")
    at = at.run()
    assert registered_pages(at) == EXPECTED_PAGES["reviewer"]



def test_losing_patient_data_to_a_role_change_ends_what_the_old_role_held(db_path):
    from fer.sessions.recorder import SessionRecorder
    from ui.live import LiveProcessor

    store = SessionStore(db_path)
    consent = store.record_consent(SECRET_NAME)
    session_id = store.create_session(
        consent.id, "tiny", CLASSES, "live", owner_id=user(db_path, "clinician").id
    )
    live = LiveProcessor()
    live.start_recording(SessionRecorder(store, session_id))
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at.session_state["live.processor"] = live
    at.session_state["replay.frames"] = "cached patient data"
    at = at.run()
    AccountStore(db_path).set_role("clinician.one", "reviewer")
    at = at.run()
    assert not at.exception, at.exception
    assert registered_pages(at) == EXPECTED_PAGES["reviewer"]
    assert "replay.frames" not in at.session_state
    assert "live.processor" not in at.session_state
    assert live.recorder is None and store.get_session(session_id).ended_at is not None


def test_a_role_that_keeps_patient_data_keeps_the_page_state(db_path):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at.session_state["replay.frames"] = "cached patient data"
    at = at.run()
    AccountStore(db_path).set_role("clinician.one", "admin")
    at = at.run()
    assert registered_pages(at) == EXPECTED_PAGES["admin"]
    assert at.session_state["replay.frames"] == "cached patient data"

# ---------------------------------------------------------------------------------- errors


def test_an_unexpected_error_shows_only_an_error_id(db_path, monkeypatch):
    import fer.evaluation.reports

    def broken(*args, **kwargs):
        raise RuntimeError("/secret/path/in/the/traceback")

    monkeypatch.setattr(fer.evaluation.reports, "saved_report_paths", broken)
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "reviewer"))
    at.run()
    at.switch_page(str(ROOT / "pages" / "3_Evaluation.py")).run()
    assert not at.exception, at.exception
    (error,) = at.error
    assert error.value.startswith("Something went wrong (error id ")
    assert "/secret/path" not in everything_shown(at)


def test_a_corrupt_database_gives_a_clear_message(tmp_path, monkeypatch):
    path = tmp_path / "sessions.db"
    path.write_bytes(b"this is not a database file" * 100)
    monkeypatch.setenv("FER_SESSION_DB", str(path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    (error,) = at.error
    assert "session database could not be read" in error.value and "error id" in error.value
    assert str(tmp_path) not in error.value


def test_a_database_that_breaks_after_login_gives_a_clear_message(db_path):
    at = log_in(AppTest.from_file(APP, default_timeout=TIMEOUT), user(db_path, "clinician"))
    at.run()
    db_path.write_bytes(b"\0" * 4096 + b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    at.switch_page(str(ROOT / "pages" / "5_Session_replay.py")).run()
    assert not at.exception, at.exception
    assert any("session database could not be read" in error.value for error in at.error)


# ------------------------------------------------------------------------------ maintenance


def old_session(db_path: Path, days_ago: int, owner) -> int:
    store = SessionStore(db_path)
    when = datetime.now(UTC) - timedelta(days=days_ago)
    consent = store.record_consent("Old Client", given_at=when)
    return store.create_session(
        consent.id, "tiny", CLASSES, "video", started_at=when, ended_at=when + timedelta(hours=1),
        owner_id=owner.id,
    )


def test_start_up_closes_abandoned_sessions_and_purges_old_ones(db_path, monkeypatch):
    monkeypatch.setenv("FER_RETENTION_DAYS", "30")
    clinician = user(db_path, "clinician")
    old = old_session(db_path, 40, clinician)
    recent = old_session(db_path, 10, clinician)
    store = SessionStore(db_path)
    assert any(info.ended_at is None for info in store.list_sessions())  # the fixture's
    AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    remaining = {info.id: info for info in store.list_sessions()}
    assert old not in remaining and recent in remaining
    assert all(info.ended_at is not None for info in remaining.values())
    actions = [action for actor, action, _ in audit_actions(db_path) if actor == "system"]
    assert actions == ["close_abandoned_sessions", "purge_sessions"]


def test_the_purge_runs_again_after_a_day(db_path, monkeypatch):
    from ui import resources

    monkeypatch.setenv("FER_RETENTION_DAYS", "30")
    clinician = user(db_path, "clinician")
    start = time.time()
    assert resources.run_maintenance(start) == 0
    old_session(db_path, 40, clinician)
    assert resources.run_maintenance(start + 3600) == 0  # not yet a day since the last purge
    assert resources.run_maintenance(start + 25 * 3600) == 1


@pytest.mark.parametrize("value", ["thirty", "0", "-3"])
def test_a_malformed_retention_setting_is_refused(value):
    from ui import resources

    with pytest.raises(ValueError, match="FER_RETENTION_DAYS"):
        resources.retention_days({"FER_RETENTION_DAYS": value})


def test_the_research_fixture_session_stays_visible_to_admins_only(db_path):
    session_id = make_session_db(db_path)
    store = SessionStore(db_path)
    assert session_id in {info.id for info in store.list_sessions(viewer=user(db_path, "admin"))}
    clinician_view = store.list_sessions(viewer=user(db_path, "clinician"))
    assert session_id not in {info.id for info in clinician_view}
