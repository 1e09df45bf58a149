"""Who is logged in: the login form, the role check every page makes, the idle time-out and
logout, and the audit records they write.

The login lives in ``st.session_state`` (one browser tab's session): a reload or a new tab starts
logged out. ``app.py`` shows only the login page until :func:`log_in` has run, and every page calls
:func:`require_role` itself as well, so a page reached some other way still shows nothing.

Environment (read here, at the edge): ``FER_IDLE_TIMEOUT_MIN`` (default 15, more than 0 and at
most 480) minutes without activity log the user out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import streamlit as st

from fer.accounts import LockedOutError, LoginError, UserNotFoundError
from fer.config import minutes_from_env
from ui import resources

USER_KEY = "auth.user"
LAST_ACTIVITY_KEY = "auth.last_activity"
NOTICE_KEY = "auth.notice"
# The recordings this browser session started in remote rooms, as {room id: session id}
# (pages/9_Session_room.py): a clinician may record in several rooms at once.
ROOM_RECORDINGS_KEY = "rooms.recordings"
IDLE_TIMEOUT_ENV = "FER_IDLE_TIMEOUT_MIN"
DEFAULT_IDLE_TIMEOUT_MIN = 15.0
# A working day: a longer time-out would leave an unattended screen logged in overnight.
MAX_IDLE_TIMEOUT_MIN = 480.0
IDLE_CHECK_EVERY_S = 30
# How often a fragment that reruns by itself reads the account again (account_unchanged).
ACCOUNT_RECHECK_S = 5.0
ACCOUNT_CHECKED_KEY = "auth.account_checked_at"

CLINICIAN, REVIEWER, ADMIN = "clinician", "reviewer", "admin"
EVERYONE = (CLINICIAN, REVIEWER, ADMIN)
# Who may see recorded sessions (patient data): the clinicians who record them, and admins.
PATIENT_DATA_ROLES = (CLINICIAN, ADMIN)
# Who may see the research pages (models and public datasets, no patient data).
RESEARCH_ROLES = (REVIEWER, ADMIN)
ADMIN_ROLES = (ADMIN,)
# Longest user name written to the audit log for a failed login (whatever was typed).
MAX_AUDITED_NAME = 100
UNKNOWN_LOGIN_NAME = "(unknown name)"


def idle_timeout_s(environ: Mapping[str, str] | None = None) -> float:
    """``$FER_IDLE_TIMEOUT_MIN`` in seconds (default 15 minutes); ``ValueError`` for anything
    but more than 0 and at most 480 minutes in ASCII digits
    (:func:`fer.config.minutes_from_env`)."""
    minutes = minutes_from_env(
        IDLE_TIMEOUT_ENV, DEFAULT_IDLE_TIMEOUT_MIN, 0.0, MAX_IDLE_TIMEOUT_MIN,
        low_inclusive=False, environ=environ,
    )
    return minutes * 60


def current_user():
    """The logged-in :class:`fer.accounts.User` of this browser session, or None."""
    return st.session_state.get(USER_KEY)


def actor_name() -> str:
    """Who the audit log names for this browser session's actions."""
    user = current_user()
    return user.name if user is not None else "anonymous"


def audit(action: str, target: str = "", detail: str = "", actor: str | None = None) -> None:
    """Append to the audit log as the logged-in user (or ``actor``), for actions that change
    nothing stored (viewing, logging in); a change is audited by the store in its own
    transaction (the ``actor`` arguments of the stores' methods)."""
    resources.audit_log().record(actor or actor_name(), action, target=target, detail=detail)


def audit_log_export(log, actor: str):
    """The ``data=`` callable of the audit log's download button: the CSV, built when pressed,
    and the export itself recorded. Runs in another thread, so it uses no ``st.*``."""

    def export() -> str:
        text = log.export_csv()
        log.record(actor, "export_audit_log")
        return text

    return export


def touch() -> None:
    """Note activity now (the idle time-out counts from the last one)."""
    st.session_state[LAST_ACTIVITY_KEY] = time.monotonic()


def idle_for_s() -> float | None:
    last = st.session_state.get(LAST_ACTIVITY_KEY)
    return None if last is None else time.monotonic() - last


def log_in(user) -> None:
    # A fresh start: nothing another user left in this browser session survives a login.
    st.session_state.clear()
    st.session_state[USER_KEY] = user
    touch()
    audit("login", actor=user.name)


def log_out(reason: str = "", notice: str | None = None) -> None:
    """End the login: stop any live analysis, forget everything this browser session held."""
    user = current_user()
    _stop_live_analysis()
    st.session_state.clear()
    if user is not None:
        audit("logout", detail=reason, actor=user.name)
    if notice:
        st.session_state[NOTICE_KEY] = notice


def _stop_live_analysis() -> None:
    """The Live page's frame processor lives on in the webrtc worker: detach it from the
    recognizer and end its recording before the session state that holds it is cleared. A
    failure here is logged; it never keeps a user logged in."""
    from ui.errors import LOGGER, new_error_id

    processor = st.session_state.get("live.processor")
    recognizer = st.session_state.get("live.recognizer")
    try:
        if processor is not None:
            processor.configure(None, False)
            recorder = processor.stop_recording()
            if recorder is not None:
                recorder.close()
        if recognizer is not None:
            recognizer.close()
    except Exception as error:  # the recording's last rows could not be saved
        error_id = new_error_id()
        LOGGER.error("error id %s: stopping live analysis at logout", error_id, exc_info=error)
    _stop_room_recordings()


def _stop_room_recordings() -> None:
    """Remote rooms' recordings started from this browser session are flushed by their page:
    without the page they end here, each whatever happens to the others (the clients'
    analysis goes on; only they can stop it). A recording another browser session started
    in one of these rooms since is not this one's to end."""
    from ui.errors import LOGGER, new_error_id
    from ui.rooms import room_registry

    for room_id, session_id in st.session_state.get(ROOM_RECORDINGS_KEY, {}).items():
        live_room = room_registry().get(room_id)
        try:
            recorder = None if live_room is None else live_room.stop_recording(session_id)
            if recorder is not None:
                recorder.close()
        except Exception as error:  # the recording's last rows could not be saved
            error_id = new_error_id()
            LOGGER.error(
                "error id %s: ending room %s's recording at logout", error_id, room_id,
                exc_info=error,
            )


def check_session():
    """The logged-in user, re-read from the account store; None (after logging out) when the
    login has been idle too long or the account was disabled meanwhile.

    Every full page run calls this; it counts as activity.
    """
    user = current_user()
    if user is None:
        return None
    idle = idle_for_s()
    timeout_s = idle_timeout_s()
    if idle is None or idle > timeout_s:
        log_out(
            "idle timeout",
            f"You were logged out after {timeout_s / 60:g} minutes without activity.",
        )
        return None
    try:
        fresh = resources.account_store().get_user(user.id)
    except UserNotFoundError:
        fresh = None
    if fresh is None or fresh.disabled_at is not None:
        log_out("account disabled", "Your account is not active. Ask the administrator.")
        return None
    if user.sees_patient_data and not fresh.sees_patient_data:
        # Given a role without patient data meanwhile: nothing of what the old role recorded
        # or loaded (a recording, frames, a consent's name) stays in this browser session.
        _stop_live_analysis()
        st.session_state.clear()
    st.session_state[USER_KEY] = fresh  # a role an admin changed applies from this run on
    touch()
    return fresh


def account_unchanged(user, every_s: float = ACCOUNT_RECHECK_S) -> bool:
    """For a fragment that reruns by itself (and so skips :func:`check_session`): whether
    ``user``'s account is still enabled with the same role, read again at most every
    ``every_s`` seconds. False means: rerun the whole page, which logs out or re-checks."""
    checked = st.session_state.get(ACCOUNT_CHECKED_KEY)
    now = time.monotonic()
    if checked is not None and now - checked < every_s:
        return True
    try:
        fresh = resources.account_store().get_user(user.id)
    except UserNotFoundError:
        return False
    st.session_state[ACCOUNT_CHECKED_KEY] = now
    return fresh.disabled_at is None and fresh.role == user.role


def require_role(*roles: str):
    """The logged-in user if their role is one of ``roles``; otherwise a message and
    ``st.stop()``. Each page calls this first, whatever ``app.py`` already checked.

    A page that Streamlit started without ``app.py`` (its older pages-folder mode, see
    ``ui.navigation``) renders nothing and reruns through ``app.py`` instead."""
    from ui.navigation import leave_pages_folder_mode

    if leave_pages_folder_mode():
        st.rerun()
    user = check_session()
    if user is None:
        st.warning("Log in to use this page.", icon=":material/lock:")
        st.stop()
    if user.role not in roles:
        st.error("This page is not available to your role.", icon=":material/block:")
        st.stop()
    return user


# ------------------------------------------------------------------------------------ widgets


def login_form() -> None:
    """The login page: name and password; lock-out messages come from the account store."""
    from ui.navigation import leave_pages_folder_mode

    if leave_pages_folder_mode():  # started without app.py (see ui.navigation): go through it
        st.rerun()
    st.title("Log in")
    st.caption(
        "The facial-expression workbench holds recorded therapy sessions. Log in with the "
        "account your administrator gave you."
    )
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/info:")
    # clear_on_submit: the password does not stay in the session state after this run.
    with st.form("auth.login_form", clear_on_submit=True):
        name = st.text_input("User name", key="auth.name", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="auth.password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Log in", type="primary", key="auth.login")
    if not submitted:
        return
    accounts = resources.account_store()
    try:
        user = accounts.authenticate(name.strip(), password)
    except LockedOutError as error:  # nothing was tried: nothing to audit, no row per request
        st.error(str(error), icon=":material/lock:")
        return
    except LoginError as error:
        audit("login_failed", actor=audited_login_name(accounts, name))
        st.error(str(error), icon=":material/lock:")
        return
    log_in(user)
    st.rerun()


def audited_login_name(accounts, typed: str) -> str:
    """Who a failed login is recorded as: the account's name when one has it, otherwise
    "(unknown name)". What was typed is never kept as such: people type their password into
    the name box, and the audit log keeps everything for good."""
    try:
        return accounts.get_user_by_name(typed.strip()[:MAX_AUDITED_NAME]).name
    except (UserNotFoundError, ValueError):
        return UNKNOWN_LOGIN_NAME


def sidebar(user) -> None:
    """Who is logged in, the logout button and the idle watcher."""
    with st.sidebar:
        st.caption("Logged in as")
        st.text(f"{user.name} ({user.role})")
        if st.button("Log out", icon=":material/logout:", key="auth.logout"):
            log_out("logout button")
            st.rerun()
        _idle_watcher()


@st.fragment(run_every=IDLE_CHECK_EVERY_S)
def _idle_watcher() -> None:
    """Reruns the whole app once the login has been idle too long, so an unattended screen
    clears itself. Its own timer runs do not count as activity."""
    idle = idle_for_s()
    if current_user() is not None and idle is not None and idle > idle_timeout_s():
        st.rerun(scope="app")
