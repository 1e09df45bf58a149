"""The room load script runs end to end: one room, a few seconds (``experiments/room_load.py``);
and what it found: the rooms' frame workers must not wait on Streamlit's garbage collections.

Needs Debian's ``chromium``, the Python ``playwright`` package and ``FER_DATA_DIR``. Run:
``FER_DATA_DIR=… python -m pytest -m browser tests/experiments/test_room_load.py``.
"""

import math

import pytest


@pytest.mark.browser
def test_one_room_is_measured_from_both_browsers(capsys):
    from experiments import room_load
    from tests.app.browser_support import require_browser, video_data_dir

    require_browser()
    video_data_dir()
    (row,) = room_load.main(["--rooms", "1", "--seconds", "10", "--warmup", "2"])
    (room,) = row.rooms
    assert row.n_rooms == 1 and row.seconds >= 10
    assert room.camera_fps > 1  # the fake camera's frames reached the client's statistics
    assert room.analysed_fps > 0  # and the clinician's view counted analysed frames
    assert 0 <= room.dropped_share <= 1
    assert room.windows and all(window["p95_ms"] >= window["p50_ms"] > 0
                                for window in room.windows)
    assert not math.isnan(row.p95_ms) and 0 < row.cpu_busy_percent <= 100
    printed = capsys.readouterr().out
    assert "| rooms |" in printed and "\n| 1 |" in printed


def test_a_room_s_analysis_leaves_the_loaded_libraries_out_of_garbage_collection(monkeypatch):
    """Streamlit collects garbage fully after every script run; over TensorFlow's and
    MediaPipe's objects that starved the rooms' frame workers (found with this script)."""
    import gc
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    import fer.realtime.pipeline
    from fer.rooms.live import LiveRoom
    from ui import rooms

    class LoadedRecognizer:
        tta = "none"
        classes = ("neutral", "happy")

        def __init__(self, model, landmarker_path):
            self.loaded = []

        def load(self):
            self.loaded = [object() for _ in range(1000)]  # what the libraries leave behind

    monkeypatch.setattr(rooms, "prepare_model", lambda **options: SimpleNamespace())
    monkeypatch.setattr(rooms, "warm_up", lambda model, tta: None)
    monkeypatch.setattr(rooms.resources, "landmarker_path", lambda: None)
    monkeypatch.setattr(rooms, "recorded_model_label", lambda model, tta: "tiny")
    monkeypatch.setattr(fer.realtime.pipeline, "EmotionRecognizer", LoadedRecognizer)
    gc.unfreeze()
    try:
        live_room = LiveRoom(1)
        room = SimpleNamespace(consent_id=5, expires_at=datetime.now(UTC) + timedelta(hours=1))
        assert rooms.start_analysis(live_room, room)
        assert live_room.analysing
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
