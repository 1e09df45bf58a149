"""The Live page's frame processor (``ui.live``): results handed to the page through a bounded
queue, errors reported without stopping, recording buffered in the callback, the history, the
camera and analysed rates and the camera-to-label latency. The frame callback is also run once
with the real pipeline on a real frame."""

from tests.app.page_support import (  # isort: skip  (imports webrtc first)
    ManualClock,
    build_tiny_model,
    face_frame_bgr,
)

import dataclasses
import queue
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fer.sessions.recorder import SessionRecorder
from fer.sessions.store import SessionStore
from ui.live import LiveProcessor, LiveUpdate, RateMeter, drain, label_latency_ms
from ui.readout import LiveHistory

CLASSES = ["neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


class FakeRecognizer:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.times: list[float] = []

    def process(self, frame_bgr, t_seconds):
        if self.fail:
            raise RuntimeError("detector crashed")
        self.times.append(t_seconds)
        probs = np.full(len(CLASSES), 0.3 / (len(CLASSES) - 1), np.float32)
        probs[1] = 0.7
        return [
            SimpleNamespace(
                track_id=0, bbox=(100, 50, 120, 120), probs=probs, smoothed=probs,
                label="happy", confidence=0.7, landmarks=None, blendshapes=None,
            )
        ]


class StepClock:
    def __init__(self, step: float = 1 / 15):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_processor_hands_results_to_a_bounded_queue_and_draws():
    live = LiveProcessor(queue_size=3, clock=StepClock())
    frame = np.zeros((360, 640, 3), np.uint8)
    assert live.process_bgr(frame) is frame  # no recognizer yet: frame passes untouched
    recognizer = FakeRecognizer()
    live.configure(recognizer, show_landmarks=False)
    for _ in range(5):
        annotated = live.process_bgr(frame)
    assert annotated is not frame and annotated.any()  # box and label drawn on a copy
    assert not frame.any()
    assert live.stats.n_updates_dropped == 2 and live.updates.qsize() == 3
    updates = drain(live.updates, timeout_s=0.01)
    assert [len(update.results) for update in updates] == [1, 1, 1]
    assert updates[-1].camera_fps == pytest.approx(15, rel=0.01)
    assert updates[-1].analysed_fps == pytest.approx(15, rel=0.01)
    assert recognizer.times == sorted(recognizer.times) and recognizer.times[0] >= 0
    assert drain(live.updates, timeout_s=0.01) == []


def test_processor_reports_recognizer_errors_without_stopping():
    live = LiveProcessor(clock=StepClock())
    live.configure(FakeRecognizer(fail=True), show_landmarks=False)
    frame = np.zeros((360, 640, 3), np.uint8)
    assert live.process_bgr(frame) is frame
    (update,) = drain(live.updates, 0.01)
    assert "detector crashed" in update.error and live.stats.n_errors == 1


def test_recording_buffers_in_the_callback_and_the_page_writes(tmp_path):
    store = SessionStore(tmp_path / "sessions.db")
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "tiny", CLASSES, "live")
    recorder = SessionRecorder(store, session_id)
    live = LiveProcessor(clock=StepClock(0.1))
    live.configure(FakeRecognizer(), show_landmarks=False)
    frame = np.zeros((120, 160, 3), np.uint8)
    live.process_bgr(frame)  # before recording: not stored
    live.start_recording(recorder)
    for _ in range(4):
        live.process_bgr(frame)
    assert recorder.n_pending == 4
    assert store.get_session(session_id).n_frames == 0  # the callback never writes SQLite
    assert live.stop_recording() is recorder and live.recorder is None
    live.process_bgr(frame)  # after stopping: not stored
    recorder.close()
    times = store.load_frames(session_id)["t_seconds"].tolist()
    assert times == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_a_recording_stopped_during_a_frame_is_no_problem_to_report(tmp_path):
    # The page stops and closes the recording while the worker analyses a frame: that frame's
    # results belong to no recording, and the panel must not show "Last problem" for it.
    store = SessionStore(tmp_path / "sessions.db")
    consent = store.record_consent("Dana")
    session_id = store.create_session(consent.id, "tiny", CLASSES, "live")
    live = LiveProcessor(clock=StepClock(0.1))
    live.start_recording(SessionRecorder(store, session_id))

    class StoppedMeanwhile(FakeRecognizer):
        def process(self, frame_bgr, t_seconds):
            stopped = live.stop_recording()
            if stopped is not None:
                stopped.close()
            return super().process(frame_bgr, t_seconds)

    live.configure(StoppedMeanwhile(), show_landmarks=False)
    live.process_bgr(np.zeros((120, 160, 3), np.uint8))
    (update,) = drain(live.updates, 0.01)
    assert update.error is None and update.results
    assert live.stats.n_errors == 0 and live.stats.last_error is None
    assert store.get_session(session_id).n_frames == 0


def counts(stats) -> tuple:
    return (stats.n_frames, stats.n_with_faces, stats.n_errors, stats.last_error)


def test_a_stats_snapshot_counts_each_frame_whole_and_stays_as_taken():
    live = LiveProcessor(clock=StepClock())
    live.configure(FakeRecognizer(), show_landmarks=False)
    frame = np.zeros((120, 160, 3), np.uint8)
    live.process_bgr(frame)
    seen_by_the_page: list[tuple] = []

    class RefusingRecorder:
        """Refuses the frame's results; the page thread looks at the counts meanwhile."""

        def add(self, t_seconds, results):
            page = threading.Thread(target=lambda: seen_by_the_page.append(counts(live.stats)))
            page.start()
            page.join(timeout=5)
            raise ValueError("malformed result")

    live.start_recording(RefusingRecorder())
    live.process_bgr(frame)
    # Mid-frame the page sees the frames before it, not this one counted without its error.
    assert seen_by_the_page == [(1, 1, 0, None)]
    snapshot = live.stats
    assert counts(snapshot) == (2, 2, 1, "Recording: malformed result")
    live.stop_recording()
    live.process_bgr(frame)
    assert counts(snapshot) == (2, 2, 1, "Recording: malformed result")  # as taken
    assert counts(live.stats) == (3, 3, 1, "Recording: malformed result")
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.n_frames = 0


def test_stats_read_while_the_worker_runs_always_agree():
    live = LiveProcessor(queue_size=2, clock=StepClock())

    class SometimesFailing(FakeRecognizer):
        def __init__(self):
            super().__init__()
            self.n_calls = 0

        def process(self, frame_bgr, t_seconds):
            self.n_calls += 1
            if self.n_calls % 3 == 0:
                raise RuntimeError("detector crashed")
            return super().process(frame_bgr, t_seconds) if self.n_calls % 3 == 1 else []

    live.configure(SometimesFailing(), show_landmarks=False)
    frame = np.zeros((60, 80, 3), np.uint8)
    n_frames = 300
    worker = threading.Thread(target=lambda: [live.process_bgr(frame) for _ in range(n_frames)])
    worker.start()
    snapshots = []
    while worker.is_alive():
        snapshots.append(live.stats)
    worker.join()
    snapshots.append(live.stats)
    for stats in snapshots:
        # Each third frame has a face, each third fails; errors come with their message.
        assert stats.n_with_faces == (stats.n_frames + 2) // 3
        assert stats.n_errors == stats.n_frames // 3
        assert (stats.last_error is None) == (stats.n_errors == 0)
        assert stats.n_updates_dropped == max(0, stats.n_frames - 2)
    assert snapshots[-1].n_frames == n_frames


def test_history_keeps_the_last_span():
    history = LiveHistory(CLASSES, span_s=1.0)
    result = FakeRecognizer().process(None, 0)[0]
    history.extend([LiveUpdate(t / 10, (result,), 5.0) for t in range(30)])
    frame = history.frame()
    assert frame["t_seconds"].min() == pytest.approx(1.9) and frame["t_seconds"].max() == 2.9
    assert list(frame.columns[2:]) == [f"smoothed_{name}" for name in CLASSES]


def test_the_frame_callback_runs_the_real_pipeline(tiny_model):
    import av

    from fer.realtime.pipeline import EmotionRecognizer
    from ui.resources import landmarker_path

    frame_bgr = face_frame_bgr()
    recognizer = EmotionRecognizer(model=str(tiny_model), landmarker_path=landmarker_path())
    live = LiveProcessor()
    live.configure(recognizer, show_landmarks=True)
    for _ in range(3):
        output = live(av.VideoFrame.from_ndarray(frame_bgr, format="bgr24"))
    annotated = output.to_ndarray(format="bgr24")
    assert annotated.shape == frame_bgr.shape and not np.array_equal(annotated, frame_bgr)
    updates = drain(live.updates, 0.01)
    assert len(updates) == 3 and all(update.error is None for update in updates)
    (face,) = updates[-1].results
    assert face.label in CLASSES + ["uncertain"]
    assert sum(face.smoothed) == pytest.approx(1, abs=1e-3)
    with pytest.raises(queue.Empty):
        live.updates.get_nowait()


# ------------------------------------------------------------------------ rates and latency


def test_the_rate_counts_a_burst_as_its_frames():
    """A 15 fps camera whose frames reach the worker unevenly (a short and a long gap in turn,
    as after a slow analysis): averaging 1 / gap would read about 54; counting reads 15."""
    meter = RateMeter(window_s=3.0)
    t = 0.0
    for index in range(60):
        t += 0.010 if index % 2 else 0.1233
        meter.add(t)
    assert meter.rate() == pytest.approx(15, rel=0.02)
    bursts = RateMeter(window_s=3.0)
    for index in range(20):  # three frames at a time every 0.2 s
        bursts.add(index * 0.2, 3)
    assert bursts.rate() == pytest.approx(15, rel=0.01)
    assert RateMeter().rate() == 0.0


def test_the_camera_rate_counts_skipped_frames_and_the_analysed_rate_does_not():
    """Analysis slower than the camera: three frames arrive per analysis, every 0.2 s."""
    clock = ManualClock()
    live = LiveProcessor(clock=clock)
    live.configure(FakeRecognizer(), show_landmarks=False)
    frame = np.zeros((120, 160, 3), np.uint8)
    for _ in range(20):
        clock.now += 0.2
        live.process_bgr(frame, n_arrived=3)
    update = drain(live.updates, 0.01)[-1]
    assert update.camera_fps == pytest.approx(15, rel=0.01)
    assert update.analysed_fps == pytest.approx(5, rel=0.01)


def test_the_queued_frames_callback_analyses_the_newest_and_counts_all():
    import asyncio

    import av

    clock = ManualClock()
    live = LiveProcessor(clock=clock)
    recognizer = FakeRecognizer()
    live.configure(recognizer, show_landmarks=False)
    frames = [
        av.VideoFrame.from_ndarray(np.full((120, 160, 3), value, np.uint8), format="bgr24")
        for value in (10, 20, 30)
    ]
    for _ in range(5):
        clock.now += 0.2
        (output,) = asyncio.run(live.recv_queued(frames))
    assert len(recognizer.times) == 5  # one analysis per call, not per frame
    assert output.to_ndarray(format="bgr24").shape == (120, 160, 3)
    update = drain(live.updates, 0.01)[-1]
    assert update.camera_fps == pytest.approx(15) and update.analysed_fps == pytest.approx(5)


def test_the_latency_runs_from_the_frames_arrival_to_its_label():
    clock = ManualClock(500.0)
    live = LiveProcessor(clock=clock)
    live.configure(FakeRecognizer(), show_landmarks=False)
    live.process_bgr(np.zeros((120, 160, 3), np.uint8))
    (update,) = drain(live.updates, 0.01)
    assert update.arrived_at == 500.0
    assert label_latency_ms(update, 500.25) == pytest.approx(250)
    assert live.clock() == 500.0  # the page measures against the worker's clock


def test_the_rate_spans_the_window_even_when_frames_are_rarer_than_it():
    slow = RateMeter(window_s=3.0)
    for index in range(5):  # one frame every 4 s
        slow.add(index * 4.0)
    assert slow.rate() == pytest.approx(0.25)
