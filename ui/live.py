"""The Live page's machinery: the frame processor shared by the webrtc worker thread and the page
thread (a face's readout is in ``ui.readout``, the ICE configuration in ``ui.ice_servers``).

Threading contract (see streamlit-webrtc's samples): the worker thread calls
:class:`LiveProcessor` for every frame. It never calls ``st.*`` and never touches SQLite: it hands
:class:`LiveUpdate` objects to the page through a bounded queue (dropping when the page is behind)
and appends rows to an in-memory :class:`fer.sessions.recorder.SessionRecorder` buffer. The page
thread changes settings through lock-guarded methods, reads the counts as one immutable
:class:`LiveStats` snapshot and flushes the recorder.

The figures the page shows about the stream: the camera's frame rate (every frame that reaches the
worker, analysed or skipped), the analysed rate (frames the recognizer ran on; lower when analysis
is slower than the camera) and, per drawn frame, the time from its arrival in the worker to its
label on the page.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from fer.realtime.overlay import draw_results

# Rates are counted over a few seconds: an average of instantaneous rates (1 / gap) overstates
# the rate when frames arrive in bursts, as they do after a slow analysis or network jitter.
RATE_WINDOW_S = 3.0


# ------------------------------------------------------------------------ frame processing


class RateMeter:
    """Events per second over about the last ``window_s`` seconds, counted from their times.

    ``add(t, n)`` notes ``n`` events at time ``t`` (seconds, any monotonic clock). The rate is the
    number of events after the window's first note divided by the time they took, so a burst of
    frames counts as what it is: several frames, not a very high momentary rate.
    """

    def __init__(self, window_s: float = RATE_WINDOW_S):
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.window_s = window_s
        self._notes: deque[tuple[float, int]] = deque()

    def add(self, t: float, n: int = 1) -> None:
        if n <= 0:
            return
        if self._notes and t < self._notes[-1][0]:
            self._notes.clear()  # the clock went back (a restarted stream): start afresh
        self._notes.append((t, n))
        # Keep the last note at or before the window's start, so that the counted span covers
        # the whole window, and two notes even when frames come less often than the window.
        while len(self._notes) > 2 and self._notes[1][0] <= t - self.window_s:
            self._notes.popleft()

    def rate(self) -> float:
        """Events per second; 0 until two notes at different times exist (the first note only
        marks where counting starts)."""
        if len(self._notes) < 2:
            return 0.0
        span = self._notes[-1][0] - self._notes[0][0]
        if span <= 0:
            return 0.0
        return sum(n for _, n in list(self._notes)[1:]) / span

    def clear(self) -> None:
        self._notes.clear()


@dataclass(frozen=True)
class LiveUpdate:
    """What the worker thread tells the page about one analysed frame.

    ``arrived_at`` is the processor's clock when the frame reached the worker (the start of the
    camera-to-label time); ``camera_fps`` counts every frame that arrived, ``analysed_fps`` the
    frames the recognizer ran on, both over the last few seconds.
    """

    t_seconds: float
    results: tuple
    frame_ms: float
    camera_fps: float = 0.0
    analysed_fps: float = 0.0
    arrived_at: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class LiveStats:
    """The processor's counts at one moment. The worker replaces them whole once per frame, so
    a snapshot never shows a frame counted without its faces, its error or its dropped update."""

    n_frames: int = 0
    n_with_faces: int = 0
    n_updates_dropped: int = 0
    n_errors: int = 0
    last_error: str | None = None


class LiveProcessor:
    """The ``video_frame_callback``: BGR frame → recognizer → overlay, results to the page.

    One instance per browser session (kept in ``st.session_state``); the recognizer, overlay
    options and recorder are swapped by the page under a lock.
    """

    def __init__(self, queue_size: int = 32, clock=time.monotonic):
        self.updates: queue.Queue[LiveUpdate] = queue.Queue(maxsize=queue_size)
        self._stats = LiveStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._recognizer = None
        self._show_landmarks = False
        self._recorder = None
        self._record_origin: float | None = None
        self._stream_origin: float | None = None
        self._arrivals = RateMeter()
        self._analysed = RateMeter()

    def clock(self) -> float:
        """The clock the worker stamps frames with (the page measures latency against it)."""
        return self._clock()

    # page thread ------------------------------------------------------------------------------

    def configure(self, recognizer, show_landmarks: bool) -> None:
        with self._lock:
            self._recognizer = recognizer
            self._show_landmarks = show_landmarks

    def start_recording(self, recorder) -> None:
        """Send results to ``recorder`` from now on; its times count from this call."""
        with self._lock:
            self._recorder = recorder
            self._record_origin = self._clock()

    def stop_recording(self):
        """Stop sending results to the recorder and return it (the caller closes it)."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        return recorder

    @property
    def stats(self) -> LiveStats:
        """The counts so far, as one immutable snapshot (read several figures from one)."""
        with self._lock:
            return self._stats

    @property
    def recorder(self):
        with self._lock:
            return self._recorder

    def recording_time(self) -> float | None:
        """Seconds since the recording started (a marker's time); None when not recording."""
        with self._lock:
            if self._recorder is None or self._record_origin is None:
                return None
            return max(0.0, self._clock() - self._record_origin)

    # worker thread ----------------------------------------------------------------------------

    async def recv_queued(self, frames: list) -> list:
        """The ``queued_video_frames_callback``: every frame that arrived since the last call.

        Only the newest is analysed (the others are already late); all of them count towards the
        camera's frame rate, which a plain per-frame callback cannot see.
        """
        return [self(frames[-1], n_arrived=len(frames))]

    def __call__(self, frame, n_arrived: int = 1):
        """``av.VideoFrame`` in, annotated ``av.VideoFrame`` out (streamlit-webrtc keeps pts)."""
        import av

        annotated = self.process_bgr(frame.to_ndarray(format="bgr24"), n_arrived)
        return av.VideoFrame.from_ndarray(annotated, format="bgr24")

    def process_bgr(self, frame_bgr: np.ndarray, n_arrived: int = 1) -> np.ndarray:
        """Analyse one frame; ``n_arrived`` frames reached the worker with it (it included)."""
        now = self._clock()
        with self._lock:
            recognizer, show_landmarks = self._recognizer, self._show_landmarks
            recorder, record_origin = self._recorder, self._record_origin
            if self._stream_origin is None:
                self._stream_origin = now
            t_seconds = now - self._stream_origin
            self._arrivals.add(now, n_arrived)
            if recognizer is not None:
                self._analysed.add(now)
            camera_fps, analysed_fps = self._arrivals.rate(), self._analysed.rate()
        if recognizer is None:
            return frame_bgr
        started = time.perf_counter()
        error = None
        try:
            results = tuple(recognizer.process(frame_bgr, t_seconds))
        except Exception as exception:  # shown on the page; the stream keeps running
            results, error = (), f"{type(exception).__name__}: {exception}"
        frame_ms = (time.perf_counter() - started) * 1e3
        if recorder is not None and results:
            try:
                recorder.add(max(0.0, now - record_origin), results)
            except ValueError as exception:  # closed meanwhile, or a malformed result
                with self._lock:
                    stopped_meanwhile = self._recorder is not recorder
                if not stopped_meanwhile:  # a recording stopped during the frame is no fault
                    error = f"Recording: {exception}"
        annotated = frame_bgr
        if results:
            annotated = draw_results(frame_bgr.copy(), results, show_landmarks)
        update = LiveUpdate(t_seconds, results, frame_ms, camera_fps, analysed_fps, now, error)
        with self._lock:  # the update and the counts that include it, in one step
            try:
                self.updates.put_nowait(update)
                dropped = False
            except queue.Full:
                dropped = True
            stats = self._stats
            self._stats = LiveStats(
                n_frames=stats.n_frames + 1,
                n_with_faces=stats.n_with_faces + bool(results),
                n_updates_dropped=stats.n_updates_dropped + dropped,
                n_errors=stats.n_errors + bool(error),
                last_error=error or stats.last_error,
            )
        return annotated

    def reset_clock(self) -> None:
        with self._lock:
            self._stream_origin = None
            self._arrivals.clear()
            self._analysed.clear()


def drain(updates: queue.Queue, timeout_s: float) -> list[LiveUpdate]:
    """Wait up to ``timeout_s`` for one update, then take everything else already queued."""
    try:
        drained = [updates.get(timeout=timeout_s)]
    except queue.Empty:
        return []
    while True:
        try:
            drained.append(updates.get_nowait())
        except queue.Empty:
            return drained


def label_latency_ms(update: LiveUpdate, drawn_at: float) -> float:
    """Milliseconds from the frame's arrival in the worker to ``drawn_at`` (the same clock),
    when the page draws its label."""
    return max(0.0, (drawn_at - update.arrived_at) * 1e3)
