"""A client's figures across sessions: one row per session, oldest first, no names; and the
whole path from the store (client code -> sessions -> frames -> trends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fer.sessions.insights import session_insights
from fer.sessions.records import FrameRecord
from fer.sessions.trends import TREND_COLUMNS, client_trends
from tests.sessions.helpers import CLASSES, face_result

DAY = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def session(session_id: int, days: int) -> SimpleNamespace:
    return SimpleNamespace(id=session_id, started_at=DAY + timedelta(days=days))


def face_frames(n: int, label: str, valence: float, track_id: int = 0, movement: float = 0.0):
    t = np.arange(n) / 10
    rng = np.random.default_rng(track_id)
    return pd.DataFrame(
        {
            "t_seconds": t, "track_id": track_id, "label": label,
            "smoothed_neutral": 0.5, "smoothed_happy": 0.5,
            "valence": valence, "arousal": 0.25,
            "AU12": np.clip(0.2 + movement * rng.random(n), 0, 1), "AU4": 0.1,
        }
    )


def test_one_row_per_session_oldest_first_with_the_insights_figures():
    happy = face_frames(60, "happy", 0.6, movement=0.4)
    mixed = pd.concat([face_frames(30, "neutral", 0.0), face_frames(30, "happy", 0.2)])
    mixed["t_seconds"] = np.arange(60) / 10
    trends = client_trends([(session(7, 3), happy), (session(5, 0), mixed)])
    assert trends["session_id"].tolist() == [5, 7]
    assert trends["date"].tolist() == [DAY.date(), (DAY + timedelta(days=3)).date()]
    assert list(trends.columns[: len(TREND_COLUMNS)]) == list(TREND_COLUMNS)
    assert trends["share_happy"].tolist() == pytest.approx([0.5, 1.0], abs=0.02)
    assert trends["share_neutral"].tolist() == pytest.approx([0.5, 0.0], abs=0.02)
    assert trends["valence_mean"].tolist() == pytest.approx([0.1, 0.6])
    assert trends["arousal_mean"].tolist() == pytest.approx([0.25, 0.25])
    expected = session_insights(happy)["faces"][0]["expressivity"]["index"]
    assert trends["expressivity_index"].tolist()[1] == expected
    assert trends["expressivity_index"].tolist()[0] < expected  # the still face moved less
    assert trends["most_frequent"].tolist()[1] == "happy"


def test_the_face_seen_longest_stands_for_the_client():
    client = face_frames(80, "happy", 0.5, track_id=0)
    visitor = face_frames(10, "neutral", -0.5, track_id=4)
    trends = client_trends([(session(1, 0), pd.concat([visitor, client]))])
    assert trends["n_frames"].tolist() == [80]
    assert trends["valence_mean"].tolist() == [0.5]


def test_sessions_without_faces_or_signals_have_empty_figures():
    no_signals = face_frames(20, "happy", 0.0).drop(columns=["valence", "arousal", "AU12", "AU4"])
    trends = client_trends([(session(1, 0), face_frames(0, "happy", 0.0)),
                            (session(2, 1), no_signals)])
    assert trends["n_frames"].tolist() == [0, 20]
    assert trends["valence_mean"].isna().all() and trends["expressivity_index"].isna().all()
    assert trends["share_happy"].tolist() == [0.0, 1.0]
    assert client_trends([]).columns.tolist() == list(TREND_COLUMNS)


def test_no_name_reaches_the_trends(store):
    consent = store.record_consent("Dana Client", client_code="C-17")
    records = [
        FrameRecord.from_result(t / 10, face_result(top=1 + t % 2, signals=True))
        for t in range(20)
    ]
    for days in (0, 7):
        store.create_session(
            consent.id, "m", CLASSES, "live", frames=records,
            started_at=consent.given_at + timedelta(days=days, seconds=1),
        )
    history = store.list_sessions_of_client("C-17")
    trends = client_trends({info: store.load_frames(info.id) for info in history})
    assert len(trends) == 2 and trends["valence_mean"].tolist() == [0.5, 0.5]
    assert "Dana Client" not in trends.to_csv()
    assert {"share_happy", "share_sad"} <= set(trends.columns)


def test_a_session_is_dated_by_the_local_day_it_started(local_zone_ahead_of_utc):
    late = SimpleNamespace(id=1, started_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    trends = client_trends([(late, face_frames(10, "happy", 0.5))])
    # 05:00 on 2 March on the local clock, which the client's sessions table shows.
    assert trends["date"].tolist() == [datetime(2026, 3, 2).date()]
