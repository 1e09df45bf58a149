"""The consent steps shared by the Live, Upload and Session replay pages: recording consent,
withdrawing it (deleting what was recorded, or keeping it where the clinic's policy requires),
and erasing or pseudonymising the name on a consent record.

Until the person's consent is stored (``SessionStore.record_consent``) the Live and Upload pages
render nothing that sees or stores a face. The store and the database's triggers enforce the same
rule on every write, so this gate is a convenience for the user, not the only guard.

Names are shown with ``st.text`` (plain text), never as markdown.
"""

from __future__ import annotations

import streamlit as st

from fer.sessions.records import AccessDeniedError, Consent
from fer.sessions.schema import CONSENT_STATEMENT
from ui.auth import actor_name, current_user
from ui.text import plain

DELETE, KEEP = "delete", "keep"
WITHDRAW_CHOICES = {
    DELETE: "Delete everything recorded under this consent (default)",
    KEEP: "Keep the recorded sessions, because the clinic's policy requires keeping records",
}
KEPT_STATEMENT = (
    "Consent was withdrawn; its sessions are kept because the clinic's policy requires keeping "
    "records. They are marked as withdrawn, and nothing more is recorded under this consent."
)


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
        # Read again on every run: the consent may have been withdrawn on another page, in
        # another tab or by an admin, and nothing more may be recorded under it.
        try:
            consent = store.get_consent(consent.id)  # also shows a name erased meanwhile
        except ValueError:  # no longer on record
            consent = None
        if consent is not None and consent.withdrawn_at is None:
            st.session_state[_state_key(page)] = consent
            show_withdrawal_notice(page)
            return consent
        del st.session_state[_state_key(page)]
        st.session_state[f"{page}.withdrawal_notice"] = (
            "The consent on record was withdrawn elsewhere (another page, another tab or an "
            "administrator); nothing more is recorded under it. Ask for consent again to go on."
        )
    show_withdrawal_notice(page)
    st.subheader("Consent")
    st.markdown(f"{purpose}\n\n> {CONSENT_STATEMENT}")
    # A form: name and checkbox arrive with the click in one rerun (no rerun per keystroke that
    # could swallow a quick click), and Enter in the name field does not submit.
    with st.form(f"{page}.consent_form", enter_to_submit=False):
        name = st.text_input("Name of the person consenting", key=f"{page}.consent_name")
        client_code = st.text_input(
            "Client code (optional)", key=f"{page}.client_code",
            help="A pseudonym the clinic uses for this person. The name can later be erased "
            "while the code and the consent's dates stay.",
        )
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
                consent = store.record_consent(
                    name, client_code=client_code.strip() or None, actor=actor_name()
                )
            except ValueError as error:
                st.error(plain(f"Consent could not be recorded: {error}"))
            else:
                st.session_state[_state_key(page)] = consent
                st.rerun()
    return None


def consent_banner(store, page: str, on_withdraw=None) -> None:
    """Who consented and when, with the withdrawal form (which ends the page's sessions)."""
    consent = current_consent(page)
    if consent is None:
        return
    given = consent.given_at.astimezone().strftime("%Y-%m-%d %H:%M")
    st.success("Consent on record.", icon=":material/verified_user:")
    st.text(f"Given by {consent.given_by} at {given}")
    with st.expander("Withdraw consent", icon=":material/block:"):
        withdrawn = withdraw_form(store, consent.id, page, on_withdraw)
    if withdrawn:
        del st.session_state[_state_key(page)]
        st.rerun()


def withdraw_form(store, consent_id: int, key: str, before_withdraw=None) -> bool:
    """Withdraw consent ``consent_id``, asking whether to delete what was recorded (the default)
    or keep it under the clinic's policy. True once withdrawn; the next run shows a notice."""
    with st.form(f"{key}.withdraw_form"):
        choice = st.radio(
            "What happens to the sessions recorded under this consent?",
            list(WITHDRAW_CHOICES), format_func=WITHDRAW_CHOICES.get, key=f"{key}.withdraw_choice",
        )
        submitted = st.form_submit_button("Withdraw consent", key=f"{key}.withdraw")
    if not submitted:
        return False
    if before_withdraw is not None:
        before_withdraw()
    delete = choice == DELETE
    try:
        n_deleted = store.withdraw_consent(
            consent_id, delete_data=delete, viewer=current_user(), actor=actor_name()
        )
    except (ValueError, AccessDeniedError) as error:
        st.error(plain(f"Consent could not be withdrawn: {error}"))
        return False
    if delete:
        notice = (
            f"Consent withdrawn. {n_deleted} recorded session(s) and all their results were "
            "deleted."
        )
    else:
        notice = KEPT_STATEMENT
    st.session_state[f"{key}.withdrawal_notice"] = notice
    return True


def show_withdrawal_notice(key: str) -> None:
    notice = st.session_state.pop(f"{key}.withdrawal_notice", None)
    if notice:
        st.info(notice, icon=":material/info:")


def erase_name_form(store, consent_id: int, key: str) -> bool:
    """Replace the name on consent ``consent_id`` by a pseudonym, or erase it; the consent's
    dates stay. True once done."""
    with st.form(f"{key}.erase_form"):
        replacement = st.text_input(
            "Pseudonym to show instead (leave empty to erase the name)",
            key=f"{key}.erase_replacement",
        )
        confirmed = st.checkbox(
            "Remove the person's name from this consent record, its sessions and their notes",
            key=f"{key}.erase_confirm",
        )
        submitted = st.form_submit_button("Erase the name", key=f"{key}.erase")
    if not submitted:
        return False
    if not confirmed:
        st.error("Tick the box to confirm; the name cannot be brought back afterwards.")
        return False
    try:
        store.erase_consent_name(
            consent_id, replacement.strip() or None, viewer=current_user(), actor=actor_name()
        )
    except (ValueError, AccessDeniedError) as error:
        st.error(plain(f"The name could not be erased: {error}"))
        return False
    return True
