"""FER2013-style alignment: a detected face turned into the 48×48 gray crop the models know.

The crop levels the eyes and frames the face the way FER2013 frames its faces; the framing
constants were measured on FER2013 itself (see ``FER2013_FRAMING``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FACE_SIZE
from fer.realtime.faces import BBox, DetectedFace, landmark_points


@dataclass(frozen=True)
class Framing:
    """Where FER2013 places a face in its 48×48 frame, in pixels of that frame.

    The eye and mouth points are the midpoints of the MediaPipe eye corners and mouth corners; the
    box is what OpenCV's frontal-face Haar cascade reports on the same images.
    """

    eye_mid_x: float
    eye_mid_y: float
    eye_distance: float
    eye_mouth_distance: float
    box_centre_x: float
    box_centre_y: float
    box_size: float


# Medians over random non-blank FER2013 Training faces, measured by
#   python -m experiments.framing.measure_fer2013_framing
# (the sample, spread and a repeat run are in experiments/README.md).
FER2013_FRAMING = Framing(
    eye_mid_x=24.06,
    eye_mid_y=19.02,
    eye_distance=17.62,
    eye_mouth_distance=18.20,
    box_centre_x=24.12,
    box_centre_y=23.88,
    box_size=47.0,
)



# MediaPipe's face detector does not fire on 48-pixel faces: dataset faces are enlarged and given
# some context first (the framing measurement and the alignment benchmark use the same recipe).
DATASET_FACE_UPSCALE = 4


def enlarge_dataset_face(
    face: NDArray[np.uint8], pad: int, upscale: int = DATASET_FACE_UPSCALE
) -> NDArray[np.uint8]:
    """A 48×48 gray dataset face upscaled (cubic) and padded by ``pad`` replicated pixels."""
    big = cv2.resize(face, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    bordered = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return np.asarray(bordered, dtype=np.uint8)  # already uint8: OpenCV keeps the input depth


def warp_to_face(
    image: NDArray[np.uint8], matrix: NDArray[np.float64], scale: float, size: int
) -> NDArray[np.uint8]:
    """Warp to ``size``×``size`` gray, supersampling when shrinking so small crops do not alias."""
    # FER2013 faces were downsampled with averaging; a direct bilinear warp from a face 4× larger
    # skips pixels and gives a sharper, noisier crop than the model ever saw.
    factor = int(min(4, max(1, math.floor(1.0 / max(scale, 1e-6)))))
    big = matrix * factor
    crop = cv2.warpAffine(
        image, big, (size * factor, size * factor), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if factor > 1:
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(crop, dtype=np.uint8)


def alignment_matrix(
    eyes: NDArray[np.floating],
    mouth: NDArray[np.floating] | None = None,
    framing: Framing = FER2013_FRAMING,
    size: int = FACE_SIZE,
) -> tuple[NDArray[np.float64], float]:
    """The 2×3 similarity mapping image pixels to the aligned crop, and its scale."""
    eyes = np.asarray(eyes, np.float64).reshape(2, 2)
    left, right = eyes
    eye_mid = (left + right) / 2.0
    delta = right - left
    eye_distance = float(np.hypot(*delta))
    if eye_distance < 1e-3:
        raise ValueError("the two eye points coincide; cannot align")
    angle_deg = math.degrees(math.atan2(delta[1], delta[0]))
    scale = framing.eye_distance / eye_distance
    if mouth is not None:
        eye_mouth = float(np.hypot(*(np.asarray(mouth, np.float64) - eye_mid)))
        if eye_mouth > 1e-3:
            # Turning the head shrinks the eye distance, nodding shrinks eye-to-mouth; averaging
            # the two scale estimates keeps the crop size steadier than either alone.
            scale = 0.5 * (scale + framing.eye_mouth_distance / eye_mouth)
    ratio = size / FACE_SIZE
    centre = (float(eye_mid[0]), float(eye_mid[1]))
    # Already float64 (OpenCV builds the matrix in doubles); the stubs only say "an array".
    matrix = np.asarray(cv2.getRotationMatrix2D(centre, angle_deg, scale * ratio), np.float64)
    matrix[:, 2] += np.array([framing.eye_mid_x, framing.eye_mid_y]) * ratio - eye_mid
    return matrix, scale * ratio


def align_face(
    image: NDArray[np.uint8],
    landmarks: NDArray[np.floating] | None = None,
    *,
    eyes: NDArray[np.floating] | None = None,
    mouth: NDArray[np.floating] | None = None,
    bbox: BBox | None = None,
    framing: Framing = FER2013_FRAMING,
    size: int = FACE_SIZE,
) -> NDArray[np.uint8]:
    """Crop one face as FER2013 would: eyes level, same position and scale, gray uint8.

    Parameters
    ----------
    image
        Gray (H, W) or BGR (H, W, 3) uint8 frame.
    landmarks
        MediaPipe landmarks (478, 2 or 3) in normalised image coordinates, or
    eyes, mouth
        eye centres (2, 2) in pixels, image-left eye first, and optionally the mouth midpoint, or
    bbox
        a face box (x, y, w, h) in pixels from the Haar cascade (no rotation is possible).

    Returns
    -------
    (size, size) uint8 gray crop.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"image must be gray (H, W) or BGR (H, W, 3), got {image.shape}")
    if landmarks is not None:
        points = landmark_points(landmarks, image.shape[1], image.shape[0])
        eyes, mouth = points["eyes"], points["mouth"]
    if eyes is not None:
        matrix, scale = alignment_matrix(eyes, mouth, framing, size)
        return warp_to_face(image, matrix, scale, size)
    if bbox is not None:
        x, y, width, height = (float(v) for v in bbox)
        if width <= 0 or height <= 0:
            raise ValueError(f"bbox must have positive width and height, got {bbox}")
        ratio = size / FACE_SIZE
        scale = framing.box_size / max(width, height) * ratio
        centre = np.array([x + width / 2.0, y + height / 2.0])
        target = np.array([framing.box_centre_x, framing.box_centre_y]) * ratio
        matrix = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
        matrix[:, 2] = target - scale * centre
        return warp_to_face(image, matrix, scale, size)
    raise ValueError("align_face needs landmarks, eye points or a bbox")


def align_detected(image: NDArray[np.uint8], face: DetectedFace) -> NDArray[np.uint8]:
    """Align a detector's face: by the eyes when known, else by its box."""
    if face.eyes is not None:
        return align_face(image, eyes=face.eyes, mouth=face.mouth)
    return align_face(image, bbox=face.bbox)
