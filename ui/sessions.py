"""Recorded sessions on the pages: the export buttons (built only when pressed, and audited), the
confirmed deletion, and what a page says about a session's consent.

Every store call passes the logged-in user as ``viewer``: the store itself refuses a session the
user may not see (``SessionNotFoundError``, as if it did not exist).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from ui.auth import audit
from ui.text import plain


def _audited_export(audit_log, user, session_id: int, kind: str, build: Callable[[], str]):
    """The ``data=`` callable of a download button. Streamlit runs it in another thread when the
    button is pressed, so it uses no ``st.*``: the store and the audit log are passed in."""

    def export() -> str:
        text = build()
        audit_log.record(user.name, "export_session", target=f"session {session_id}", detail=kind)
        return text

    return export


def export_buttons(store, session_id: int, user, key: str, columns=None) -> None:
    """"Download CSV" and "Download JSON" of one session, checked against ``user`` and audited
    when pressed (the export is not built on reruns)."""
    from ui.resources import audit_log

    log = audit_log()
    columns = columns or st.columns(2)
    columns[0].download_button(
        "Download CSV",
        _audited_export(
            log, user, session_id, "frames csv",
            lambda: store.export_csv(session_id, viewer=user),
        ),
        file_name=f"session_{session_id}.csv", mime="text/csv", key=f"{key}.download_csv",
        on_click="ignore", icon=":material/download:",
    )
    columns[1].download_button(
        "Download JSON",
        _audited_export(
            log, user, session_id, "json",
            lambda: store.export_json(session_id, viewer=user),
        ),
        file_name=f"session_{session_id}.json", mime="application/json",
        key=f"{key}.download_json", on_click="ignore", icon=":material/download:",
    )


def audited_download(
    label: str, build: Callable[[], str], file_name: str, key: str, user, session_id: int,
    kind: str,
) -> None:
    """One download button of a text export of session ``session_id`` (built when pressed)."""
    from ui.resources import audit_log

    st.download_button(
        label, _audited_export(audit_log(), user, session_id, kind, build),
        file_name=file_name, mime="text/csv", key=key, on_click="ignore",
        icon=":material/download:",
    )


def record_view(session_id: int) -> None:
    """Audit that the logged-in user opened session ``session_id`` (once per browser session,
    not on every rerun of the page)."""
    viewed = st.session_state.setdefault("sessions.viewed", set())
    if session_id in viewed:
        return
    audit("view_session", target=f"session {session_id}")
    viewed.add(session_id)


def consent_status(info) -> None:
    """Whose consent a session was recorded under, and whether it was withdrawn."""
    given = info.consent_given_at.astimezone().strftime("%Y-%m-%d %H:%M")
    withdrawn_at = info.consent_withdrawn_at
    st.text(f"Consent by {info.consent_by}, given at {given}")
    if withdrawn_at is not None:
        withdrawn = withdrawn_at.astimezone().strftime("%Y-%m-%d %H:%M")
        st.warning(
            f"Consent withdrawn at {withdrawn}. This session is kept because the clinic's policy "
            "requires keeping records; nothing more can be recorded under this consent.",
            icon=":material/block:",
        )


def delete_form(store, session_id: int, user, key: str) -> bool:
    """Delete session ``session_id`` after an explicit confirmation. True once deleted."""
    with st.form(f"{key}.delete_form"):
        confirmed = st.checkbox(
            f"Delete session #{session_id} and all its results for good",
            key=f"{key}.delete_confirm",
        )
        submitted = st.form_submit_button(
            "Delete session", key=f"{key}.delete", icon=":material/delete:"
        )
    if not submitted:
        return False
    if not confirmed:
        st.error("Tick the box to confirm; a deleted session cannot be brought back.")
        return False
    try:
        store.delete_session(session_id, viewer=user)
    except ValueError as error:
        st.error(plain(f"The session could not be deleted: {error}"))
        return False
    audit("delete_session", target=f"session {session_id}")
    return True
