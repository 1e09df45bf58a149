"""The session store: consent first, atomic validated writes, batching, export and deletion."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy

from fer.sessions.recorder import SessionRecorder
from fer.sessions.records import ConsentError, FrameRecord, SessionNotFoundError
from fer.sessions.store import SessionStore
from tests.sessions.helpers import CLASSES, count, face_result, record


def test_sqlite_database_runs_in_wal_mode(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    assert store.dialect == "sqlite" and store.journal_mode == "wal"
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_location_is_the_configured_one():
    import inspect

    from fer.config import DEFAULT_SESSION_DB

    assert inspect.signature(SessionStore).parameters["location"].default == DEFAULT_SESSION_DB


@pytest.mark.parametrize("location", [":memory:", "", "file:x.db?mode=memory", "mysql://h/db"])
def test_in_memory_and_unknown_databases_are_refused(location):
    with pytest.raises(ValueError, match="file path|Unsupported"):
        SessionStore(location)


@pytest.mark.parametrize("consent_id", [None, 999])
def test_a_session_needs_a_recorded_consent(store, consent_id):
    with pytest.raises(ConsentError):
        store.create_session(consent_id, "ferplus", CLASSES, "live")
    assert count(store, "sessions") == 0


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 201])
def test_consent_needs_a_name(store, name):
    with pytest.raises(ValueError):
        store.record_consent(name)
    assert count(store, "consents") == 0


def test_consent_times_must_be_real(store):
    with pytest.raises(ValueError, match="time zone"):
        store.record_consent("Dana", given_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="future"):
        store.record_consent("Dana", given_at=datetime.now(UTC) + timedelta(hours=1))
    consent = store.record_consent("Dana", given_at=datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(ConsentError, match="before consent"):
        store.create_session(
            consent.id, "ferplus", CLASSES, "live",
            started_at=datetime.now(UTC) - timedelta(hours=1),
        )
    assert count(store, "sessions") == 0


def test_session_keeps_who_consented_and_when(store):
    consent = store.record_consent("  Dana Client ")
    session_id = store.create_session(consent.id, "ferplus", CLASSES, "video", notes="intake")
    info = store.get_session(session_id)
    assert info.consent_by == "Dana Client"
    assert info.consent_given_at == consent.given_at
    assert info.started_at >= consent.given_at
    assert (info.model, info.classes, info.source, info.notes) == (
        "ferplus", CLASSES, "video", "intake"
    )
    assert info.ended_at is None and info.n_frames == 0
    assert [item.id for item in store.list_sessions()] == [session_id]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": ""}, "model"),
        ({"classes": []}, "classes"),
        ({"classes": ["neutral", "joyful"]}, "not known"),
        ({"classes": ["happy", "happy"]}, "repeat"),
        ({"classes": "happy"}, "classes"),
        ({"source": "webcam"}, "source"),
        ({"notes": 5}, "notes"),
    ],
)
def test_malformed_session_metadata_is_refused(store, changes, message):
    consent = store.record_consent("Dana")
    arguments = {"model": "ferplus", "classes": CLASSES, "source": "live", **changes}
    with pytest.raises(ValueError, match=message):
        store.create_session(consent.id, **arguments)
    assert count(store, "sessions") == 0


def test_frames_round_trip_with_one_column_per_class(store, session_id):
    results = [face_result(0, top=1), face_result(1, top=2, landmarks=False)]
    written = store.add_frames(
        session_id, [FrameRecord.from_result(1.5, result) for result in results]
    )
    assert written == 2
    frame = store.load_frames(session_id, include_extras=True)
    assert list(frame.columns[:8]) == [
        "t_seconds", "track_id", "x", "y", "w", "h", "label", "confidence"
    ]
    assert [f"prob_{name}" for name in CLASSES] == [
        c for c in frame.columns if c.startswith("prob_")
    ]
    assert [f"smoothed_{name}" for name in CLASSES] == [
        c for c in frame.columns if c.startswith("smoothed_")
    ]
    assert frame["label"].tolist() == ["happy", "sad"]
    np.testing.assert_allclose(
        frame[[f"prob_{name}" for name in CLASSES]].to_numpy(),
        np.stack([result.probs for result in results]),
        atol=1e-6,
    )
    np.testing.assert_allclose(frame.loc[0, "landmarks"], results[0].landmarks)
    assert frame.loc[1, "landmarks"] is None
    assert frame.loc[0, "blendshapes"] == {"mouthSmileLeft": 0.75, "browInnerUp": 0.125}
    assert store.get_session(session_id).n_frames == 2


def test_empty_session_loads_as_an_empty_table(store, session_id):
    frame = store.load_frames(session_id)
    assert len(frame) == 0
    assert "prob_happy" in frame.columns


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"t_seconds": float("nan")}, "t_seconds"),
        ({"t_seconds": -1.0}, "t_seconds"),
        # A clock reading in milliseconds is no frame time (the session's start plus it
        # would lie past the year 9999).
        ({"t_seconds": 1.8e12}, r"t_seconds must be the frame's time in the session, 0 to 1e\+07"),
        ({"track_id": "a"}, "track_id"),
        ({"track_id": 2**63}, "track_id must be 0 to 2147483647"),
        ({"bbox": (1, 2, 3)}, "bbox"),
        ({"bbox": (1, 2, -3, 4)}, "bbox"),
        ({"probs": np.array([0.5, 0.5])}, "probs"),
        ({"probs": np.array([0.5, np.nan, 0.5])}, "NaN"),
        ({"smoothed": np.array([2.0, 0.0, 0.0])}, r"\[0, 1\]"),
        ({"label": "joyful"}, "label"),
        ({"confidence": 1.5}, "confidence"),
        ({"landmarks": np.zeros((478, 3))}, "landmarks"),
        ({"blendshapes": {"smile": "wide"}}, "blendshape"),
    ],
)
def test_one_malformed_record_leaves_the_database_unchanged(store, session_id, changes, message):
    store.add_frames(session_id, [record(0.1)])
    before = store.load_frames(session_id)
    with pytest.raises(ValueError, match=message):
        store.add_frames(session_id, [record(0.2), record(**{"t_seconds": 0.3, **changes})])
    pd.testing.assert_frame_equal(store.load_frames(session_id), before)


def test_uncertain_is_a_valid_label(store, session_id):
    store.add_frames(session_id, [record(label="uncertain", confidence=0.3)])
    assert store.load_frames(session_id)["label"].tolist() == ["uncertain"]


def test_a_session_cannot_end_before_it_started(store, session_id):
    started = store.get_session(session_id).started_at
    with pytest.raises(ValueError, match="ended_at .* is before the session started"):
        store.end_session(session_id, started - timedelta(days=3))
    assert store.get_session(session_id).ended_at is None  # nothing changed
    store.end_session(session_id, started)
    assert store.get_session(session_id).ended_at == started


def test_frames_for_unknown_or_ended_sessions_are_refused(store, session_id):
    with pytest.raises(SessionNotFoundError):
        store.add_frames(12345, [record()])
    store.end_session(session_id)
    assert store.get_session(session_id).ended_at is not None
    with pytest.raises(ValueError, match="ended"):
        store.add_frames(session_id, [record()])
    assert count(store, "frames") == 0


def test_withdrawn_consent_ends_sessions_and_blocks_writes(store):
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "ferplus", CLASSES, "live")
    store.add_frames(session_id, [record()])
    assert store.withdraw_consent(consent.id, delete_data=False) == 0
    assert store.get_consent(consent.id).withdrawn_at is not None
    assert store.get_session(session_id).ended_at is not None
    with pytest.raises(ConsentError):
        store.add_frames(session_id, [record()])
    with pytest.raises(ConsentError, match="withdrawn"):
        store.create_session(consent.id, "ferplus", CLASSES, "live")
    assert count(store, "frames") == 1 and count(store, "sessions") == 1


def test_delete_removes_the_session_and_its_frames_only(store):
    consent = store.record_consent("Dana")
    keep = store.create_session(consent.id, "ferplus", CLASSES, "live")
    drop = store.create_session(consent.id, "ferplus", CLASSES, "live")
    store.add_frames(keep, [record(0.1)])
    store.add_frames(drop, [record(0.1), record(0.2)])
    store.delete_session(drop)
    assert [item.id for item in store.list_sessions()] == [keep]
    assert count(store, "frames") == 1
    with pytest.raises(SessionNotFoundError):
        store.load_frames(drop)
    with pytest.raises(SessionNotFoundError):
        store.delete_session(drop)
    assert count(store, "consents") == 1  # the evidence of consent stays


def test_csv_export_holds_every_frame_and_class(store, session_id):
    store.add_frames(session_id, [record(0.25), record(0.5, track_id=3, label="uncertain")])
    text = store.export_csv(session_id)
    table = pd.read_csv(io.StringIO(text))
    assert len(table) == 2
    assert (table["session_id"] == session_id).all()
    assert table["t_seconds"].tolist() == [0.25, 0.5]
    assert table["track_id"].tolist() == [0, 3]
    assert table["label"].tolist() == ["happy", "uncertain"]
    assert table["prob_happy"].tolist() == pytest.approx([0.8, 0.8])
    assert table["blendshape_mouthSmileLeft"].tolist() == [0.75, 0.75]
    assert "0.800000011920929" not in text  # float32 noise is rounded away


def test_json_export_holds_metadata_and_frames(store, session_id):
    store.add_frames(session_id, [record(0.25)])
    document = json.loads(store.export_json(session_id))
    assert document["session"]["consent_by"] == "Dana Client"
    assert document["session"]["classes"] == list(CLASSES)
    assert document["session"]["n_frames"] == 1
    (frame,) = document["frames"]
    assert frame["bbox"] == [10, 20, 30, 40]
    assert frame["probs"] == pytest.approx({"neutral": 0.1, "happy": 0.8, "sad": 0.1})
    assert np.asarray(frame["landmarks"]).shape == (478, 2)
    assert frame["blendshapes"]["browInnerUp"] == 0.125
    without = json.loads(store.export_json(session_id, include_landmarks=False))
    assert "landmarks" not in without["frames"][0]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_recorder_writes_when_the_interval_has_passed(store, session_id):
    clock = FakeClock()
    recorder = SessionRecorder(store, session_id, flush_interval_s=0.5, clock=clock)
    recorder.add(0.0, [face_result(0), face_result(1)])
    assert recorder.maybe_flush() == 0
    assert count(store, "frames") == 0 and recorder.n_pending == 2
    clock.now += 0.5
    assert recorder.maybe_flush() == 2
    assert count(store, "frames") == 2 and recorder.n_pending == 0
    assert recorder.maybe_flush() == 0  # nothing waiting


def test_recorder_writes_when_the_batch_is_full(store, session_id):
    recorder = SessionRecorder(store, session_id, max_batch=4, clock=FakeClock())
    for index in range(3):
        recorder.add(index / 10, [face_result()])
    assert recorder.maybe_flush() == 0
    recorder.add(0.3, [face_result()])
    assert recorder.maybe_flush() == 4
    assert recorder.n_written == 4


def test_recorder_validates_when_adding(store, session_id):
    recorder = SessionRecorder(store, session_id)
    bad = face_result()
    bad.label = "joyful"
    with pytest.raises(ValueError, match="label"):
        recorder.add(0.0, [face_result(), bad])
    assert recorder.n_pending == 0


def locked_database(*args, **kwargs):
    raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("database is locked"))


def test_recorder_keeps_rows_when_a_write_fails(store, session_id, monkeypatch):
    recorder = SessionRecorder(store, session_id)
    recorder.add(0.0, [face_result()])
    original = store.insert_encoded
    monkeypatch.setattr(store, "insert_encoded", locked_database)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        recorder.flush()
    assert recorder.n_pending == 1
    monkeypatch.setattr(store, "insert_encoded", original)
    assert recorder.flush() == 1
    assert count(store, "frames") == 1


def test_a_failed_close_keeps_the_rows_and_can_be_retried(store, session_id, monkeypatch):
    recorder = SessionRecorder(store, session_id, clock=FakeClock())
    recorder.add(0.0, [face_result(0), face_result(1)])
    original = store.insert_encoded
    monkeypatch.setattr(store, "insert_encoded", locked_database)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        recorder.close()
    assert recorder.n_pending == 2 and store.get_session(session_id).ended_at is None
    with pytest.raises(ValueError, match="closed"):  # closed to new rows all the same
        recorder.add(1.0, [face_result()])
    monkeypatch.setattr(store, "insert_encoded", original)
    assert recorder.close() == 2  # the retry writes the rows and ends the session
    assert count(store, "frames") == 2
    assert store.get_session(session_id).ended_at is not None
    assert recorder.close() == 2  # and a third close does nothing


def test_recorder_close_writes_the_rest_and_ends_the_session(store, session_id):
    recorder = SessionRecorder(store, session_id, clock=FakeClock())
    recorder.add(0.0, [face_result()])
    assert recorder.close() == 1
    assert store.get_session(session_id).ended_at is not None
    with pytest.raises(ValueError, match="closed"):
        recorder.add(1.0, [face_result()])
    with pytest.raises(ValueError, match="ended"):
        SessionRecorder(store, session_id)


def test_recorder_discard_drops_the_buffer_and_leaves_the_session_to_the_withdrawal(
    store, session_id
):
    recorder = SessionRecorder(store, session_id, clock=FakeClock())
    recorder.add(0.0, [face_result()])
    recorder.flush()
    recorder.add(1.0, [face_result()])
    assert recorder.discard() == 1
    assert count(store, "frames") == 1 and store.get_session(session_id).ended_at is None
    with pytest.raises(ValueError, match="closed"):
        recorder.add(2.0, [face_result()])
    assert recorder.close() == 1  # writes nothing more, ends nothing


def test_recorder_bounds_its_buffer_keeping_or_dropping_each_frame_whole(store, session_id):
    recorder = SessionRecorder(store, session_id, max_batch=2, max_pending=3, clock=FakeClock())
    taken = [recorder.add(0.0, [face_result(track) for track in range(2)])]
    taken.append(recorder.add(0.1, [face_result(track) for track in range(2)]))  # 1 place left
    assert (recorder.n_pending, recorder.n_dropped) == (2, 2)
    taken.append(recorder.add(0.2, [face_result(0)]))  # a frame that fits is still taken
    taken.append(recorder.add(0.3, [face_result(track) for track in range(5)]))
    assert (recorder.n_pending, recorder.n_dropped) == (3, 7)
    assert taken == [2, 0, 1, 0]
    recorder.flush()
    assert sorted(store.load_frames(session_id)["t_seconds"]) == [0.0, 0.0, 0.2]


def test_concurrent_writer_and_reader_see_rows_within_a_second(store, session_id, monkeypatch):
    """A frame thread adds at 50 fps, the page thread flushes, a reader polls the store."""
    transactions = []
    committed_at: dict[float, float] = {}
    insert = store.insert_encoded

    def counting_insert(session, rows):
        transactions.append(len(rows))
        written = insert(session, rows)
        now = time.monotonic()
        committed_at.update({row[0]: now for row in rows})  # row[0] is t_seconds
        return written

    monkeypatch.setattr(store, "insert_encoded", counting_insert)
    recorder = SessionRecorder(store, session_id, flush_interval_s=0.5)
    n_frames = 75
    added_at: dict[float, float] = {}
    seen_at: dict[float, float] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def frame_thread():
        for index in range(n_frames):
            t_seconds = index / 50
            added_at[t_seconds] = time.monotonic()
            recorder.add(t_seconds, [face_result()])
            time.sleep(0.02)
        done.set()

    def reader_thread():
        try:
            while not done.is_set() or len(seen_at) < n_frames:
                for t_seconds in store.load_frames(session_id)["t_seconds"]:
                    seen_at.setdefault(t_seconds, time.monotonic())
                if time.monotonic() - start > 10:
                    return
                time.sleep(0.05)
        except BaseException as error:  # surfaced below
            errors.append(error)

    start = time.monotonic()
    threads = [threading.Thread(target=frame_thread), threading.Thread(target=reader_thread)]
    for thread in threads:
        thread.start()
    while not (done.is_set() and recorder.n_pending == 0):  # the page loop
        recorder.maybe_flush()
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=15)
    assert not errors
    frame = store.load_frames(session_id)
    assert len(frame) == n_frames
    assert frame["t_seconds"].is_monotonic_increasing
    assert set(seen_at) == set(added_at)  # the reader saw every row while writes went on
    # Measured at commit, not when the polling reader (slow on a loaded machine) noticed.
    delays = [committed_at[t] - added_at[t] for t in added_at]
    assert max(delays) <= 1.0, f"slowest row was written {max(delays):.2f} s after it came"
    assert 2 <= len(transactions) < n_frames / 5, transactions  # batched, not row by row


def test_a_write_failing_half_way_is_rolled_back(store, session_id):
    from fer.sessions.records import encode_frame

    good = encode_frame(record(0.1), CLASSES)
    no_label = (*good[:8], None, *good[9:])  # the database refuses it (label NOT NULL)
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        store.insert_encoded(session_id, [good, good, no_label])
    assert count(store, "frames") == 0


def test_a_session_can_be_created_whole_with_its_frames(store):
    consent = store.record_consent("Dana")
    ended = datetime.now(UTC) + timedelta(seconds=1)
    session_id = store.create_session(
        consent.id, "ferplus", CLASSES, "video", frames=[record(0.0), record(0.5)],
        ended_at=ended,
    )
    info = store.get_session(session_id)
    assert info.n_frames == 2 and info.ended_at == ended
    with pytest.raises(ValueError, match="label"):
        store.create_session(
            consent.id, "ferplus", CLASSES, "video", frames=[record(0.0), record(label="joy")]
        )
    assert [item.id for item in store.list_sessions()] == [session_id]
    assert count(store, "frames") == 2
