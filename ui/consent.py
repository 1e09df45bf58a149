"""The consent step shared by the Live and Upload pages.

Until the person's consent is stored (``SessionStore.record_consent``) the pages render nothing
that sees or stores a face. The store enforces the same rule on every write, so this gate is a
convenience for the user, not the only guard.
"""

from __future__ import annotations

import streamlit as st

from fer.sessions.records import Consent
from fer.sessions.schema import CONSENT_STATEMENT


def _state_key(page: str) -> str:
    return f"{page}.consent"


def current_consent(page: str) -> Consent | None:
    return st.session_state.get(_state_key(page))


def consent_gate(store, page: str, purpose: str) -> Consent | None:
    """Ask for consent until it is recorded; return the stored consent afterwards.

    ``page`` namespaces the widgets and session-state keys (``"live"``, ``"upload"``), so consent
    given on one page does not silently cover another use.
    """
    consent = current_consent(page)
    if consent is not None:
        return consent
    st.subheader("Consent")
    st.markdown(f"{purpose}\n\n> {CONSENT_STATEMENT}")
    # A form: name and checkbox arrive with the click in one rerun (no rerun per keystroke that
    # could swallow a quick click), and Enter in the name field does not submit.
    with st.form(f"{page}.consent_form", enter_to_submit=False):
        name = st.text_input("Name of the person consenting", key=f"{page}.consent_name")
        agreed = st.checkbox(
            "The person named above has read the statement and agrees to it",
            key=f"{page}.consent_checkbox",
        )
        submitted = st.form_submit_button(
            "I consent", key=f"{page}.consent_button", type="primary"
        )
    if submitted:
        if not name.strip():
            st.error("Enter the name of the person giving consent.")
        elif not agreed:
            st.error("Tick the box to confirm the person agrees; nothing is recorded without it.")
        else:
            try:
                consent = store.record_consent(name)
            except ValueError as error:
                st.error(f"Consent could not be recorded: {error}")
            else:
                st.session_state[_state_key(page)] = consent
                st.rerun()
    return None


def consent_banner(store, page: str, on_withdraw=None) -> None:
    """Who consented and when, with a button to withdraw (which ends the page's sessions)."""
    consent = current_consent(page)
    if consent is None:
        return
    given = consent.given_at.astimezone().strftime("%Y-%m-%d %H:%M")
    columns = st.columns([4, 1])
    columns[0].success(f"Consent given by **{consent.given_by}** at {given}.")
    if columns[1].button("Withdraw consent", key=f"{page}.withdraw"):
        if on_withdraw is not None:
            on_withdraw()
        store.withdraw_consent(consent.id)
        del st.session_state[_state_key(page)]
        st.rerun()
