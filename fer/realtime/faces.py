"""Face detection: MediaPipe Face Landmarker, with OpenCV's Haar cascade as the fallback.

A detector object belongs to one stream: MediaPipe's VIDEO mode tracks faces between frames and
needs strictly increasing timestamps, so two streams must never share one. Turning a detection
into the models' 48×48 crop is :mod:`fer.realtime.alignment`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import cv2
import cv2.data  # the Haar cascade files; OpenCV's stubs do not declare ``cv2.data``
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # MediaPipe is imported where it is used, to keep imports cheap
    from mediapipe.tasks.python.vision import FaceLandmarker

logger = logging.getLogger(__name__)

# MediaPipe face-mesh indices. "Image-left" is the subject's right side (a non-mirrored image).
IMAGE_LEFT_EYE_CORNERS = (33, 133)  # outer, inner corner
IMAGE_RIGHT_EYE_CORNERS = (362, 263)  # inner, outer corner
MOUTH_CORNERS = (61, 291)
N_LANDMARKS = 478
N_BLENDSHAPES = 52

HAAR_CASCADE_NAME = "haarcascade_frontalface_default.xml"
_HAAR_LIMITS = (
    "It is slower, misses turned or tilted faces, cannot level the eyes and gives no landmarks "
    "or blendshapes."
)
HAAR_FALLBACK_WARNING = (
    "MediaPipe's face_landmarker.task was not found{where}; using OpenCV's Haar cascade instead. "
    + _HAAR_LIMITS
    + " Put face_landmarker.task in FER_DATA_DIR (see README, section 'Data')."
)
HAAR_LOAD_FAILED_WARNING = (
    "MediaPipe's face landmarker at {path} could not be loaded ({error}); using OpenCV's Haar "
    "cascade instead. "
    + _HAAR_LIMITS
    + " Replace the file with MediaPipe's face_landmarker/float16/1 bundle (see README, section "
    "'Data')."
)

BBox = tuple[int, int, int, int]  # x, y, width, height in pixels


@dataclass(frozen=True)
class DetectedFace:
    """One face in one frame. Landmark fields are ``None`` for the Haar fallback."""

    bbox: BBox
    eyes: NDArray[np.float32] | None = None  # (2, 2) pixel centres, image-left eye first
    mouth: NDArray[np.float32] | None = None  # (2,) pixel midpoint of the mouth corners
    landmarks: NDArray[np.float32] | None = None  # (478, 2) normalised image coordinates
    blendshapes: dict[str, float] | None = None
    # The canonical face model's 4x4 pose in camera space (MediaPipe's facial transformation).
    transformation: NDArray[np.float32] | None = None


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


def _close_landmarker(landmarker: FaceLandmarker) -> None:
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
            output_facial_transformation_matrixes=True,
        )
        try:
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise ValueError(
                f"{model_path} is not a MediaPipe face landmarker bundle (.task): {error}"
            ) from None
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
            result = self._landmarker.detect_for_video(image, timestamp_ms)
            # Only an accepted timestamp becomes the floor for the next one: a rejected frame must
            # not push every later frame out of MediaPipe's range.
            self._last_ms = timestamp_ms
        else:
            result = self._landmarker.detect(image)
        faces = []
        n_faces = len(result.face_landmarks)
        blendshape_lists = result.face_blendshapes or [None] * n_faces
        matrices = result.facial_transformation_matrixes or [None] * n_faces
        for face_landmarks, categories, matrix in zip(
            result.face_landmarks, blendshape_lists, matrices, strict=True
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
                    transformation=None if matrix is None else np.asarray(matrix, np.float32),
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
        # At least one pixel each way: a very wide, thin frame must not shrink to nothing.
        size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
        small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        min_side = max(20, int(self.min_face_ratio * min(small.shape)))
        boxes = self._cascade.detectMultiScale(
            cv2.equalizeHist(small), scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
        )
        boxes = sorted((tuple(int(v) for v in box) for box in boxes), key=lambda b: -b[2] * b[3])

        def to_frame(value: int) -> int:  # detection pixels to frame pixels
            return int(round(value / factor))

        return [
            DetectedFace(bbox=(to_frame(x), to_frame(y), to_frame(width), to_frame(height)))
            for x, y, width, height in boxes[: self.max_faces]
        ]

    def close(self) -> None:
        pass


def missing_landmarker_warning(
    landmarker_path: str | Path | None, searched: Sequence[str | Path] = ()
) -> str:
    """The Haar-fallback sentence naming the missing file, or the folders searched for it."""
    if landmarker_path is not None:
        where = f" at {landmarker_path}"
    elif searched:
        where = " in " + " or ".join(str(folder) for folder in searched)
    else:
        where = ""
    return HAAR_FALLBACK_WARNING.format(where=where)


def open_face_detector(
    landmarker_path: str | Path | None,
    max_faces: int = 1,
    mode: Literal["video", "image"] = "video",
    searched: Sequence[str | Path] = (),
) -> tuple[FaceDetector, str | None]:
    """The landmarker if its bundle exists and loads, else the Haar cascade plus a warning.

    Parameters
    ----------
    landmarker_path
        ``face_landmarker.task``, or ``None`` when no bundle was found.
    searched
        The folders a caller looked in before passing ``None``, named in the warning.

    Returns
    -------
    (detector, warning)
        ``warning`` is ``None`` when MediaPipe is used, else a sentence to show the user; it is
        also logged, since a silent fallback costs speed, landmarks and faces.
    """
    if landmarker_path is not None and Path(landmarker_path).is_file():
        try:
            return LandmarkerDetector(landmarker_path, max_faces=max_faces, mode=mode), None
        except (ValueError, OSError) as error:  # LandmarkerDetector names a bad bundle
            warning = HAAR_LOAD_FAILED_WARNING.format(path=landmarker_path, error=error)
    else:
        warning = missing_landmarker_warning(landmarker_path, searched)
    detector = HaarDetector(max_faces=max_faces)
    logger.warning("%s", warning)
    return detector, warning
