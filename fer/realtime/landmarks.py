"""A compact, pose-normalised set of expressive face-mesh landmarks.

Of MediaPipe's 478 points most describe the face's surface; expressions show in a few: brows,
eyelids, lips and mouth corners, and the jaw. ``landmark_features`` expresses those points in a
face frame (origin between the eyes, x along the eye line, unit = eye distance) so that where a
face sits in the image, how large it is and how the head is rolled do not change the features.
"Left"/"right" are image sides (the subject's right eye is the image-left eye).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.realtime.faces import IMAGE_LEFT_EYE_CORNERS, IMAGE_RIGHT_EYE_CORNERS, N_LANDMARKS

EXPRESSIVE_LANDMARKS: dict[str, int] = {
    "left_brow_outer": 70,
    "left_brow_mid": 105,
    "left_brow_inner": 107,
    "right_brow_inner": 336,
    "right_brow_mid": 334,
    "right_brow_outer": 300,
    "left_eye_outer": 33,
    "left_eye_inner": 133,
    "left_eyelid_upper": 159,
    "left_eyelid_lower": 145,
    "right_eye_inner": 362,
    "right_eye_outer": 263,
    "right_eyelid_upper": 386,
    "right_eyelid_lower": 374,
    "nose_bridge": 168,
    "nose_tip": 1,
    "mouth_left": 61,
    "mouth_right": 291,
    "upper_lip_outer": 0,
    "upper_lip_inner": 13,
    "lower_lip_inner": 14,
    "lower_lip_outer": 17,
    "upper_lip_left": 37,
    "upper_lip_right": 267,
    "lower_lip_left": 84,
    "lower_lip_right": 314,
    "jaw_left": 172,
    "jaw_right": 397,
    "chin": 152,
}
EXPRESSIVE_INDICES: tuple[int, ...] = tuple(EXPRESSIVE_LANDMARKS.values())
FEATURE_NAMES: tuple[str, ...] = tuple(
    f"{name}.{axis}" for name in EXPRESSIVE_LANDMARKS for axis in ("x", "y")
)


def _pixels(
    landmarks: NDArray[np.floating], image_size: tuple[int, int]
) -> NDArray[np.float64]:
    points = np.asarray(landmarks, np.float64)
    if points.ndim != 2 or points.shape not in ((N_LANDMARKS, 2), (N_LANDMARKS, 3)):
        raise ValueError(
            f"landmarks must have shape ({N_LANDMARKS}, 2) or ({N_LANDMARKS}, 3), "
            f"got {points.shape}"
        )
    width, height = image_size
    # Normalised coordinates divide x by width and y by height; rotations are only rigid in pixels.
    return points[:, :2] * np.array([width, height], np.float64)


def face_frame_points(
    landmarks: NDArray[np.floating], image_size: tuple[int, int]
) -> NDArray[np.float64]:
    """All 478 points in the face frame: eye midpoint at 0, eyes on the x axis, eye distance 1.

    Parameters
    ----------
    landmarks
        (478, 2 or 3) normalised image coordinates, as MediaPipe returns them.
    image_size
        (width, height) of the image the landmarks refer to.
    """
    points = _pixels(landmarks, image_size)
    left = points[list(IMAGE_LEFT_EYE_CORNERS)].mean(0)
    right = points[list(IMAGE_RIGHT_EYE_CORNERS)].mean(0)
    axis = right - left
    distance = float(np.hypot(*axis))
    if distance < 1e-6:
        raise ValueError("degenerate landmarks: the eye centres coincide")
    cos, sin = axis / distance
    rotation = np.array([[cos, sin], [-sin, cos]])  # rotates the eye axis onto +x
    return (points - (left + right) / 2.0) @ rotation.T / distance


def landmark_features(
    landmarks: NDArray[np.floating], image_size: tuple[int, int]
) -> NDArray[np.float32]:
    """The expressive points in the face frame, flattened in the order of ``FEATURE_NAMES``."""
    points = face_frame_points(landmarks, image_size)[list(EXPRESSIVE_INDICES)]
    return points.reshape(-1).astype(np.float32)


def expression_measures(
    landmarks: NDArray[np.floating], image_size: tuple[int, int]
) -> dict[str, float]:
    """A few readable distances in eye-distance units (mouth opening, brow height, ...)."""
    points = face_frame_points(landmarks, image_size)
    named = {name: points[index] for name, index in EXPRESSIVE_LANDMARKS.items()}

    def distance(a: str, b: str) -> float:
        return float(np.hypot(*(named[a] - named[b])))

    return {
        "mouth_open": distance("upper_lip_inner", "lower_lip_inner"),
        "mouth_width": distance("mouth_left", "mouth_right"),
        # Positive when the corners sit above the lip centre line (y grows downwards).
        "mouth_corner_lift": float(
            (named["upper_lip_inner"][1] + named["lower_lip_inner"][1]) / 2
            - (named["mouth_left"][1] + named["mouth_right"][1]) / 2
        ),
        "left_eye_open": distance("left_eyelid_upper", "left_eyelid_lower"),
        "right_eye_open": distance("right_eyelid_upper", "right_eyelid_lower"),
        "left_brow_raise": distance("left_brow_mid", "left_eyelid_upper"),
        "right_brow_raise": distance("right_brow_mid", "right_eyelid_upper"),
        "brow_gap": distance("left_brow_inner", "right_brow_inner"),
    }


def overlay_points(
    landmarks: NDArray[np.floating],
    image_size: tuple[int, int],
    indices: Sequence[int] = EXPRESSIVE_INDICES,
) -> NDArray[np.int32]:
    """Integer pixel positions (K, 2) of the chosen landmarks, for drawing."""
    return np.round(_pixels(landmarks, image_size)[list(indices)]).astype(np.int32)


def draw_landmarks(
    frame_bgr: NDArray[np.uint8],
    landmarks: NDArray[np.floating],
    colour_bgr: tuple[int, int, int] = (0, 255, 0),
    radius: int = 2,
    indices: Sequence[int] = EXPRESSIVE_INDICES,
) -> NDArray[np.uint8]:
    """Draw the chosen landmarks onto ``frame_bgr`` in place and return it."""
    height, width = frame_bgr.shape[:2]
    for x, y in overlay_points(landmarks, (width, height), indices):
        cv2.circle(frame_bgr, (int(x), int(y)), radius, colour_bgr, -1, lineType=cv2.LINE_AA)
    return frame_bgr
