"""Consents and sharing write their audit entry in the transaction of the change: with the
change or not at all (an entry that cannot be written undoes the change)."""

from __future__ import annotations

import threading

import pytest

from fer.accounts import AccountStore
from fer.accounts.audit import append_entry
from fer.sessions import retention
from fer.sessions.records import ConsentError, SessionNotFoundError
from fer.sessions.store import SessionStore
from fer.storage.database import write_transaction
from tests.sessions.helpers import CLASSES, audit_entries, count, record

PASSWORD = "correct horse battery"


@pytest.fixture
def location(database_location, cheap_password_hashes):
    return database_location


def test_a_consent_and_its_audit_entry_commit_together(location):
    store = SessionStore(location)
    consent = store.record_consent("Dana Client", actor="dr.a")
    assert audit_entries(location) == [("dr.a", "record_consent", f"consent {consent.id}", "")]
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.record_consent("Eve Client", actor="")
    assert count(store, "consents") == 1 and len(audit_entries(location)) == 1


def test_a_recorded_session_and_its_audit_entry_commit_together(location):
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(
        consent.id, "m", CLASSES, "video", frames=[record(0.0), record(0.5)], actor="dr.a"
    )
    detail = f"video, consent {consent.id}, 2 frames"
    assert audit_entries(location) == [("dr.a", "record_session", f"session {session_id}", detail)]
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.create_session(consent.id, "m", CLASSES, "live", actor="")
    assert count(store, "sessions") == 1 and len(audit_entries(location)) == 1


@pytest.mark.parametrize("delete_data", [True, False])
def test_a_withdrawal_is_audited_with_what_happened_to_the_sessions(location, delete_data):
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    store.create_session(consent.id, "ferplus", CLASSES, "live")
    # An entry that cannot be written: nothing is withdrawn, nothing deleted.
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.withdraw_consent(consent.id, delete_data=delete_data, actor="")
    assert store.get_consent(consent.id).withdrawn_at is None
    assert count(store, "sessions") == 1 and audit_entries(location) == []
    deleted = store.withdraw_consent(consent.id, delete_data=delete_data, actor="dr.a")
    detail = "deleted 1 session(s)" if delete_data else "sessions kept (clinic policy)"
    assert deleted == (1 if delete_data else 0)
    expected = [("dr.a", "withdraw_consent", f"consent {consent.id}", detail)]
    assert audit_entries(location) == expected
    assert store.get_consent(consent.id).withdrawn_at is not None


def test_a_name_erasure_is_audited_without_the_name(location):
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.erase_consent_name(consent.id, actor="")
    assert store.get_consent(consent.id).given_by == "Dana Client"
    store.erase_consent_name(consent.id, "Client D", actor="dr.a")
    store.erase_consent_name(consent.id, actor="dr.a")
    assert audit_entries(location) == [
        ("dr.a", "erase_consent_name", f"consent {consent.id}", "pseudonymised"),
        ("dr.a", "erase_consent_name", f"consent {consent.id}", "erased"),
    ]
    assert "Dana" not in repr(audit_entries(location))
    with pytest.raises(ConsentError):
        store.erase_consent_name(consent.id + 1, actor="dr.a")
    assert len(audit_entries(location)) == 2


def test_sharing_is_audited_with_the_clinician_it_was_shared_with(location):
    accounts = AccountStore(location)
    bert = accounts.add_user("bert", "clinician", PASSWORD)
    rita = accounts.add_user("rita", "reviewer", PASSWORD)
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(consent.id, "ferplus", CLASSES, "live")
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.share_session(session_id, bert.id, actor="")
    assert count(store, "session_shares") == 0
    with pytest.raises(ValueError, match="may not hold patient data"):
        store.share_session(session_id, rita.id, actor="admin")
    store.share_session(session_id, bert.id, actor="admin")
    assert count(store, "session_shares") == 1
    shared = ("admin", "share_session", f"session {session_id}", "with bert")
    assert audit_entries(location) == [shared]


def test_two_deletions_of_one_session_at_once_delete_and_audit_it_once(location):
    """The second deletion, begun while the first one's transaction was open, once saw the
    session still there, deleted nothing and wrote a second ``delete_session`` entry (the API
    answered both with 204); now it waits for the first and finds the session gone."""
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(consent.id, "ferplus", CLASSES, "live")
    outcome: list[str] = []

    def second_deletion() -> None:
        try:
            store.delete_session(session_id, actor="dr.b", erase=False)
            outcome.append("deleted")
        except SessionNotFoundError:
            outcome.append("not found")

    with write_transaction(store.engine) as connection:  # the first deletion, still open
        retention.delete_sessions(connection, [session_id])
        append_entry(connection, "dr.a", "delete_session", f"session {session_id}")
        second = threading.Thread(target=second_deletion)
        second.start()
        second.join(timeout=1.0)  # long enough to reach the session; it waits for this one
    second.join()
    assert outcome == ["not found"]
    assert audit_entries(location) == [("dr.a", "delete_session", f"session {session_id}", "")]


def test_closing_abandoned_sessions_and_its_audit_entry_commit_together(location):
    store = SessionStore(location)
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(consent.id, "m", CLASSES, "live", frames=[record(0.5)])
    # An entry that cannot be written: the session stays open, as if nothing had run.
    with pytest.raises(ValueError, match="audit entry's actor"):
        store.close_abandoned_sessions(actor="")
    assert store.get_session(session_id).ended_at is None and audit_entries(location) == []
    assert store.close_abandoned_sessions(actor="system") == 1
    assert store.get_session(session_id).ended_at is not None
    assert store.close_abandoned_sessions(actor="system") == 0  # nothing closed: no entry
    assert audit_entries(location) == [
        ("system", "close_abandoned_sessions", "", "1 session(s) closed")
    ]
