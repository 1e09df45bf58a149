"""Clinician markers: made in an open session, read by whoever may see it, gone with it; and a
client's sessions found by the pseudonymous client code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from fer.accounts import AccountStore
from fer.sessions.records import ConsentError, SessionNotFoundError
from tests.sessions.helpers import CLASSES, count, record

pytestmark = pytest.mark.usefixtures("cheap_password_hashes")


@pytest.fixture
def people(store, database_location):
    accounts = AccountStore(database_location)
    return {
        name: accounts.add_user(name, role, "correct horse battery")
        for name, role in (("ana", "clinician"), ("ben", "clinician"), ("ada", "admin"))
    }


def test_markers_are_listed_in_time_order_with_who_made_them(store, session_id, people):
    later = store.add_marker(session_id, 2.5, "  looked away  ", created_by=people["ada"])
    earlier = store.add_marker(session_id, 0.0, created_by=people["ada"].id)
    plain = store.add_marker(session_id, 1.0, "line one\nline two")
    markers = store.list_markers(session_id)
    assert markers["id"].tolist() == [earlier, plain, later]
    assert markers["t_seconds"].tolist() == [0.0, 1.0, 2.5]
    assert markers["note"].tolist() == ["", "line one\nline two", "looked away"]
    assert markers["created_by"].tolist()[::2] == [people["ada"].id] * 2
    assert markers["created_by_name"].tolist()[::2] == ["ada", "ada"]
    assert markers["created_by"].isna().tolist()[1]
    assert all(at.tzinfo is not None for at in markers["created_at"])


def test_an_empty_marker_list_has_its_columns(store, session_id):
    markers = store.list_markers(session_id)
    assert markers.empty and {"t_seconds", "note", "created_by"} <= set(markers.columns)


@pytest.mark.parametrize(
    ("t_seconds", "note", "message"),
    [
        (-0.5, "", "t_seconds must be >= 0"),
        (float("nan"), "", "t_seconds must be finite"),
        (float("inf"), "", "t_seconds must be finite"),
        ("soon", "", "t_seconds must be a number"),
        (True, "", "t_seconds must be a number"),
        (3600.0, "", "after the present moment"),
        (1.0, "x" * 501, "longer than 500"),
        (1.0, "bell\x07", "plain text"),
        (1.0, "\x1b[31mred", "plain text"),
        (1.0, 42, "must be text"),
    ],
)
def test_malformed_markers_are_refused(store, session_id, t_seconds, note, message):
    with pytest.raises(ValueError, match=message):
        store.add_marker(session_id, t_seconds, note)
    assert count(store, "markers") == 0


def test_a_note_of_exactly_the_limit_is_kept(store, session_id):
    store.add_marker(session_id, 0.0, "é" * 500)
    assert store.list_markers(session_id)["note"].tolist() == ["é" * 500]


def test_markers_need_an_open_session_with_its_consent_standing(store):
    consent = store.record_consent("Dana Client")
    ended = store.create_session(consent.id, "m", CLASSES, "live")
    store.end_session(ended)
    with pytest.raises(ValueError, match="has ended"):
        store.add_marker(ended, 0.0, "too late")
    with pytest.raises(SessionNotFoundError):
        store.add_marker(999, 0.0)
    running = store.create_session(consent.id, "m", CLASSES, "live")
    store.withdraw_consent(consent.id, delete_data=False)
    with pytest.raises((ConsentError, ValueError)):
        store.add_marker(running, 0.0)
    assert count(store, "markers") == 0


def test_markers_follow_the_session_s_access_rule(store, people):
    consent = store.record_consent("Dana Client")
    anas = store.create_session(consent.id, "m", CLASSES, "live", owner_id=people["ana"].id)
    store.add_marker(anas, 0.0, "by ana", created_by=people["ana"])
    with pytest.raises(SessionNotFoundError):
        store.add_marker(anas, 0.0, "by ben", created_by=people["ben"])
    with pytest.raises(SessionNotFoundError):
        store.list_markers(anas, viewer=people["ben"])
    assert store.list_markers(anas, viewer=people["ana"])["note"].tolist() == ["by ana"]
    assert len(store.list_markers(anas, viewer=people["ada"])) == 1
    store.share_session(anas, people["ben"].id)
    store.add_marker(anas, 0.0, "by ben", created_by=people["ben"])
    assert len(store.list_markers(anas, viewer=people["ben"])) == 2
    with pytest.raises(ValueError, match="No user"):
        store.add_marker(anas, 0.0, created_by=999)


def test_markers_are_deleted_with_their_session_and_by_withdrawal(store):
    consent = store.record_consent("Dana Client")
    kept = store.create_session(consent.id, "m", CLASSES, "live")
    dropped = store.create_session(consent.id, "m", CLASSES, "live")
    for session_id in (kept, dropped):
        store.add_marker(session_id, 0.0, f"in {session_id}")
    store.delete_session(dropped)
    assert count(store, "markers") == 1
    assert store.list_markers(kept)["note"].tolist() == [f"in {kept}"]
    store.withdraw_consent(consent.id)  # deletes the data
    assert count(store, "markers") == 0


def test_the_json_export_carries_the_markers(store, session_id):
    store.add_frames(session_id, [record(0.25)])
    store.add_marker(session_id, 0.25, "smiled")
    document = json.loads(store.export_json(session_id))
    (marker,) = document["markers"]
    assert (marker["t_seconds"], marker["note"], marker["created_by"]) == (0.25, "smiled", None)
    datetime.fromisoformat(marker["created_at"])


def test_a_client_s_sessions_are_found_by_code_oldest_first(store, people):
    start = datetime.now(UTC) - timedelta(days=30)
    first = store.record_consent("Dana Client", given_at=start, client_code="C-17")
    again = store.record_consent("Dana Client", client_code="C-17")
    other = store.record_consent("Kim Other", client_code="C-99")
    unnamed = store.record_consent("No Code")
    ana = people["ana"].id
    old = store.create_session(first.id, "m", CLASSES, "live", started_at=start, owner_id=ana)
    new = store.create_session(again.id, "m", CLASSES, "video", owner_id=ana)
    bens = store.create_session(again.id, "m", CLASSES, "live", owner_id=people["ben"].id)
    store.create_session(other.id, "m", CLASSES, "live", owner_id=ana)
    store.create_session(unnamed.id, "m", CLASSES, "live", owner_id=ana)
    history = store.list_sessions_of_client("C-17")
    assert [info.id for info in history] == [old, new, bens]
    assert {info.client_code for info in history} == {"C-17"}
    assert history[0].as_json_dict()["client_code"] == "C-17"
    seen_by_ana = store.list_sessions_of_client(" C-17 ", viewer=people["ana"])
    assert [info.id for info in seen_by_ana] == [old, new]
    assert store.list_sessions_of_client("C-404") == []
    assert store.list_client_codes() == ["C-17", "C-99"]
    assert store.list_client_codes(viewer=people["ben"]) == ["C-17"]
    with pytest.raises(ValueError, match="must not be empty"):
        store.list_sessions_of_client("  ")


def test_a_code_typed_two_ways_that_look_the_same_is_one_client(store):
    """NFD accents, a non-breaking space, a zero-width space and full-width letters: what a
    clinician typed on two days is one code, so the client's history is not split."""
    import sqlalchemy

    first = store.record_consent("Zoë", client_code="Zoe\u0308 C\u00a017")
    second = store.record_consent("Zoë", client_code="Zo\u00eb \u200bＣ 17")
    assert first.client_code == second.client_code == "Zo\u00eb C 17"
    ids = [store.create_session(consent.id, "m", CLASSES, "live") for consent in (first, second)]
    assert store.list_client_codes() == ["Zo\u00eb C 17"]
    assert [info.id for info in store.list_sessions_of_client("Zoe\u0308  C 17")] == ids
    # A code stored before codes were made canonical is still found as it is listed.
    legacy = store.record_consent("Old", client_code="old")
    with store.engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE consents SET client_code = :code WHERE id = :id"),
            {"code": "O\u200bld", "id": legacy.id},
        )
    old_session = store.create_session(legacy.id, "m", CLASSES, "live")
    assert "O\u200bld" in store.list_client_codes()
    found = store.list_sessions_of_client("O\u200bld")
    assert [info.id for info in found] == [old_session]
