"""Property tests of the store: random valid frames come back as written; any invalid one
raises ``ValueError`` and leaves the database as it was. Both backends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fer.emotions import UNCERTAIN
from fer.sessions.records import FrameRecord
from tests.sessions.helpers import CLASSES, count, record

# One store per test (the fixture), a new session per example: examples do not share rows.
QUICK = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FINITE = st.floats(-1e6, 1e6, allow_nan=False, width=64)
UNIT = st.floats(0, 1, allow_nan=False)
PROBS = hnp.arrays(np.float32, len(CLASSES), elements=st.floats(0, 1, width=32))


@st.composite
def frame_records(draw) -> FrameRecord:
    n_landmarks = draw(st.integers(0, 5))
    landmarks = None
    if draw(st.booleans()):
        landmarks = draw(
            hnp.arrays(np.float32, (n_landmarks, 2), elements=st.floats(-10, 10, width=32))
        )
    blendshapes = draw(
        st.none() | st.dictionaries(st.text(max_size=12), FINITE, max_size=4)
    )
    return FrameRecord(
        t_seconds=draw(st.floats(0, 1e5, allow_nan=False)),
        track_id=draw(st.integers(0, 10_000)),
        bbox=(draw(FINITE), draw(FINITE), draw(st.floats(0, 1e4)), draw(st.floats(0, 1e4))),
        probs=draw(PROBS),
        smoothed=draw(PROBS),
        label=draw(st.sampled_from([*CLASSES, UNCERTAIN])),
        confidence=draw(UNIT),
        landmarks=landmarks,
        blendshapes=blendshapes,
    )


def new_session(store) -> int:
    consent = store.record_consent("Property Test")
    return store.create_session(consent.id, "m", CLASSES, "live")


@QUICK
@given(records=st.lists(frame_records(), min_size=1, max_size=8))
def test_valid_frames_round_trip(store, records):
    session_id = new_session(store)
    assert store.add_frames(session_id, records) == len(records)
    frame = store.load_frames(session_id, include_extras=True)
    # The store returns rows by time, then track, then insertion.
    order = sorted(range(len(records)), key=lambda i: (records[i].t_seconds, records[i].track_id))
    expected = [records[i] for i in order]
    assert frame["t_seconds"].tolist() == [item.t_seconds for item in expected]
    assert frame["track_id"].tolist() == [item.track_id for item in expected]
    assert frame["label"].tolist() == [item.label for item in expected]
    np.testing.assert_array_equal(
        frame[["x", "y", "w", "h"]].to_numpy(), [item.bbox for item in expected]
    )
    np.testing.assert_allclose(
        frame["confidence"], [round(min(item.confidence, 1.0), 6) for item in expected]
    )
    for prefix, field in (("prob", "probs"), ("smoothed", "smoothed")):
        stored = frame[[f"{prefix}_{name}" for name in CLASSES]].to_numpy()
        written = np.stack([getattr(item, field) for item in expected]).astype(np.float64)
        np.testing.assert_allclose(stored, np.round(written, 6), atol=1e-9)
    for value, item in zip(frame["landmarks"], expected, strict=True):
        if item.landmarks is None:
            assert value is None
        else:
            np.testing.assert_array_equal(value, item.landmarks)
    assert frame["blendshapes"].tolist() == [item.blendshapes for item in expected]


INVALID_CHANGES = st.sampled_from(
    [
        {"t_seconds": float("nan")},
        {"t_seconds": -0.5},
        {"t_seconds": float("inf")},
        {"track_id": -1},
        {"track_id": 1.5},
        {"track_id": True},
        {"bbox": (1, 2, 3)},
        {"bbox": (1, 2, -3, 4)},
        {"bbox": (1, float("nan"), 3, 4)},
        {"probs": np.array([0.5, 0.5])},
        {"probs": np.array([0.5, np.inf, 0.5])},
        {"smoothed": np.array([1.5, 0.0, 0.0])},
        {"smoothed": np.array([-0.5, 0.0, 0.0])},
        {"label": "joyful"},
        {"label": ""},
        {"confidence": 1.5},
        {"confidence": float("nan")},
        {"landmarks": np.zeros((4, 3))},
        {"landmarks": np.full((2, 2), np.nan)},
        {"blendshapes": {"smile": "wide"}},
        {"blendshapes": {"smile": float("inf")}},
        {"blendshapes": {3: 0.5}},
        {"blendshapes": [("smile", 0.5)]},
    ]
)


@QUICK
@given(
    valid=st.lists(frame_records(), max_size=4),
    changes=INVALID_CHANGES,
    position=st.integers(0, 4),
)
def test_an_invalid_frame_raises_and_changes_nothing(store, valid, changes, position):
    session_id = new_session(store)
    store.add_frames(session_id, [record(0.1)])
    before = store.load_frames(session_id, include_extras=True)
    n_frames = count(store, "frames")
    bad = FrameRecord(**{**record(0.2).__dict__, **changes})
    batch = [*valid]
    batch.insert(min(position, len(batch)), bad)
    with pytest.raises(ValueError):
        store.add_frames(session_id, batch)
    assert count(store, "frames") == n_frames
    pd.testing.assert_frame_equal(store.load_frames(session_id, include_extras=True), before)


@QUICK
@given(
    model=st.one_of(st.just(""), st.text(min_size=201, max_size=210), st.integers()),
    source=st.sampled_from(["live", "webcam", ""]),
    classes=st.one_of(
        st.just(()), st.just(("happy", "happy")), st.just("happy"), st.just(("joy",))
    ),
)
def test_invalid_session_metadata_raises_and_creates_nothing(store, model, source, classes):
    consent = store.record_consent("Property Test")
    n_sessions = count(store, "sessions")
    with pytest.raises(ValueError):
        store.create_session(consent.id, model, classes, source)
    assert count(store, "sessions") == n_sessions
