"""Camera-to-label latency of a remote room, measured on the server's clock.

The client's browser stamps each frame with its presentation time (``av.VideoFrame.time``, from
the RTP timestamps: the capture clock, with an unknown offset). The worker stamps its arrival.
``arrival - presentation`` is the offset plus this frame's delay; its smallest value so far
belongs to the least-delayed frame, and :class:`CaptureClock` takes that frame as delayed by
nothing. A frame's capture time is then its presentation time plus that smallest offset: exact
up to the least-delayed frame's own one-way delay (encoding, network, decoding), which the
figure therefore leaves out. The analysis time and the wait until the clinician's view renders
the label are measured directly, on the same clock.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

LATENCY_SPAN_S = 10.0
PARTS = ("to the server", "analysis", "to the view")


class CaptureClock:
    """Capture-time estimates of one stream's frames (not thread-safe: one worker calls it)."""

    def __init__(self) -> None:
        self._offset: float | None = None
        self._last_presented: float | None = None

    def capture_time(self, presented_s: float, arrived_s: float) -> float:
        """When the frame presented at ``presented_s`` (sender's clock) was captured, on the
        clock of ``arrived_s``. A presentation time running backwards starts a new stream."""
        offset = arrived_s - presented_s
        restarted = self._last_presented is not None and presented_s < self._last_presented
        if self._offset is None or restarted or offset < self._offset:
            self._offset = offset
        self._last_presented = presented_s
        return presented_s + self._offset

    def reset(self) -> None:
        self._offset = self._last_presented = None


@dataclass(frozen=True)
class FrameTiming:
    """One analysed frame on the server's monotonic clock, in seconds."""

    captured_s: float
    arrived_s: float
    analysed_s: float


@dataclass(frozen=True)
class LatencySummary:
    n_samples: int
    p50_ms: float
    p95_ms: float
    # The median of each part of the path: to the server, analysis, to the view.
    parts_p50_ms: dict[str, float]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation, like ``numpy.percentile``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class LatencyWindow:
    """Latency samples of the last ``span_s`` seconds; thread-safe."""

    def __init__(self, span_s: float = LATENCY_SPAN_S):
        if span_s <= 0:
            raise ValueError(f"span_s must be positive, got {span_s}")
        self.span_s = span_s
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, float, float, float]] = deque()

    def add(self, timing: FrameTiming, rendered_s: float) -> float:
        """Record that the label of the frame ``timing`` describes was rendered at
        ``rendered_s``; returns the camera-to-label latency in milliseconds."""
        parts = (
            timing.arrived_s - timing.captured_s,
            timing.analysed_s - timing.arrived_s,
            rendered_s - timing.analysed_s,
        )
        with self._lock:
            self._samples.append((rendered_s, *parts))
            self._forget_old(rendered_s)
        return sum(parts) * 1e3

    def _forget_old(self, now_s: float) -> None:
        while self._samples and self._samples[0][0] < now_s - self.span_s:
            self._samples.popleft()

    def summary(self, now_s: float) -> LatencySummary | None:
        """Percentiles over the last ``span_s`` seconds before ``now_s``; None without samples."""
        with self._lock:
            self._forget_old(now_s)
            samples = list(self._samples)
        if not samples:
            return None
        totals = [sum(sample[1:]) * 1e3 for sample in samples]
        parts = {
            name: percentile([sample[index + 1] * 1e3 for sample in samples], 50)
            for index, name in enumerate(PARTS)
        }
        return LatencySummary(
            len(samples), percentile(totals, 50), percentile(totals, 95), parts
        )
