"""The Upload page's machinery: checking and decoding uploaded files, running the recognizer over
an image or a video, and the tables the page shows.

Uploads are checked by content, not only by name: the image header is read before decoding so a
huge image is refused before it fills memory, and videos go through
``fer.realtime.video.probe_video``.
Every problem is a ``ValueError`` whose message is meant for the user.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.data.image_folders import MAX_FRAME_SIDE, MAX_IMAGE_PIXELS, MIN_FRAME_SIDE
from fer.realtime.smoothing import SmoothingConfig
from fer.sessions.records import FrameRecord

IMAGE_TYPES = ("jpg", "jpeg", "png", "bmp", "webp")
VIDEO_TYPES = ("mp4", "mov", "avi", "mkv", "webm", "m4v")
NO_FACE_MESSAGE = (
    "No face was found in the image, so nothing was saved. Faces smaller than about a fifth of "
    "the picture's height are usually not found: crop the picture around the face and try again."
)


@dataclass(frozen=True)
class Analysis:
    """What one upload produced: per-face records to store, and an annotated picture to show."""

    kind: str  # "image" or "video"
    records: list[FrameRecord]
    classes: list[str]
    preview_bgr: NDArray[np.uint8] | None
    n_frames: int
    detector_warning: str | None
    tta: str  # the test-time views each prediction averaged (EmotionRecognizer.tta)
    notes: tuple[str, ...] = ()  # what the user should know about the result (faces left out)


def upload_kind(filename: str) -> str:
    """``"image"`` or ``"video"`` from the file name; ``ValueError`` for anything else."""
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in VIDEO_TYPES:
        return "video"
    raise ValueError(
        f"{filename} is neither an image ({', '.join(IMAGE_TYPES)}) nor a video "
        f"({', '.join(VIDEO_TYPES)})."
    )


def decode_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> NDArray[np.uint8]:
    """Decode an uploaded image to BGR, refusing empty, unreadable and oversized files."""
    from PIL import Image

    if not data:
        raise ValueError("The file is empty.")
    too_large = (
        "The image is {size}; the limit is {limit:.0f} MP. Please scale it down and upload it "
        "again."
    )
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            width, height = image.size
    except Image.DecompressionBombError as error:  # Pillow's own, far larger, limit
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(pixels[1]) / 1e6:.0f} megapixels" if pixels else "far too large"
        raise ValueError(too_large.format(size=size, limit=max_pixels / 1e6)) from None
    except (OSError, ValueError):
        raise ValueError("The file is not a readable image (corrupt or not an image).") from None
    if min(width, height) < MIN_FRAME_SIDE:
        raise ValueError(
            f"The image is {width}×{height} pixels: too small to hold a face (the smallest "
            f"side must be at least {MIN_FRAME_SIDE} pixels)."
        )
    if max(width, height) > MAX_FRAME_SIDE:
        raise ValueError(
            f"The image is {width}×{height} pixels: no side may be longer than "
            f"{MAX_FRAME_SIDE} pixels. Please crop or scale it down and upload it again."
        )
    if width * height > max_pixels:
        raise ValueError(
            f"The image is {width}×{height} ({width * height / 1e6:.0f} megapixels); the limit "
            f"is {max_pixels / 1e6:.0f} MP. Please scale it down and upload it again."
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # checksums and structure, for the formats that have them
    except Exception:  # PIL raises many types for damaged files
        raise ValueError("The image file is damaged (truncated or corrupt).") from None
    frame_bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame_bgr is None:
        raise ValueError("The image could not be decoded (corrupt or unsupported variant).")
    return np.asarray(frame_bgr, dtype=np.uint8)  # already uint8: IMREAD_COLOR decodes to 8 bits


def _recognizer(model, smoothing: SmoothingConfig, max_faces: int, landmarker_path):
    from fer.realtime.pipeline import EmotionRecognizer

    return EmotionRecognizer(
        model=model, smoothing=smoothing, max_faces=max_faces, landmarker_path=landmarker_path
    )


def largest_faces(results: list, max_faces: int) -> list:
    """The ``max_faces`` largest of a picture's faces (by box area), largest first."""
    return sorted(results, key=lambda result: -result.bbox[2] * result.bbox[3])[:max_faces]


def faces_left_out_note(max_faces: int) -> str:
    """What the user is told when a picture shows more faces than were asked for."""
    return (
        f"The picture shows more than {max_faces} faces; the {max_faces} largest were "
        "analysed and saved, the others were left out."
    )


def video_faces_left_out_note(name: str, max_faces: int, n_over: int, n_frames: int) -> str:
    """What the user is told when some frames of a video show more faces than were asked for."""
    return (
        f"{name}: {n_over} of {n_frames} analysed frames showed more than {max_faces} "
        f"face{'s' if max_faces > 1 else ''}; in those the {max_faces} largest were analysed "
        "and saved, the others were left out."
    )


def analyse_image(
    data: bytes, model, uncertain_below: float, max_faces: int, landmarker_path
) -> Analysis:
    """Every face of one image, labelled; ``ValueError`` for a bad file or no face."""
    from fer.realtime.overlay import draw_results

    frame_bgr = decode_image(data)
    # A still image has no history to smooth over; the uncertain threshold still applies.
    smoothing = SmoothingConfig(method="none", uncertain_below=uncertain_below, min_dwell_s=0)
    # One face more than asked for tells whether faces were left out.
    recognizer = _recognizer(model, smoothing, max_faces + 1, landmarker_path)
    try:
        results = recognizer.process(frame_bgr, 0.0)
        warning = recognizer.detector_warning
    finally:
        recognizer.close()
    if not results:
        raise ValueError(NO_FACE_MESSAGE)
    notes: tuple[str, ...] = ()
    if len(results) > max_faces:
        results = largest_faces(results, max_faces)
        notes = (faces_left_out_note(max_faces),)
    preview = draw_results(frame_bgr.copy(), results, show_landmarks=False)
    records = [FrameRecord.from_result(0.0, result) for result in results]
    return Analysis(
        "image", records, list(model.classes), preview, 1, warning, recognizer.tta, notes
    )


def analyse_video_bytes(
    data: bytes,
    filename: str,
    model,
    smoothing: SmoothingConfig,
    stride: int,
    max_faces: int,
    landmarker_path,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Run the recognizer over an uploaded video; ``ValueError`` for a bad file or no face.

    The video is held in a private temporary file (0600, in a 0700 folder under ``$TMPDIR``)
    while it is analysed and deleted afterwards, also when the analysis fails.

    An unreadable file is an :class:`~fer.realtime.video.UnreadableVideoError` naming
    ``filename`` (the user's name for it, not the temporary copy's).
    """
    from fer.realtime.overlay import draw_results
    from fer.realtime.video import (
        UnreadableVideoError,
        analyse_video,
        probe_video,
        truncation_note,
    )

    if not data:
        raise ValueError("The file is empty.")
    # One face more than asked for tells in which frames faces were left out.
    recognizer = _recognizer(model, smoothing, max_faces + 1, landmarker_path)
    suffix = Path(filename).suffix.lower() or ".mp4"
    # OpenCV decodes files, not bytes: the video is patient data, so it lies in a folder (0700)
    # and a file (0600) only this account can read, and is deleted when the analysis ends.
    with tempfile.TemporaryDirectory(prefix="fer-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(data)
        try:
            frames = analyse_video(path, recognizer, stride=stride, progress_callback=progress)
        except UnreadableVideoError as error:
            raise UnreadableVideoError(filename, error.reason) from None
        finally:
            warning = recognizer.detector_warning
            recognizer.close()
        n_over = sum(len(frame.faces) > max_faces for frame in frames)
        frames = [
            replace(frame, faces=tuple(largest_faces(list(frame.faces), max_faces)))
            if len(frame.faces) > max_faces else frame
            for frame in frames
        ]
        records = [
            FrameRecord.from_result(frame.t_s, face) for frame in frames for face in frame.faces
        ]
        if not records:
            raise ValueError(
                f"No face was found in any of the {len(frames)} analysed frames, so nothing "
                "was saved."
            )
        first = next(frame for frame in frames if frame.faces)
        preview = _read_frame(path, first.frame_index)
        info = probe_video(path)
        truncated = truncation_note(
            filename, len(frames), info.frames_at_stride(stride),
            frames[-1].frame_index, frames[-1].t_s, info.duration_s,
        )
    if preview is not None:
        preview = draw_results(preview, first.faces, show_landmarks=False)
    notes = [truncated] if truncated else []
    if n_over:
        notes.append(video_faces_left_out_note(filename, max_faces, n_over, len(frames)))
    return Analysis(
        "video", records, list(model.classes), preview, len(frames), warning,
        recognizer.tta, tuple(notes),
    )


def _read_frame(path: Path, index: int) -> NDArray[np.uint8] | None:
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame_bgr = capture.read()
    finally:
        capture.release()
    # Already uint8: captures convert to 8-bit BGR (CAP_PROP_CONVERT_RGB, on by default).
    return np.asarray(frame_bgr, dtype=np.uint8) if ok else None


def faces_table(records: Sequence[FrameRecord], classes: Sequence[str]) -> pd.DataFrame:
    """One row per face of an image, headed in words for the page: the face, its expression,
    the confidence, where it is in the picture, and the probability of every class. (No emoji:
    the browser may lack a font for them.)"""
    rows = []
    for record in records:
        row = {
            "Face": f"#{record.track_id}",
            "Expression": record.label,
            "Confidence": round(float(record.confidence), 3),
            "Position (x, y, width, height)": ", ".join(str(int(value)) for value in record.bbox),
        }
        probs = zip(classes, record.probs, strict=True)
        row.update({name: round(float(value), 3) for name, value in probs})
        rows.append(row)
    return pd.DataFrame(rows)
