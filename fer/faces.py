"""Face detection (MediaPipe Face Landmarker, Haar fallback) and FER2013-style alignment.

A detector object belongs to one stream: MediaPipe's VIDEO mode tracks faces between frames and
needs strictly increasing timestamps, so two streams must never share one. ``align_face`` turns a
detection into the 48×48 gray crop the models were trained on, framed the way FER2013 frames
faces; the framing constants were measured on FER2013 itself (see ``FER2013_FRAMING``).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.data import FACE_SIZE

# MediaPipe face-mesh indices. "Image-left" is the subject's right side (a non-mirrored image).
IMAGE_LEFT_EYE_CORNERS = (33, 133)  # outer, inner corner
IMAGE_RIGHT_EYE_CORNERS = (362, 263)  # inner, outer corner
MOUTH_CORNERS = (61, 291)
N_LANDMARKS = 478
N_BLENDSHAPES = 52

HAAR_CASCADE_NAME = "haarcascade_frontalface_default.xml"
HAAR_FALLBACK_WARNING = (
    "MediaPipe's face_landmarker.task was not found{where}; using OpenCV's Haar cascade instead. "
    "It is slower, misses turned or tilted faces, cannot level the eyes and gives no landmarks "
    "or blendshapes. Put face_landmarker.task in FER_DATA_DIR (see README, section 'Data')."
)

BBox = tuple[int, int, int, int]  # x, y, width, height in pixels


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


# Medians over 600 random non-blank FER2013 Training images (seed 0), measured by
#   PYTHONPATH=. FER_DATA_DIR=/work/shared/data nice -n 19 \
#       python scripts/measure_fer2013_framing.py --n 600 --pad 96
# Each face was upscaled to 192×192 and padded by 96 px, then run through the Face Landmarker
# (IMAGE mode; found 545/600) and the Haar cascade (467/600). Interquartile ranges:
# eye_mid_x 22.9–24.9, eye_mid_y 17.7–20.1, eye_distance 15.7–19.1, eye_mouth_distance
# 16.2–20.9, roll −5.1°–3.8° (FER2013 is not roll-levelled), Haar box centre_y 23.3–24.6,
# box_size 44.0–49.8. A second run (--n 300 --pad 48 --seed 1) agreed within 0.5 px on every value.
FER2013_FRAMING = Framing(
    eye_mid_x=24.06,
    eye_mid_y=19.02,
    eye_distance=17.62,
    eye_mouth_distance=18.20,
    box_centre_x=24.12,
    box_centre_y=23.88,
    box_size=47.0,
)


@dataclass(frozen=True)
class DetectedFace:
    """One face in one frame. Landmark fields are ``None`` for the Haar fallback."""

    bbox: BBox
    eyes: NDArray[np.float32] | None = None  # (2, 2) pixel centres, image-left eye first
    mouth: NDArray[np.float32] | None = None  # (2,) pixel midpoint of the mouth corners
    landmarks: NDArray[np.float32] | None = None  # (478, 2) normalised image coordinates
    blendshapes: dict[str, float] | None = None


class FaceDetector(Protocol):
    """What the pipeline needs from a detector."""

    kind: str

    def detect(self, frame_bgr: NDArray[np.uint8], t_s: float | None = None) -> list[DetectedFace]:
        ...

    def close(self) -> None:
        ...


def landmark_points(landmarks: NDArray[np.floating], width: int, height: int) -> dict:
    """Eye centres and mouth midpoint in pixels from normalised (478, 2|3) landmarks."""
    points = np.asarray(landmarks, np.float32)[:, :2] * np.array([width, height], np.float32)
    left_eye = points[list(IMAGE_LEFT_EYE_CORNERS)].mean(0)
    right_eye = points[list(IMAGE_RIGHT_EYE_CORNERS)].mean(0)
    eyes = np.stack([left_eye, right_eye])
    return {"eyes": eyes, "mouth": points[list(MOUTH_CORNERS)].mean(0)}


def bbox_from_landmarks(landmarks: NDArray[np.floating], width: int, height: int) -> BBox:
    """The pixel box around all landmarks, clipped to the image."""
    points = np.asarray(landmarks, np.float32)[:, :2] * np.array([width, height], np.float32)
    x0, y0 = np.clip(points.min(0), 0, [width - 1, height - 1])
    x1, y1 = np.clip(points.max(0), 0, [width - 1, height - 1])
    return int(round(x0)), int(round(y0)), max(1, int(round(x1 - x0))), max(1, int(round(y1 - y0)))


def _check_frame(frame_bgr: NDArray) -> None:
    if not isinstance(frame_bgr, np.ndarray) or frame_bgr.dtype != np.uint8:
        raise ValueError("frame must be a uint8 numpy array (BGR, 0..255)")
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or min(frame_bgr.shape[:2]) < 8:
        raise ValueError(f"frame must have shape (height, width, 3), got {frame_bgr.shape}")


def _close_landmarker(landmarker: object) -> None:
    try:
        landmarker.close()
    except RuntimeError:
        # At interpreter exit MediaPipe's worker pool is already shut down and close() fails;
        # clearing the handle stops its __del__ from retrying (and printing a traceback) later.
        landmarker._handle = None


class LandmarkerDetector:
    """MediaPipe Face Landmarker: up to ``max_faces`` faces, 478 landmarks and 52 blendshapes.

    ``mode="video"`` keeps tracking state between calls and needs increasing times; use one
    object per stream. ``mode="image"`` treats every call independently (single photos).
    """

    kind = "mediapipe"

    def __init__(
        self,
        model_path: str | Path,
        max_faces: int = 1,
        mode: Literal["video", "image"] = "video",
        min_confidence: float = 0.5,
        blendshapes: bool = True,
    ):
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        if mode not in ("video", "image"):
            raise ValueError(f"mode must be 'video' or 'image', not {mode!r}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        model_path = Path(model_path)
        if not model_path.is_file():
            raise FileNotFoundError(f"No face landmarker model at {model_path}")
        self._mp = mp
        self.mode = mode
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=blendshapes,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._finalizer = weakref.finalize(self, _close_landmarker, self._landmarker)
        self._last_ms = -1

    def detect(self, frame_bgr: NDArray[np.uint8], t_s: float | None = None) -> list[DetectedFace]:
        """Faces in a BGR frame; ``t_s`` (seconds) is required in video mode."""
        _check_frame(frame_bgr)
        height, width = frame_bgr.shape[:2]
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        if self.mode == "video":
            if t_s is None:
                raise ValueError("t_s (seconds) is required in video mode")
            # MediaPipe rejects non-increasing timestamps; a repeated or earlier time (a restarted
            # clip, jittery webcam clocks) is nudged forward instead of crashing the stream.
            timestamp_ms = max(int(round(t_s * 1000.0)), self._last_ms + 1)
            self._last_ms = timestamp_ms
            result = self._landmarker.detect_for_video(image, timestamp_ms)
        else:
            result = self._landmarker.detect(image)
        faces = []
        blendshape_lists = result.face_blendshapes or [None] * len(result.face_landmarks)
        for face_landmarks, categories in zip(
            result.face_landmarks, blendshape_lists, strict=True
        ):
            landmarks = np.array([(point.x, point.y) for point in face_landmarks], np.float32)
            points = landmark_points(landmarks, width, height)
            blendshapes = (
                None
                if categories is None
                else {category.category_name: float(category.score) for category in categories}
            )
            faces.append(
                DetectedFace(
                    bbox=bbox_from_landmarks(landmarks, width, height),
                    eyes=points["eyes"],
                    mouth=points["mouth"],
                    landmarks=landmarks,
                    blendshapes=blendshapes,
                )
            )
        return faces

    def close(self) -> None:
        self._finalizer()


class HaarDetector:
    """OpenCV's frontal-face Haar cascade: boxes only, used when the landmarker is missing."""

    kind = "haar"

    def __init__(self, max_faces: int = 1, detect_width: int = 320, min_face_ratio: float = 0.08):
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        cascade_path = Path(cv2.data.haarcascades) / HAAR_CASCADE_NAME
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise FileNotFoundError(f"OpenCV could not load the Haar cascade {cascade_path}")
        self.max_faces = max_faces
        self.detect_width = detect_width
        self.min_face_ratio = min_face_ratio

    def detect(self, frame_bgr: NDArray[np.uint8], t_s: float | None = None) -> list[DetectedFace]:
        """Faces in a BGR frame, largest first; ``t_s`` is ignored (the cascade is stateless)."""
        _check_frame(frame_bgr)
        gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        # The cascade's cost grows with pixels; faces in a webcam frame survive halving easily.
        factor = min(1.0, self.detect_width / gray.shape[1])
        small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        min_side = max(20, int(self.min_face_ratio * min(small.shape)))
        boxes = self._cascade.detectMultiScale(
            cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
        )
        boxes = sorted((tuple(int(v) for v in box) for box in boxes), key=lambda b: -b[2] * b[3])
        return [
            DetectedFace(bbox=tuple(int(round(v / factor)) for v in box))
            for box in boxes[: self.max_faces]
        ]

    def close(self) -> None:
        pass


def open_face_detector(
    landmarker_path: str | Path | None,
    max_faces: int = 1,
    mode: Literal["video", "image"] = "video",
) -> tuple[FaceDetector, str | None]:
    """The landmarker if its asset exists, else the Haar cascade plus a warning for the UI.

    Returns
    -------
    (detector, warning)
        ``warning`` is ``None`` when MediaPipe is used, else a sentence to show the user.
    """
    if landmarker_path is not None and Path(landmarker_path).is_file():
        return LandmarkerDetector(landmarker_path, max_faces=max_faces, mode=mode), None
    where = "" if landmarker_path is None else f" at {landmarker_path}"
    return HaarDetector(max_faces=max_faces), HAAR_FALLBACK_WARNING.format(where=where)


# MediaPipe's face detector does not fire on 48-pixel faces: dataset faces are enlarged and given
# some context first (the framing measurement and the alignment benchmark use the same recipe).
DATASET_FACE_UPSCALE = 4


def enlarge_dataset_face(
    face: NDArray[np.uint8], pad: int, upscale: int = DATASET_FACE_UPSCALE
) -> NDArray[np.uint8]:
    """A 48×48 gray dataset face upscaled (cubic) and padded by ``pad`` replicated pixels."""
    big = cv2.resize(face, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


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
    matrix = cv2.getRotationMatrix2D(centre, angle_deg, scale * ratio)
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
