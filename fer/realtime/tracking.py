"""Stable track ids for faces across frames, and steadied boxes.

Matching is greedy: first by box overlap (IoU), then, for faces that moved too fast to overlap,
by centre distance relative to the face size. This is enough for the one to four faces of a
therapy call; it is not a multi-object tracker for crowds. Each track owns a per-face state (the
pipeline puts its probability smoother there) so that smoothing never mixes two people.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fer.realtime.smoothing import frame_time

BBox = tuple[int, int, int, int]


def face_name(track_id: int) -> str:
    """``Face 1``: how the video overlay, the pages, the charts and the reports name a tracked
    face, so that a clinician can match them."""
    return f"Face {int(track_id)}"


@dataclass(frozen=True)
class TrackerConfig:
    """Matching and box-steadying parameters.

    Attributes
    ----------
    iou_threshold
        Smallest overlap for a detection to continue a track.
    max_centre_shift
        Otherwise, largest centre move, as a fraction of the track's box size.
    timeout_s
        A track unseen for longer than this is dropped; the face gets a new id when it returns.
    min_missed_frames
        ...but only once it has also been missing from this many processed frames. On a loaded
        machine frames can arrive a second or more apart; the time limit alone would then give
        the same face a new id (and a fresh smoother) on every frame.
    box_half_life_s
        Half-life of the exponential smoothing of the shown box (0 disables it).
    snap_iou
        Below this overlap between the steadied box and the new detection the box jumps to the
        detection, so a quick head move does not leave the box behind.
    """

    iou_threshold: float = 0.3
    max_centre_shift: float = 0.5
    timeout_s: float = 1.0
    min_missed_frames: int = 3
    box_half_life_s: float = 0.08
    snap_iou: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_centre_shift", "timeout_s", "box_half_life_s", "snap_iou"):
            if math.isnan(getattr(self, name)):  # would pass the checks below as false
                raise ValueError(f"{name} must be a number, got NaN")
        if not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {self.iou_threshold}")
        for name in (
            "max_centre_shift",
            "timeout_s",
            "min_missed_frames",
            "box_half_life_s",
            "snap_iou",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")


@dataclass
class Track:
    """One face followed over time."""

    track_id: int
    box: NDArray[np.float64]  # steadied (x, y, w, h)
    raw_box: NDArray[np.float64]  # latest detection
    first_seen_s: float
    last_seen_s: float
    state: Any = None
    n_frames: int = field(default=1)
    missed_frames: int = 0  # processed frames since the face was last matched

    @property
    def bbox(self) -> BBox:
        """The steadied box rounded to whole pixels."""
        x, y, width, height = np.round(self.box).astype(int).tolist()
        return x, y, max(1, width), max(1, height)


def iou(
    box_a: Sequence[float] | NDArray[np.float64], box_b: Sequence[float] | NDArray[np.float64]
) -> float:
    """Intersection over union of two (x, y, w, h) boxes (tuples or arrays of four numbers)."""
    ax, ay, aw, ah = (float(v) for v in box_a)
    bx, by, bw, bh = (float(v) for v in box_b)
    inter_w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    inter_h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _centre_shift(track_box: NDArray[np.float64], box: NDArray[np.float64]) -> float:
    """Centre distance in units of the track box's size (geometric mean of its sides)."""
    centre_a = track_box[:2] + track_box[2:] / 2.0
    centre_b = box[:2] + box[2:] / 2.0
    size = max(float(np.sqrt(track_box[2] * track_box[3])), 1.0)
    return float(np.hypot(*(centre_a - centre_b))) / size


class FaceTracker:
    """Assigns a stable ``track_id`` to every detected box, frame after frame.

    ``make_state`` builds the per-track state (e.g. a smoother) when a track is born.
    """

    def __init__(
        self, config: TrackerConfig | None = None, make_state: Callable[[], Any] | None = None
    ):
        self.config = config or TrackerConfig()
        self.make_state = make_state
        self.reset()

    def reset(self) -> None:
        """Forget all tracks; ids start again from 1."""
        self.tracks: list[Track] = []
        self._next_id = 1
        self._last_t: float | None = None
        self._frame_size: tuple[int, int] | None = None

    def update(
        self,
        boxes: Sequence[Sequence[float]],
        t_s: float,
        frame_size: tuple[int, int] | None = None,
    ) -> list[Track]:
        """Match this frame's boxes to tracks; returns one track per box, in the same order.

        ``frame_size`` (width, height) of the frame the boxes are in: when it changes, the
        tracks' boxes are scaled to the new frame first, so that a stream that lowers its
        resolution keeps its faces' ids.
        """
        t_s = frame_time(t_s)  # NaN would stamp tracks with a time nothing times out from
        if self._last_t is not None and t_s < self._last_t:
            self.reset()  # time went backwards: a new clip or a restarted stream
        self._last_t = t_s
        if frame_size is not None:
            if self._frame_size is not None and frame_size != self._frame_size:
                self._rescale(self._frame_size, frame_size)
            self._frame_size = (int(frame_size[0]), int(frame_size[1]))
        config = self.config
        self.tracks = [
            track
            for track in self.tracks
            if t_s - track.last_seen_s <= config.timeout_s
            or track.missed_frames < config.min_missed_frames
        ]
        detections = [np.asarray(box, np.float64).reshape(4) for box in boxes]
        assigned: dict[int, Track] = {}
        free_tracks = set(range(len(self.tracks)))

        pairs = [
            (iou(track.raw_box, box), t_index, d_index)
            for t_index, track in enumerate(self.tracks)
            for d_index, box in enumerate(detections)
        ]
        for overlap, t_index, d_index in sorted(pairs, reverse=True):
            if overlap < config.iou_threshold:
                break
            if t_index in free_tracks and d_index not in assigned:
                assigned[d_index] = self.tracks[t_index]
                free_tracks.discard(t_index)

        shifts = [
            (_centre_shift(self.tracks[t_index].raw_box, box), t_index, d_index)
            for t_index in free_tracks
            for d_index, box in enumerate(detections)
            if d_index not in assigned
        ]
        for shift, t_index, d_index in sorted(shifts):
            if shift > config.max_centre_shift:
                break
            if t_index in free_tracks and d_index not in assigned:
                assigned[d_index] = self.tracks[t_index]
                free_tracks.discard(t_index)

        for t_index in free_tracks:
            self.tracks[t_index].missed_frames += 1
        result = []
        for d_index, box in enumerate(detections):
            track = assigned.get(d_index)
            if track is None:
                track = Track(
                    track_id=self._next_id,
                    box=box.copy(),
                    raw_box=box.copy(),
                    first_seen_s=t_s,
                    last_seen_s=t_s,
                    state=self.make_state() if self.make_state else None,
                )
                self._next_id += 1
                self.tracks.append(track)
            else:
                self._steady(track, box, t_s)
            result.append(track)
        return result

    def _rescale(self, old_size: tuple[int, int], new_size: tuple[int, int]) -> None:
        scale = np.array([new_size[0] / old_size[0], new_size[1] / old_size[1]] * 2)
        for track in self.tracks:
            track.box = track.box * scale
            track.raw_box = track.raw_box * scale

    def _steady(self, track: Track, box: NDArray[np.float64], t_s: float) -> None:
        half_life = self.config.box_half_life_s
        if half_life <= 0 or iou(track.box, box) < self.config.snap_iou:
            track.box = box.copy()
        else:
            alpha = 1.0 - 0.5 ** ((t_s - track.last_seen_s) / half_life)
            track.box = track.box + alpha * (box - track.box)
        track.raw_box = box.copy()
        track.last_seen_s = t_s
        track.n_frames += 1
        track.missed_frames = 0
