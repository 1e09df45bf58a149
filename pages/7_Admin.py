"""Admin: user accounts (add, change role, reset password, disable), sharing a session with
another clinician, and the audit log (shown and exported as CSV)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import auth, research, resources
from ui.text import plain

AUDIT_ROWS = 1000


AUDIT_HEADINGS = {
    "at": "When", "actor": "Who", "action": "Action", "target": "On what", "detail": "Details",
}


def users_table(users) -> pd.DataFrame:
    rows = [
        {
            "User": user.name,
            "Role": user.role,
            "Status": "disabled" if user.disabled_at else "active",
            "Disabled since": user.disabled_at,
        }
        for user in users
    ]
    return pd.DataFrame(rows, columns=["User", "Role", "Status", "Disabled since"])


def active_others(users, me) -> list:
    """Active accounts other than the admin's own (an admin cannot lock themselves out)."""
    return [u for u in users if u.id != me.id and u.disabled_at is None]


def new_password_pair(label: str, key: str, repeat_label: str, repeat_key: str):
    """A form's two password boxes side by side: the password and its repetition."""
    left, right = st.columns(2)
    password = left.text_input(
        label, type="password", key=key, autocomplete="new-password"
    )
    repeated = right.text_input(
        repeat_label, type="password", key=repeat_key, autocomplete="new-password"
    )
    return password, repeated


def passwords_match(password: str, repeated: str) -> bool:
    """Whether the two boxes agree; says so when they do not."""
    if password != repeated:
        st.error("The two passwords differ; nothing was changed.")
    return password == repeated


def add_user_form(accounts) -> None:
    from fer.accounts import ROLES

    with st.form("admin.add_form", clear_on_submit=True):
        st.markdown("**Add a user**")
        left, right = st.columns(2)
        name = left.text_input("User name", key="admin.add_name")
        role = right.selectbox("Role", ROLES, key="admin.add_role")
        password, repeated = new_password_pair(
            "Password (at least 12 characters)", "admin.add_password",
            "Repeat the password", "admin.add_repeat",
        )
        submitted = st.form_submit_button(
            "Add user", key="admin.add", icon=":material/person_add:"
        )
    if not submitted or not passwords_match(password, repeated):
        return
    try:
        user = accounts.add_user(name.strip(), role, password, actor=auth.actor_name())
    except ValueError as error:
        st.error(plain(f"The user could not be added: {error}"))
        return
    st.session_state["admin.notice"] = f"User added ({user.role})."
    st.rerun()


def role_form(accounts, others) -> None:
    from fer.accounts import ROLES

    with st.form("admin.role_form"):
        st.markdown("**Change a role**")
        left, right = st.columns(2)
        name = left.selectbox("User", [u.name for u in others], key="admin.role_user")
        role = right.selectbox("New role", ROLES, key="admin.role_role")
        submitted = st.form_submit_button("Change role", key="admin.role")
    if not submitted or name is None:
        return
    try:
        accounts.set_role(name, role, actor=auth.actor_name())
    except ValueError as error:
        st.error(plain(f"The role could not be changed: {error}"))
        return
    st.session_state["admin.notice"] = "Role changed; it applies from the user's next click."
    st.rerun()


def password_form(accounts, users) -> None:
    with st.form("admin.password_form", clear_on_submit=True):
        st.markdown("**Reset a password**")
        name = st.selectbox("User", [u.name for u in users], key="admin.password_user")
        password, repeated = new_password_pair(
            "New password (at least 12 characters)", "admin.password_new",
            "Repeat it", "admin.password_repeat",
        )
        submitted = st.form_submit_button("Set password", key="admin.password")
    if not submitted or name is None or not passwords_match(password, repeated):
        return
    try:
        accounts.set_password(name, password, actor=auth.actor_name())
    except ValueError as error:
        st.error(plain(f"The password could not be set: {error}"))
        return
    st.session_state["admin.notice"] = "Password set."
    st.rerun()


def disable_form(accounts, others) -> None:
    with st.form("admin.disable_form"):
        st.markdown("**Disable a user** (the account stays in the audit trail)")
        name = st.selectbox("User", [u.name for u in others], key="admin.disable_user")
        confirmed = st.checkbox("Disable this account now", key="admin.disable_confirm")
        submitted = st.form_submit_button(
            "Disable user", key="admin.disable", icon=":material/person_off:"
        )
    if not submitted or name is None:
        return
    if not confirmed:
        st.error("Tick the box to confirm.")
        return
    try:
        accounts.disable_user(name, actor=auth.actor_name())
    except ValueError as error:
        st.error(plain(f"The user could not be disabled: {error}"))
        return
    st.session_state["admin.notice"] = "User disabled; their open login ends at their next click."
    st.rerun()


def users_tab(me) -> None:
    accounts = resources.account_store()
    users = accounts.list_users()
    st.dataframe(users_table(users), hide_index=True)
    add_user_form(accounts)
    others = active_others(users, me)
    if not others:
        st.caption("No other active user yet: add one above.")
        return
    role_form(accounts, others)
    password_form(accounts, [u for u in users if u.disabled_at is None])
    disable_form(accounts, others)


def sharing_tab(me) -> None:
    st.caption(
        "A clinician sees the sessions they recorded and those shared with them here. Sessions "
        "recorded before accounts existed have no owner: only admins see them until shared."
    )
    store = research.session_store()
    session_id = research.pick_session(store, "admin.share_session", me)
    if session_id is None:
        return
    users = resources.account_store().list_users()
    clinicians = [
        u for u in users if u.role == auth.CLINICIAN and u.disabled_at is None
    ]
    if not clinicians:
        st.info("There is no active clinician account to share with.")
        return
    with st.form("admin.share_form"):
        name = st.selectbox("Share with", [u.name for u in clinicians], key="admin.share_user")
        submitted = st.form_submit_button(
            "Share session", key="admin.share", icon=":material/share:"
        )
    if not submitted or name is None:
        return
    user = next(u for u in clinicians if u.name == name)
    try:
        store.share_session(session_id, user.id, actor=me.name)
    except ValueError as error:
        st.error(plain(f"The session could not be shared: {error}"))
        return
    st.session_state["admin.notice"] = f"Session #{session_id} shared."
    st.rerun()


def audit_tab(me) -> None:
    log = resources.audit_log()
    entries = log.entries(limit=AUDIT_ROWS)
    st.caption(f"The newest {AUDIT_ROWS} entries; the export holds all of them.")
    # Actions in words on screen ("view session"); the CSV export keeps the recorded names.
    shown = entries.assign(action=entries["action"].astype(str).str.replace("_", " "))
    st.dataframe(shown.rename(columns=AUDIT_HEADINGS), hide_index=True)

    st.download_button(
        "Export the audit log (CSV)", auth.audit_log_export(log, me.name),
        file_name="audit_log.csv", mime="text/csv", key="admin.audit_export", on_click="ignore",
        icon=":material/download:",
    )


def main() -> None:
    me = auth.require_role(*auth.ADMIN_ROLES)
    st.title("Administration")
    notice = st.session_state.pop("admin.notice", None)
    if notice:
        st.success(notice, icon=":material/check:")
    users, sharing, audit_log = st.tabs(["Users", "Session sharing", "Audit log"])
    with users:
        users_tab(me)
    with sharing:
        sharing_tab(me)
    with audit_log:
        audit_tab(me)


if __name__ == "__main__":
    main()
