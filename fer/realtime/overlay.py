"""Drawing recognizer results onto frames, for the Live and Upload pages.

Text on the video is plain ASCII (OpenCV's Hershey fonts cannot draw emoji); the pages show the
icon beside the video. Colours are the emotions' colours from ``fer.emotions`` so overlays,
charts and tables agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.emotions import emotion_style
from fer.realtime.tracking import face_name


@lru_cache(maxsize=32)
def colour_bgr(name: str) -> tuple[int, int, int]:
    """An emotion's hex colour as an OpenCV BGR tuple (unknown names: the uncertain colour)."""
    try:
        hex_colour = emotion_style(name).colour
    except ValueError:
        hex_colour = emotion_style("uncertain").colour
    red, green, blue = (int(hex_colour[index : index + 2], 16) for index in (1, 3, 5))
    return blue, green, red


def caption(result) -> str:
    return f"{face_name(result.track_id)}: {result.label} {result.confidence:.0%}"


def draw_results(
    frame_bgr: NDArray[np.uint8], results: Sequence, show_landmarks: bool = False
) -> NDArray[np.uint8]:
    """Draw each face's box, track id, label and confidence onto ``frame_bgr`` in place."""
    height, width = frame_bgr.shape[:2]
    scale = max(0.4, min(width, height) / 720)
    thickness = max(1, round(2 * scale))
    for result in results:
        x, y, w, h = (int(round(value)) for value in result.bbox)
        colour = colour_bgr(result.label)
        cv2.rectangle(frame_bgr, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_AA)
        text = caption(result)
        (text_w, text_h), baseline = cv2.getTextSize(
            text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness
        )
        top = y - text_h - baseline - 4 if y - text_h - baseline - 4 >= 0 else y + h
        cv2.rectangle(
            frame_bgr, (x, top), (x + text_w + 6, top + text_h + baseline + 4), colour, -1
        )
        cv2.putText(
            frame_bgr, text, (x + 3, top + text_h + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
            (0, 0, 0), thickness, cv2.LINE_AA,
        )
        if show_landmarks and result.landmarks is not None:
            from fer.realtime.landmarks import draw_landmarks

            draw_landmarks(frame_bgr, result.landmarks, colour_bgr=colour, radius=1)
    return frame_bgr
