"""A room's live state: nothing analysed before the client's consent, nothing after a
withdrawal, recording only under consent, one latency sample per drawn frame."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from fer.rooms.live import LEFT, PLAYING, LiveRoom, close_analysis
from fer.rooms.registry import RoomRegistry


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class CountingRecognizer:
    classes = ("neutral", "happy")

    def __init__(self):
        self.n_calls = 0

    def process(self, frame_bgr, t_seconds):
        self.n_calls += 1
        return [SimpleNamespace(track_id=0, label="happy", confidence=0.9,
                                smoothed=np.array([0.1, 0.9]))]


class ListRecorder:
    session_id = 7

    def __init__(self):
        self.rows = []

    def add(self, t_seconds, results):
        self.rows.append((t_seconds, results))


FRAME = np.zeros((8, 8, 3), np.uint8)


def test_nothing_is_analysed_before_consent_or_after_withdrawal():
    room, recognizer = LiveRoom(1), CountingRecognizer()
    assert room.process_frame(FRAME, 0.0) is None
    assert not room.analysing and room.updates_since(0) == []
    room.allow_analysis(5, recognizer, "tiny")
    update = room.process_frame(FRAME, 0.1)
    assert recognizer.n_calls == 1 and update.results[0].label == "happy"
    assert room.updates_since(0) == [update]
    returned, _ = room.forbid_analysis()
    assert returned is recognizer
    assert room.process_frame(FRAME, 0.2) is None and recognizer.n_calls == 1
    assert room.updates_since(0) == []  # what was shown under the consent is gone


def test_recording_needs_consent_and_stops_with_a_withdrawal():
    clock = Clock()
    room = LiveRoom(1, clock)
    with pytest.raises(PermissionError):
        room.start_recording(ListRecorder())
    room.allow_analysis(5, CountingRecognizer())
    recorder = ListRecorder()
    room.start_recording(recorder)
    clock.now += 2
    room.process_frame(FRAME, 0.0)
    assert [row[0] for row in recorder.rows] == [2.0]
    assert room.recording_time() == 2.0
    _, returned = room.forbid_analysis()
    assert returned is recorder and room.recorder is None
    room.process_frame(FRAME, 0.1)
    assert len(recorder.rows) == 1


def test_each_drawn_frame_gives_one_latency_sample():
    clock = Clock()
    room = LiveRoom(1, clock)
    room.allow_analysis(5, CountingRecognizer())
    update = room.process_frame(FRAME, 50.0)  # the first frame anchors the capture clock
    assert room.note_rendered(update, clock.now + 0.1) == pytest.approx(100)
    assert room.note_rendered(update, clock.now + 0.2) is None  # drawn again: not counted
    clock.now += 1.0
    later = room.process_frame(FRAME, 50.9)  # 100 ms later than the anchor frame
    assert room.note_rendered(later, clock.now + 0.05) == pytest.approx(150)
    summary = room.latency_summary()
    assert summary.n_samples == 2 and summary.p50_ms == pytest.approx(125)
    assert room.process_frame(FRAME, None).timing is None  # no presentation time, no sample


def test_the_snapshot_tells_the_camera_and_whether_video_arrives():
    clock = Clock()
    room = LiveRoom(1, clock)
    assert room.snapshot().camera == "not joined"
    room.allow_analysis(5, CountingRecognizer())
    room.set_camera("connecting")
    room.process_frame(FRAME, 0.0)  # a frame shows the camera plays before its page says so
    assert room.snapshot().camera == PLAYING
    assert room.snapshot().video_arriving and room.snapshot().n_frames == 1
    clock.now += 5
    assert not room.snapshot().video_arriving
    room.set_camera(LEFT)
    assert room.snapshot().camera == LEFT
    with pytest.raises(ValueError):
        room.set_camera("dancing")


def test_the_registry_hosts_one_live_room_per_id_across_threads():
    registry = RoomRegistry()
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(registry.room(3))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(room) for room in seen}) == 1 and len(registry) == 1
    recognizer = CountingRecognizer()
    seen[0].allow_analysis(5, recognizer)
    assert registry.close(3) == (recognizer, None)
    assert registry.get(3) is None and registry.close(3) == (None, None)


def test_a_frame_arriving_long_after_its_capture_is_dropped_not_analysed():
    from fer.rooms.live import MAX_FRAME_AGE_S

    clock, recognizer = Clock(), CountingRecognizer()
    room = LiveRoom(1, clock)
    room.allow_analysis(5, recognizer)
    assert room.process_frame(FRAME, 10.0) is not None  # the least-delayed frame: the anchor
    clock.now += 3.0  # a backlog: the frame captured 0.1 s later arrives 3 s later
    assert room.process_frame(FRAME, 10.1) is not None  # the first in a second: analysed
    clock.now += 0.1
    assert room.process_frame(FRAME, 10.2) is None  # late again: dropped
    assert recognizer.n_calls == 2 and room.n_late == 1
    clock.now += 0.1  # the backlog drained: frames arrive on time again
    assert room.process_frame(FRAME, 13.2 - MAX_FRAME_AGE_S / 2) is not None
    clock.now += MAX_FRAME_AGE_S + 0.01  # a lasting backlog still gets a frame a second
    assert room.process_frame(FRAME, 12.8) is not None  # 1.4 s late
    assert recognizer.n_calls == 4 and room.n_late == 1


class Closing:
    """A recognizer or recorder that counts its closes."""

    classes = ("neutral", "happy")
    session_id = 7

    def __init__(self):
        self.n_closed = 0

    def close(self):
        self.n_closed += 1

    def process(self, frame_bgr, t_seconds):
        return []

    def add(self, t_seconds, results):
        pass


def test_an_expired_room_stops_analysing_at_its_next_frame_and_saves_the_recording():
    clock = Clock()
    room, recognizer, recorder = LiveRoom(1, clock), Closing(), Closing()
    room.allow_analysis(5, recognizer, "tiny", until=clock.now + 60)
    room.start_recording(recorder)
    clock.now += 59
    assert room.process_frame(FRAME, 0.0) is not None and room.analysing
    clock.now += 1
    assert room.process_frame(FRAME, 1.0) is None  # the room has expired
    assert not room.analysing and room.recorder is None
    assert (recognizer.n_closed, recorder.n_closed) == (1, 1)
    assert room.process_frame(FRAME, 2.0) is None and recognizer.n_closed == 1


def test_the_registry_ends_rooms_past_their_expiry_even_without_frames():
    clock = Clock()
    registry = RoomRegistry(clock)
    ending, lasting = registry.room(1), registry.room(2)
    ending_recognizer, lasting_recognizer = Closing(), Closing()
    ending.allow_analysis(5, ending_recognizer, until=clock.now + 10)
    lasting.allow_analysis(6, lasting_recognizer, until=clock.now + 3600)
    assert registry.close_expired() == []
    clock.now += 10
    assert registry.close_expired() == [1]
    assert registry.get(1) is None and ending_recognizer.n_closed == 1
    assert registry.get(2) is lasting and lasting.analysing and lasting_recognizer.n_closed == 0


def test_the_registry_s_sweeper_closes_an_expired_room_by_itself():
    registry = RoomRegistry()
    recognizer = Closing()
    registry.room(1).allow_analysis(5, recognizer, until=0.0)  # long past on the real clock
    registry.start_sweeping(every_s=0.05)
    deadline = time.monotonic() + 5
    while registry.get(1) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert registry.get(1) is None and recognizer.n_closed == 1


def test_a_recording_stopped_while_a_frame_is_analysed_is_not_reported_as_a_problem():
    room = LiveRoom(1)

    class StoppingRecognizer(CountingRecognizer):
        def process(self, frame_bgr, t_seconds):  # the clinician stops meanwhile
            room.stop_recording()
            return super().process(frame_bgr, t_seconds)

    class ClosedRecorder(ListRecorder):
        def add(self, t_seconds, results):
            raise ValueError(f"The recorder for session {self.session_id} is closed")

    room.allow_analysis(5, StoppingRecognizer())
    room.start_recording(ClosedRecorder())
    update = room.process_frame(FRAME, 0.0)
    assert update.error is None and room.snapshot().last_error is None
    room.allow_analysis(5, CountingRecognizer())
    room.start_recording(ClosedRecorder())  # a recorder that fails while still recording
    update = room.process_frame(FRAME, 0.1)
    assert update.error == "Recording: The recorder for session 7 is closed"


class FailingRecorder:
    """A recorder whose database refuses the last rows; it counts what it was asked to do."""

    session_id = 7

    def __init__(self):
        self.calls = []

    def close(self):
        self.calls.append("close")
        raise RuntimeError("database is locked")

    def discard(self):
        self.calls.append("discard")
        return 1


def test_closing_an_analysis_closes_the_recognizer_even_when_the_recording_fails():
    room, recognizer, recorder = LiveRoom(1, Clock()), Closing(), FailingRecorder()
    room.allow_analysis(5, recognizer, "tiny")
    room.start_recording(recorder)
    with pytest.raises(RuntimeError, match="locked"):
        close_analysis(*room.forbid_analysis())
    assert recognizer.n_closed == 1 and recorder.calls == ["close"]


def test_a_withdrawal_drops_the_recording_s_unsaved_rows_instead_of_writing_them():
    room, recognizer, recorder = LiveRoom(1, Clock()), Closing(), FailingRecorder()
    room.allow_analysis(5, recognizer, "tiny")
    room.start_recording(recorder)
    close_analysis(*room.forbid_analysis(), discard_recording=True)
    assert recognizer.n_closed == 1 and recorder.calls == ["discard"]


def test_stopping_a_named_recording_leaves_another_one_running():
    room, recorder = LiveRoom(1, Clock()), Closing()
    room.allow_analysis(5, Closing(), "tiny")
    room.start_recording(recorder)
    assert room.stop_recording(session_id=8) is None and room.recorder is recorder
    assert room.stop_recording(session_id=7) is recorder and room.recorder is None
    assert room.stop_recording() is None
