"""What happens live in a room, in the app instance that hosts it: the client's frames analysed,
the latest results for the clinician's view, latency, connection, recording.

Three threads meet here. The webrtc worker of the client's page calls
:meth:`LiveRoom.process_frame` for each frame; the client's page thread allows or forbids
analysis (consent) and reports the camera's state; the clinician's page thread reads updates,
starts and stops the recording and flushes it. Everything shared is guarded by one lock; the
worker never touches the database (it buffers rows in a
:class:`fer.sessions.recorder.SessionRecorder`, which the clinician's view flushes).

Nothing is analysed before :meth:`LiveRoom.allow_analysis` has been given the client's consent,
and a withdrawal (:meth:`LiveRoom.forbid_analysis`) stops it before the next frame. Only the
client's page calls these two; the clinician's side has no way to start the analysis. The
analysis also ends by itself when the room expires (the deadline ``allow_analysis`` was given):
the next frame finds it over, and the registry's sweeper (:mod:`fer.rooms.registry`) ends it for
rooms whose pages were simply closed, saving a recording; it also stops rooms whose consent was
withdrawn anywhere else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fer.rooms.latency import CaptureClock, FrameTiming, LatencySummary, LatencyWindow

# How many recent updates a room keeps for its viewers; older ones are dropped, not queued.
KEPT_UPDATES = 64
# Without a frame for this long, video is no longer "arriving".
STALE_AFTER_S = 2.0
# A frame that reaches the worker this long after its capture is dropped unanalysed: its label
# would be late anyway, and skipping it lets a backlog ahead of the worker (streamlit-webrtc's
# and aiortc's queues are unbounded) drain instead of growing while the analysis holds the CPU.
# One late frame per this span is still analysed, so that a backlog the room did not cause
# (another load on the machine) slows the readout instead of stopping it.
MAX_FRAME_AGE_S = 1.0
NOT_JOINED, CONNECTING, PLAYING, STOPPED, LEFT = (
    "not joined", "connecting", "playing", "stopped", "left",
)
CAMERA_STATES = (NOT_JOINED, CONNECTING, PLAYING, STOPPED, LEFT)
LOGGER = logging.getLogger(__name__)


def close_quietly(recorder: Any, recognizer: Any) -> None:
    """Close a room's recorder (it writes what it holds and ends its session) and recognizer,
    from a thread with nobody to tell: a failure is logged."""
    for resource in (recorder, recognizer):
        if resource is None:
            continue
        try:
            resource.close()
        except Exception:
            LOGGER.exception("closing %s of an expired room failed", type(resource).__name__)


def close_analysis(recognizer: Any, recorder: Any, discard_recording: bool = False) -> None:
    """Close what :meth:`LiveRoom.forbid_analysis` returned: the recorder writes what it holds
    and ends its session or, with ``discard_recording``, drops it unwritten (a withdrawal is
    about to delete the session); then the recognizer, even when the recorder failed, whose
    error is raised."""
    try:
        if recorder is not None:
            if discard_recording:
                recorder.discard()
            else:
                recorder.close()
    finally:
        if recognizer is not None:
            recognizer.close()


@dataclass(frozen=True)
class RoomUpdate:
    """One analysed frame, for the clinician's view (attribute names as the Live page's)."""

    sequence: int
    t_seconds: float
    results: tuple
    frame_ms: float
    fps: float
    timing: FrameTiming | None
    error: str | None = None


@dataclass(frozen=True)
class RoomSnapshot:
    """The room's state at one moment, for display."""

    camera: str
    analysing: bool
    consent_id: int | None
    video_arriving: bool
    n_frames: int
    n_with_faces: int
    recording_session_id: int | None
    last_error: str | None


class LiveRoom:
    """The live state of one room (see the module's docstring for who calls what)."""

    def __init__(
        self, room_id: int, clock: Callable[[], float] = time.monotonic,
        kept_updates: int = KEPT_UPDATES,
    ):
        self.room_id = room_id
        self._clock = clock
        self._lock = threading.Lock()
        self._consent_id: int | None = None
        self._recognizer: Any = None
        self._camera = NOT_JOINED
        self._capture_clock = CaptureClock()
        self._updates: deque[RoomUpdate] = deque(maxlen=kept_updates)
        self._sequence = 0
        self._rendered_sequence = 0
        self._stream_origin: float | None = None
        self._last_frame_at: float | None = None
        self._fps = 0.0
        self._n_frames = 0
        self._n_with_faces = 0
        self.n_late = 0
        self._last_analysed_at: float | None = None
        self._last_error: str | None = None
        self._recorder: Any = None
        self._record_origin: float | None = None
        self._until: float | None = None  # the room's expiry on self._clock
        self.latency = LatencyWindow()
        self.classes: list[str] = []
        self.model_label = ""

    # the client's page ------------------------------------------------------------------------

    def allow_analysis(
        self, consent_id: int, recognizer: Any, model_label: str = "",
        until: float | None = None,
    ) -> None:
        """Analyse frames from now on with ``recognizer`` (an ``EmotionRecognizer``: its
        ``classes`` name the probability columns), under the client's consent ``consent_id``,
        until ``until`` on the room's clock (the room's expiry; None: no end of its own);
        ``model_label`` is what a recording names as its model."""
        with self._lock:
            self._consent_id = consent_id
            self._recognizer = recognizer
            self._until = until
            self.classes = list(recognizer.classes)
            self.model_label = model_label

    def forbid_analysis(self) -> tuple[Any, Any]:
        """Stop analysing and recording at once; returns (recognizer, recorder), for the
        caller to close (the recorder writes what it holds)."""
        with self._lock:
            return self._take_analysis_locked()

    def _take_analysis_locked(self) -> tuple[Any, Any]:
        recognizer, recorder = self._recognizer, self._recorder
        self._consent_id = self._recognizer = self._recorder = None
        self._record_origin = self._until = None
        self._updates.clear()  # nothing seen under the consent stays on show
        return recognizer, recorder

    def expired(self, now: float | None = None) -> bool:
        """Whether the room's deadline has passed (False without one)."""
        now = self._clock() if now is None else now
        with self._lock:
            return self._until is not None and now >= self._until

    def end_if_expired(self, now: float | None = None) -> bool:
        """Past the room's deadline: stop analysing, save and end a recording, close the
        recognizer; True if this call ended it."""
        now = self._clock() if now is None else now
        with self._lock:
            if self._until is None or now < self._until:
                return False
            recognizer, recorder = self._take_analysis_locked()
        close_quietly(recorder, recognizer)
        return True

    @property
    def analysing(self) -> bool:
        with self._lock:
            return self._recognizer is not None and self._consent_id is not None

    def set_camera(self, state: str) -> None:
        if state not in CAMERA_STATES:
            raise ValueError(f"camera state must be one of {CAMERA_STATES}, got {state!r}")
        with self._lock:
            if state == PLAYING and self._camera != PLAYING:
                self._stream_origin = None
                self._fps = 0.0
            self._camera = state

    # the webrtc worker ------------------------------------------------------------------------

    def process_frame(self, frame_bgr: np.ndarray, presented_s: float | None) -> RoomUpdate | None:
        """Analyse one frame of the client's camera (``presented_s``: its presentation time,
        ``av.VideoFrame.time``); None when analysis is not allowed, and for a frame that
        arrived more than ``MAX_FRAME_AGE_S`` after its capture while another was analysed
        within that span (dropped; counted in ``n_late``)."""
        arrived = self._clock()
        if self.end_if_expired(arrived):
            return None
        with self._lock:
            recognizer, consent_id = self._recognizer, self._consent_id
            recorder, record_origin = self._recorder, self._record_origin
            if recognizer is None or consent_id is None:
                return None
            if self._camera != LEFT:
                self._camera = PLAYING  # a frame proves it, whatever the page last reported
            if self._stream_origin is None:
                self._stream_origin = arrived
            t_seconds = arrived - self._stream_origin
            if self._last_frame_at is not None and arrived > self._last_frame_at:
                instant = 1.0 / (arrived - self._last_frame_at)
                self._fps = instant if self._fps == 0 else 0.9 * self._fps + 0.1 * instant
            self._last_frame_at = arrived
            fps = self._fps
            captured = (
                None if presented_s is None
                else self._capture_clock.capture_time(presented_s, arrived)
            )
            if (
                captured is not None and arrived - captured > MAX_FRAME_AGE_S
                and self._last_analysed_at is not None
                and arrived - self._last_analysed_at < MAX_FRAME_AGE_S
            ):
                self.n_late += 1
                return None
            self._last_analysed_at = arrived
        error = None
        try:
            results = tuple(recognizer.process(frame_bgr, t_seconds))
        except Exception as exception:  # shown to the clinician; the stream keeps running
            results, error = (), f"{type(exception).__name__}: {exception}"
        analysed = self._clock()
        if recorder is not None and record_origin is not None and results:
            try:
                recorder.add(max(0.0, arrived - record_origin), results)
            except ValueError as exception:  # closed meanwhile, or a malformed result
                with self._lock:
                    stopped_meanwhile = self._recorder is not recorder
                if not stopped_meanwhile:  # a recording stopped during the frame is no fault
                    error = f"Recording: {exception}"
        timing = None if captured is None else FrameTiming(captured, arrived, analysed)
        with self._lock:
            self._sequence += 1
            update = RoomUpdate(
                self._sequence, t_seconds, results, (analysed - arrived) * 1e3, fps, timing,
                error,
            )
            self._updates.append(update)
            self._n_frames += 1
            self._n_with_faces += bool(results)
            if error:
                self._last_error = error
        return update

    # the clinician's view ---------------------------------------------------------------------

    def updates_since(self, sequence: int) -> list[RoomUpdate]:
        """The kept updates newer than ``sequence``, oldest first."""
        with self._lock:
            return [update for update in self._updates if update.sequence > sequence]

    def note_rendered(self, update: RoomUpdate, rendered_s: float | None = None) -> float | None:
        """The clinician's view has shown ``update``'s labels: one latency sample (ms), the
        first time an update is rendered; None for one already counted or without timing."""
        rendered_s = self._clock() if rendered_s is None else rendered_s
        with self._lock:
            if update.sequence <= self._rendered_sequence or update.timing is None:
                return None
            self._rendered_sequence = update.sequence
        return self.latency.add(update.timing, rendered_s)

    def latency_summary(self) -> LatencySummary | None:
        return self.latency.summary(self._clock())

    def snapshot(self) -> RoomSnapshot:
        with self._lock:
            arriving = (
                self._last_frame_at is not None
                and self._clock() - self._last_frame_at < STALE_AFTER_S
            )
            return RoomSnapshot(
                self._camera, self._recognizer is not None and self._consent_id is not None,
                self._consent_id, arriving, self._n_frames, self._n_with_faces,
                None if self._recorder is None else self._recorder.session_id,
                self._last_error,
            )

    def start_recording(self, recorder: Any) -> None:
        """Buffer results in ``recorder`` from now on (its times count from this call).
        ``PermissionError`` while the client's consent is not in force."""
        with self._lock:
            if self._consent_id is None:
                raise PermissionError("Recording needs the client's consent")
            self._recorder = recorder
            self._record_origin = self._clock()

    def stop_recording(self, session_id: int | None = None) -> Any:
        """Stop buffering and return the recorder (the caller closes it); with ``session_id``,
        only if the recording is that session's (None otherwise)."""
        with self._lock:
            recorder = self._recorder
            if recorder is None or (session_id is not None and recorder.session_id != session_id):
                return None
            self._recorder = self._record_origin = None
        return recorder

    @property
    def recorder(self) -> Any:
        with self._lock:
            return self._recorder

    @property
    def consent_id(self) -> int | None:
        with self._lock:
            return self._consent_id

    def recording_time(self) -> float | None:
        """Seconds since the recording started (a marker's time); None when not recording."""
        with self._lock:
            if self._recorder is None or self._record_origin is None:
                return None
            return max(0.0, self._clock() - self._record_origin)
