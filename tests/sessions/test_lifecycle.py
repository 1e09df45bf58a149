"""Consent withdrawal (with or without deletion), name erasure, retention, crashed sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from fer.sessions.records import ConsentError, SessionEndedError, SessionNotFoundError
from tests.sessions.helpers import CLASSES, count, record

HOUR = timedelta(hours=1)


def test_withdrawal_deletes_the_persons_sessions_by_default(store):
    consent = store.record_consent("Dana")
    other = store.record_consent("Kim")
    for _ in range(2):
        store.create_session(consent.id, "m", CLASSES, "live", frames=[record()])
    kept = store.create_session(other.id, "m", CLASSES, "live", frames=[record()])
    assert store.withdraw_consent(consent.id) == 2
    assert [info.id for info in store.list_sessions()] == [kept]
    assert count(store, "frames") == 1
    assert store.get_consent(consent.id).withdrawn_at is not None  # the evidence stays


def test_withdrawal_may_keep_the_sessions_marked(store):
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "m", CLASSES, "live", frames=[record()])
    assert store.withdraw_consent(consent.id, delete_data=False) == 0
    info = store.get_session(session_id)
    assert info.consent_withdrawn_at == store.get_consent(consent.id).withdrawn_at
    assert info.ended_at == info.consent_withdrawn_at and info.n_frames == 1
    assert '"consent_withdrawn_at": "' in store.export_json(session_id)
    # The clinic may delete them later: withdrawing again deletes, the date stays.
    withdrawn_at = info.consent_withdrawn_at
    assert store.withdraw_consent(consent.id) == 1
    assert store.get_consent(consent.id).withdrawn_at == withdrawn_at
    with pytest.raises(SessionNotFoundError):
        store.get_session(session_id)


def test_a_backdated_withdrawal_is_refused(store):
    given = datetime.now(UTC) - 3 * HOUR
    consent = store.record_consent("Dana", given_at=given)
    started = given + HOUR
    store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    for at in (given - HOUR, started - timedelta(minutes=1)):
        with pytest.raises(ValueError, match="cannot be dated before"):
            store.withdraw_consent(consent.id, at=at)
    with pytest.raises(ValueError, match="future"):
        store.withdraw_consent(consent.id, at=datetime.now(UTC) + HOUR)
    assert store.get_consent(consent.id).withdrawn_at is None
    assert count(store, "sessions") == 1
    store.withdraw_consent(consent.id, at=started + timedelta(minutes=1), delete_data=False)
    assert store.get_consent(consent.id).withdrawn_at == started + timedelta(minutes=1)


def test_withdrawing_an_unknown_consent_is_refused(store):
    with pytest.raises(ConsentError):
        store.withdraw_consent(77)


def test_a_name_can_be_erased_or_pseudonymised_keeping_the_dates(store):
    consent = store.record_consent("Dana Client", client_code="C-17")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    store.erase_consent_name(consent.id)
    erased = store.get_consent(consent.id)
    assert erased.given_by == f"erased (consent {consent.id})"
    assert erased.given_at == consent.given_at and erased.erased_at is not None
    assert erased.client_code == "C-17"
    assert store.get_session(session_id).consent_by == erased.given_by
    assert store.get_session(session_id).client_code == "C-17"
    store.erase_consent_name(consent.id, replacement="Client C-17")
    assert store.get_session(session_id).consent_by == "Client C-17"
    with pytest.raises(ValueError):
        store.erase_consent_name(consent.id, replacement="   ")
    with pytest.raises(ConsentError):
        store.erase_consent_name(999)


def test_erasing_a_name_also_replaces_it_in_the_notes(store):
    consent = store.record_consent("Dana Client")
    other = store.record_consent("Dana Other")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    kept_id = store.create_session(other.id, "m", CLASSES, "live")
    store.set_notes(session_id, "DANA CLIENT arrived late; dana said Danamir called.")
    store.add_marker(session_id, 0.0, "Client looks away when Dana's mother is named")
    store.add_marker(kept_id, 0.0, "Dana Other smiles")
    store.erase_consent_name(consent.id)
    erased = f"erased (consent {consent.id})"
    assert store.get_session(session_id).notes == (
        f"{erased} arrived late; {erased} said Danamir called."
    )
    assert list(store.list_markers(session_id)["note"]) == [
        f"{erased} looks away when {erased}'s mother is named"
    ]
    # Another person's session keeps its notes, even where the names share a word.
    assert list(store.list_markers(kept_id)["note"]) == ["Dana Other smiles"]
    # A pseudonym given later replaces the name in the record, not the placeholder in notes.
    store.erase_consent_name(consent.id, replacement="Client C-17")
    assert store.get_session(session_id).notes.startswith(erased)


def test_an_ended_session_keeps_its_notes_and_markers(store):
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(consent.id, "m", CLASSES, "live", notes="as recorded")
    store.add_marker(session_id, 0.0, "as marked")
    store.end_session(session_id)
    with pytest.raises(SessionEndedError, match=f"Session {session_id} ended at .*notes"):
        store.set_notes(session_id, "rewritten afterwards")
    with pytest.raises(SessionEndedError, match=f"Session {session_id} has ended"):
        store.add_marker(session_id, 0.0, "added afterwards")
    assert store.get_session(session_id).notes == "as recorded"
    assert list(store.list_markers(session_id)["note"]) == ["as marked"]


@pytest.mark.parametrize("ended_by", ["end", "withdrawal"])
def test_erasing_a_name_still_redacts_the_notes_of_an_ended_session(store, ended_by):
    consent = store.record_consent("Dana Client")
    session_id = store.create_session(
        consent.id, "m", CLASSES, "live", notes="Dana arrived late"
    )
    store.add_marker(session_id, 0.0, "Dana looks away")
    if ended_by == "end":
        store.end_session(session_id)
    else:
        store.withdraw_consent(consent.id, delete_data=False)
    store.erase_consent_name(consent.id, replacement="Client C-17")
    assert store.get_session(session_id).notes == "Client C-17 arrived late"
    assert list(store.list_markers(session_id)["note"]) == ["Client C-17 looks away"]


def test_a_long_replacement_gives_way_to_a_mark_within_the_note_limit(store):
    from fer.sessions.schema import MAX_MARKER_NOTE_LENGTH

    consent = store.record_consent("Jo")
    session_id = store.create_session(consent.id, "m", CLASSES, "live")
    note = ("Jo " * (MAX_MARKER_NOTE_LENGTH // 3))[:MAX_MARKER_NOTE_LENGTH]
    store.add_marker(session_id, 0.0, note)
    store.erase_consent_name(consent.id, replacement="A very long pseudonym for this client")
    (redacted,) = store.list_markers(session_id)["note"]
    assert len(redacted) <= MAX_MARKER_NOTE_LENGTH
    assert "Jo" not in redacted and redacted.startswith("[name] [name]")


def test_redact_name_keeps_other_words_and_single_letters():
    from fer.sessions.retention import redact_name

    assert redact_name("Ann-Marie and Anne, A. Smith", "Anne A. Smith", "X") == (
        "Ann-Marie and X, X X"
    )
    assert redact_name("nothing here", "  ", "X") == "nothing here"
    # A file name the app writes into a session's notes: underscores end a word too.
    assert redact_name("Analysed file: Dana_Client_2024-05-01.mp4", "Dana Client", "X") == (
        "Analysed file: X_X_2024-05-01.mp4"
    )
    assert redact_name("Danamir_x and x_dana2", "Dana", "X") == "Danamir_x and x_dana2"


def test_retention_purges_sessions_started_before_the_cutoff(store):
    now = datetime.now(UTC)
    consent = store.record_consent("Dana", given_at=now - timedelta(days=1))
    old = store.create_session(consent.id, "m", CLASSES, "live", started_at=now - 20 * HOUR)
    new = store.create_session(consent.id, "m", CLASSES, "live", started_at=now - HOUR)
    store.add_frames(old, [record()])
    later = now + timedelta(hours=12)
    assert store.purge_older_than(2, now=later) == 0
    assert store.purge_older_than(1, now=later) == 1
    assert [info.id for info in store.list_sessions()] == [new]
    assert count(store, "frames") == 0
    for days in (0, -1, 1.5, True, "7"):
        with pytest.raises(ValueError, match="days"):
            store.purge_older_than(days)


def test_sessions_left_open_by_a_crash_end_at_their_last_frame(store):
    consent = store.record_consent("Dana", given_at=datetime.now(UTC) - HOUR)
    started = datetime.now(UTC) - timedelta(minutes=30)
    with_frames = store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    store.add_frames(with_frames, [record(1.0), record(12.5), record(3.0)])
    empty = store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    ended = store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    store.end_session(ended, started + HOUR / 2)
    assert store.close_abandoned_sessions(idle_for=timedelta(hours=2)) == 0
    assert store.close_abandoned_sessions() == 2
    assert store.get_session(with_frames).ended_at == started + timedelta(seconds=12.5)
    assert store.get_session(empty).ended_at == started
    assert store.get_session(ended).ended_at == started + HOUR / 2
    assert store.close_abandoned_sessions() == 0


def test_a_frame_time_stored_before_it_was_bounded_does_not_stop_crash_recovery(store):
    consent = store.record_consent("Dana", given_at=datetime.now(UTC) - HOUR)
    started = datetime.now(UTC) - timedelta(minutes=30)
    odd = store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    store.add_frames(odd, [record(1.0)])
    with store.engine.begin() as connection:  # as an older version could store it
        connection.execute(sqlalchemy.text("UPDATE frames SET t_seconds = 1.8e12"))
    plain = store.create_session(consent.id, "m", CLASSES, "live", started_at=started)
    assert store.close_abandoned_sessions(idle_for=timedelta(0)) == 2
    assert store.get_session(plain).ended_at == started
    assert started < store.get_session(odd).ended_at <= datetime.now(UTC)  # not in 116 days


def test_a_consent_keeps_its_client_code(store):
    consent = store.record_consent("Dana", client_code="  ")
    assert consent.client_code is None
    coded = store.record_consent("Kim", client_code="K-2")
    assert store.get_consent(coded.id).client_code == "K-2"
    session_id = store.create_session(coded.id, "m", CLASSES, "video")
    assert store.get_session(session_id).client_code == "K-2"


def test_retention_erases_the_name_on_old_consents_left_without_sessions(store):
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=40)
    gone = store.record_consent("Dana Client", given_at=long_ago, client_code="C-7")
    store.create_session(gone.id, "m", CLASSES, "live", started_at=long_ago, notes="Dana said")
    still_used = store.record_consent("Eli Client", given_at=long_ago)
    store.create_session(still_used.id, "m", CLASSES, "live", started_at=now - HOUR)
    unused_recent = store.record_consent("Fay Client", given_at=now - HOUR)
    assert store.purge_older_than(30, now=now) == 1
    erased = store.get_consent(gone.id)
    assert erased.given_by == f"erased (consent {gone.id})" and erased.erased_at is not None
    assert (erased.given_at, erased.client_code) == (gone.given_at, "C-7")
    assert store.get_consent(still_used.id).given_by == "Eli Client"
    assert store.get_consent(unused_recent.id).given_by == "Fay Client"
    if store.path is not None:
        assert b"Dana Client" not in store.path.read_bytes()
