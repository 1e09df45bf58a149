"""Reading video files frame by frame, and running a recognizer over a whole file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.data.image_folders import MAX_FRAME_SIDE, MAX_IMAGE_PIXELS, MIN_FRAME_SIDE

if TYPE_CHECKING:  # pragma: no cover
    from fer.realtime.pipeline import EmotionRecognizer, FaceResult


NOT_A_VIDEO = "could not be read as a video: it is damaged or in a format we cannot open."
NO_FRAMES = "holds no picture we can decode: it is damaged or holds only sound."
EMPTY_FILE = "is empty (0 bytes): there is no video in it."


class UnreadableVideoError(ValueError):
    """A file that cannot be read as a video. ``reason`` says why without naming the file, so a
    caller that read a copy (an upload in a temporary folder) can name the user's file instead."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name} {reason}")
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (frame count can be an estimate)."""

    path: Path
    fps: float
    n_frames: int
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps if self.fps > 0 else 0.0

    def frames_at_stride(self, stride: int) -> int:
        """How many frames analysing every ``stride``-th one gives, by the container's count
        (0 when it states none)."""
        return -(-self.n_frames // stride)


@dataclass(frozen=True)
class FrameResult:
    """The recognizer's output for one analysed frame."""

    frame_index: int
    t_s: float
    faces: tuple[FaceResult, ...]


def _open(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No video file at {path}")
    if path.stat().st_size == 0:
        raise UnreadableVideoError(path.name, EMPTY_FILE)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise UnreadableVideoError(path.name, NOT_A_VIDEO)
    info = VideoInfo(
        path=path,
        fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
        n_frames=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
    )
    return capture, info


def probe_video(path: str | Path) -> VideoInfo:
    """Check that ``path`` is a readable video with at least one frame; return its properties.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    UnreadableVideoError
        (a ``ValueError``) If the file is empty, not a video, or has no decodable frame.
    """
    capture, info = _open(path)
    try:
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise UnreadableVideoError(info.path.name, NO_FRAMES)
    if info.width == 0 or info.height == 0:
        info = VideoInfo(info.path, info.fps, info.n_frames, frame.shape[1], frame.shape[0])
    return info


def iter_frames(
    path: str | Path, stride: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, float, NDArray[np.uint8]]]:
    """Yield ``(frame_index, t_s, frame_bgr)`` for every ``stride``-th frame.

    Times come from the container's timestamps when they are usable (variable frame rate phone
    videos), else from ``frame_index / fps``.
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    capture, info = _open(path)
    fps = info.fps if info.fps > 0 else 25.0
    try:
        index, n_yielded, last_t = 0, 0, -1.0
        while max_frames is None or n_yielded < max_frames:
            if index % stride:
                # grab() skips the colour conversion of frames we do not analyse.
                if not capture.grab():
                    break
                index += 1
                continue
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            position_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
            t_s = position_ms / 1000.0 if position_ms and position_ms > 0 else index / fps
            if t_s <= last_t:
                t_s = index / fps if index / fps > last_t else last_t + 1.0 / fps
            last_t = t_s
            # Already uint8: captures convert to 8-bit BGR (CAP_PROP_CONVERT_RGB, on by default).
            yield index, t_s, np.asarray(frame, dtype=np.uint8)
            n_yielded += 1
            index += 1
    finally:
        capture.release()
    if n_yielded == 0 and (max_frames is None or max_frames > 0):
        raise UnreadableVideoError(info.path.name, NO_FRAMES)


def check_frame_size(info: VideoInfo) -> None:
    """Refuse, before any frame is analysed, a video whose frames no detector can use or that
    are larger than a still image may be: an :class:`UnreadableVideoError` naming the size."""
    size = f"has frames of {info.width}×{info.height} pixels"
    if min(info.width, info.height) < MIN_FRAME_SIDE:
        raise UnreadableVideoError(
            info.path.name,
            f"{size}: too small to hold a face (the smallest side must be at least "
            f"{MIN_FRAME_SIDE} pixels).",
        )
    if max(info.width, info.height) > MAX_FRAME_SIDE:
        raise UnreadableVideoError(
            info.path.name, f"{size}: no side may be longer than {MAX_FRAME_SIDE} pixels."
        )
    # A small file can hold huge frames (flat pictures compress well), and every analysed
    # frame is decoded whole: the bound of uploaded images keeps memory bounded here too.
    if info.width * info.height > MAX_IMAGE_PIXELS:
        raise UnreadableVideoError(
            info.path.name,
            f"{size} ({info.width * info.height / 1e6:.0f} megapixels); the limit is "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP. Please scale it down.",
        )


def truncation_note(
    name: str,
    n_analysed: int,
    n_expected: int,
    last_index: int,
    last_t_s: float | None = None,
    duration_s: float = 0.0,
) -> str | None:
    """What to tell the user when far fewer frames decoded than the container announced
    (``n_expected`` at the stride used); None when the count is as expected, or when the last
    analysed frame (at ``last_t_s``) reaches the end of the video's ``duration_s``.

    Only some containers (MP4) store the number of frames; for others (Matroska, WebM) it is
    the duration times a frame rate, which a variable frame rate or a wrong rate in the header
    makes far too large although every frame was decoded. Their times are right, so a video
    whose analysed frames reach its end, within two of the usual steps between them, is whole.
    """
    if not n_expected or n_analysed >= n_expected - 1:
        return None
    if last_t_s is not None and duration_s > 0:
        step_s = last_t_s / (n_analysed - 1) if n_analysed > 1 else 0.0
        if last_t_s + 2 * step_s >= duration_s:
            return None
    return (
        f"{name}: only {n_analysed} of about {n_expected} frames could be decoded (up to "
        f"frame {last_index}); the file ends early or is damaged, and the rest was not "
        "analysed."
    )


def analyse_video(
    path: str | Path,
    recognizer: EmotionRecognizer,
    stride: int = 1,
    progress_callback: Callable[[int, int], None] | None = None,
    max_frames: int | None = None,
) -> list[FrameResult]:
    """Run ``recognizer`` over a video file; one :class:`FrameResult` per analysed frame.

    The recognizer is reset first so tracks and smoothing do not carry over from another clip.
    ``progress_callback(n_done, n_total)`` is called after every analysed frame (``n_total`` is
    the container's estimate).
    """
    info = probe_video(path)
    check_frame_size(info)
    n_total = info.frames_at_stride(stride)
    if max_frames is not None:
        n_total = min(n_total, max_frames) if n_total else max_frames
    recognizer.reset()
    results = []
    for frame_index, t_s, frame in iter_frames(path, stride=stride, max_frames=max_frames):
        faces = recognizer.process(frame, t_s)
        results.append(FrameResult(frame_index, t_s, tuple(faces)))
        if progress_callback is not None:
            progress_callback(len(results), max(n_total, len(results)))
    return results
