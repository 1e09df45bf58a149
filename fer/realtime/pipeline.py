"""The one place that chains the steps: frame → faces → crops → probabilities → smoothed tracks.

``EmotionRecognizer`` is stateful per stream (MediaPipe VIDEO mode, tracks, smoothers): create one
per webcam session or video, and call :meth:`EmotionRecognizer.reset` between unrelated clips.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import numpy as np
from numpy.typing import NDArray

from fer.config import find_landmarker_bundle, landmarker_search_dirs
from fer.data.image_folders import MAX_FRAME_SIDE, MIN_FRAME_SIDE
from fer.data.lighting import clipped_share, is_overexposed
from fer.models.inference import PIPELINE_TTA, class_thresholds, tta_views
from fer.realtime.alignment import align_detected
from fer.realtime.faces import FaceDetector, missing_landmarker_warning, open_face_detector
from fer.realtime.signals import SignalSmoother
from fer.realtime.smoothing import ProbabilitySmoother, SmoothingConfig
from fer.realtime.tracking import FaceTracker, TrackerConfig

# Chosen on PublicTest by mean macro-recall across the robustness suite, among the shipped models,
# each of which trains within the two-hour budget (the models' robustness_comparison in
# evaluation.json, made by
# `fer evaluate ferplus_videocall_balanced --suite robustness --split PublicTest --against ...`).
DEFAULT_MODEL = "ferplus_videocall_balanced"


@dataclass
class TrackState:
    """What one tracked face carries from frame to frame: its smoothers."""

    probabilities: ProbabilitySmoother
    signals: SignalSmoother


# Frame times are video positions or clock readings (Unix time included); beyond this bound a
# time is a bug upstream, and MediaPipe's microsecond timestamps would overflow soon after.
MAX_T_SECONDS = 1e10
# A frame no further back than this from the one before (or at its very time) is a jittery or
# repeated clock reading, moved TIME_STEP_S after it; further back is a new clip or a
# restarted stream, which the tracker and the smoothers start afresh for.
CLOCK_JITTER_S = 0.5
TIME_STEP_S = 0.001


class _Classifier(Protocol):
    """What the pipeline uses of a loaded model (:class:`~fer.models.inference.EmotionModel`)."""

    @property
    def classes(self) -> Sequence[str]: ...

    def predict(
        self, faces: NDArray[np.uint8], batch_size: int = ..., tta: bool | str = ...
    ) -> NDArray[np.float32]: ...


@dataclass(frozen=True, eq=False)  # eq on numpy fields would be ambiguous
class FaceResult:
    """One tracked face in one frame.

    ``probs`` and ``smoothed`` follow the model's ``classes`` order; ``label`` is a class name or
    ``"uncertain"``; ``landmarks`` are (478, 2) normalised image coordinates (``None`` with the
    Haar fallback), ``face_gray`` is the 48×48 crop the model saw. The signals are descriptive
    (see :mod:`fer.realtime.signals`); action units, their asymmetry and the head pose are
    ``None`` without landmarks. ``overexposed`` says when the crop is too bright for the reading
    to be trusted (:mod:`fer.data.lighting`).
    """

    track_id: int
    bbox: tuple[int, int, int, int]
    probs: NDArray[np.float32]
    smoothed: NDArray[np.float32]
    label: str
    confidence: float
    landmarks: NDArray[np.float32] | None = None
    blendshapes: dict[str, float] | None = None
    face_gray: NDArray[np.uint8] | None = None
    # Signals (fer.realtime.signals), smoothed like the probabilities.
    action_units: dict[str, float] | None = None  # FACS code -> intensity 0..1
    au_asymmetry: dict[str, float] | None = None  # two-sided AU -> left minus right
    valence: float | None = None  # -1..1, from the smoothed probabilities
    arousal: float | None = None  # -1..1
    head_pose: dict[str, float] | None = None  # yaw, pitch, roll in degrees
    # Share of the model's crop clipped to white (fer.data.lighting); None without a crop.
    clipped_share: float | None = None

    @property
    def overexposed(self) -> bool:
        """Whether the face is too bright for its expression to be read reliably."""
        return is_overexposed(self.clipped_share)


def validate_frame(frame_bgr: object) -> NDArray[np.uint8]:
    """Return the frame if it is a uint8 (H, W, 3) BGR image; raise ``ValueError`` otherwise."""
    if not isinstance(frame_bgr, np.ndarray):
        raise ValueError(f"frame_bgr must be a numpy array, got {type(frame_bgr).__name__}")
    if frame_bgr.dtype != np.uint8:
        raise ValueError(
            f"frame_bgr must be uint8 (0..255), got dtype {frame_bgr.dtype}; "
            "video decoders and webcams deliver uint8 BGR"
        )
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(
            f"frame_bgr must have shape (height, width, 3) in BGR order, got {frame_bgr.shape}"
        )
    if min(frame_bgr.shape[:2]) < MIN_FRAME_SIDE:
        raise ValueError(f"frame_bgr is too small to hold a face: {frame_bgr.shape}")
    if max(frame_bgr.shape[:2]) > MAX_FRAME_SIDE:
        raise ValueError(
            f"frame_bgr is too long a side for the face detector: {frame_bgr.shape} (at most "
            f"{MAX_FRAME_SIDE} pixels a side)"
        )
    return frame_bgr


class EmotionRecognizer:
    """Facial-expression recognition over a stream of frames.

    Parameters
    ----------
    model
        A model name under ``models/`` (default :data:`DEFAULT_MODEL`), a model directory, or an
        already loaded :class:`~fer.models.inference.EmotionModel` (to share one across streams).
    smoothing
        Temporal smoothing and label hysteresis per face.
    max_faces
        Most faces analysed per frame.
    landmarker_path
        MediaPipe ``face_landmarker.task``; ``None`` (the default) takes the bundle from
        ``$FER_DATA_DIR``, else from the clone's ``data/`` folder
        (:func:`fer.config.find_landmarker_bundle`). When the file is missing or does not load,
        the Haar cascade is used, a warning is logged and ``detector_warning`` says why.
    tracking
        Track matching and box steadying.
    keep_crops
        Attach the 48×48 crop to each result (cheap; used by the UI and tests).
    tta
        Test-time views averaged per face (``predict(..., tta=...)``): ``"mirror+zoom"`` (the
        default: the face, two zoomed views and their mirror images), ``"mirror"`` or
        ``"none"``. The default buys accuracy (the model cards' mirror+zoom rows) for six model
        passes per face, a small cost next to the landmarker's per frame (docs/results.md).

    The constructor only stores parameters; models load on the first :meth:`process`
    (or :meth:`load`).
    """

    def __init__(
        self,
        model: str | Path | object = DEFAULT_MODEL,
        smoothing: SmoothingConfig | None = None,
        max_faces: int = 4,
        landmarker_path: str | Path | None = None,
        tracking: TrackerConfig | None = None,
        keep_crops: bool = True,
        tta: str = PIPELINE_TTA,
    ):
        # Wrong types fail here, naming the argument, rather than deep inside the first frame.
        loaded = hasattr(model, "predict") and hasattr(model, "classes")
        if model is None or not (isinstance(model, str | Path) or loaded):
            raise ValueError(
                "model must be a model name, a model directory or a loaded model (with predict "
                f"and classes), not {type(model).__name__}"
            )
        if smoothing is not None and not isinstance(smoothing, SmoothingConfig):
            raise ValueError(
                f"smoothing must be a SmoothingConfig, not {type(smoothing).__name__}"
            )
        if tracking is not None and not isinstance(tracking, TrackerConfig):
            raise ValueError(f"tracking must be a TrackerConfig, not {type(tracking).__name__}")
        if isinstance(max_faces, bool) or not isinstance(max_faces, int | np.integer):
            raise ValueError(f"max_faces must be a whole number, not {max_faces!r}")
        if max_faces < 1:
            raise ValueError(f"max_faces must be at least 1, got {max_faces}")
        self.model = model
        self.smoothing = smoothing or SmoothingConfig()
        self.max_faces = int(max_faces)
        self.landmarker_path = landmarker_path
        self.tracking = tracking or TrackerConfig()
        self.keep_crops = keep_crops
        tta_views(tta)  # a bad value fails here, not on the first frame
        self.tta = tta
        self._model: _Classifier | None = None
        self._detector: FaceDetector | None = None
        self._detector_warning: str | None = None
        self._tracker: FaceTracker | None = None
        self._lock = threading.RLock()  # the webrtc worker processes while the page may reset
        self._last_t: float | None = None
        self.last_timings_ms: dict[str, float] = {}

    def _landmarker_choice(self) -> tuple[Path | None, tuple[Path, ...]]:
        """The bundle to open (an explicit path wins, even a missing one, so the warning names
        it) and, when none was given or found, the folders searched for it."""
        if self.landmarker_path is not None:
            return Path(self.landmarker_path), ()
        found = find_landmarker_bundle()
        return (found, ()) if found is not None else (None, landmarker_search_dirs())

    def _require_loaded(self) -> tuple[_Classifier, FaceDetector, FaceTracker]:
        """Model, detector and tracker after :meth:`load` (which sets all three or raises)."""
        if self._model is None or self._detector is None or self._tracker is None:
            raise RuntimeError("EmotionRecognizer.load() did not finish; call it again")
        return self._model, self._detector, self._tracker

    def load(self) -> EmotionRecognizer:
        """Load the model and open the detector now (otherwise the first frame does it)."""
        with self._lock:
            if self.max_faces < 1:
                raise ValueError(f"max_faces must be at least 1, got {self.max_faces}")
            if self._model is None:
                if hasattr(self.model, "predict") and hasattr(self.model, "classes"):
                    self._model = cast(_Classifier, self.model)
                else:
                    from fer.models.inference import load_model

                    # Anything else that is not a name or path fails in load_model, as before.
                    self._model = load_model(cast("str | Path", self.model))
            if self._detector is None:
                path, searched = self._landmarker_choice()
                self._detector, self._detector_warning = open_face_detector(
                    path, max_faces=self.max_faces, mode="video", searched=searched
                )
            if self._tracker is None:
                classes, config = list(self._model.classes), self.smoothing
                thresholds = class_thresholds(self._model, self.tta)  # the card's, if any
                self._tracker = FaceTracker(
                    self.tracking,
                    make_state=lambda: TrackState(
                        ProbabilitySmoother(classes, config, thresholds), SignalSmoother(config)
                    ),
                )
        return self

    @property
    def classes(self) -> list[str]:
        """Class names in the order of ``probs``/``smoothed`` (loads the model if needed)."""
        if self._model is None:
            self.load()
        model = self._model
        if model is None:  # load() sets it or raises
            raise RuntimeError("EmotionRecognizer.load() did not load the model")
        return list(model.classes)

    @property
    def detector_warning(self) -> str | None:
        """``None`` with MediaPipe; a message for the user when the Haar fallback is in use.

        Before the detector is opened this only checks that the bundle exists; a bundle that
        fails to load is reported once it has been tried.
        """
        if self._detector is not None:
            return self._detector_warning
        path, searched = self._landmarker_choice()
        if path is not None and path.is_file():
            return None
        return missing_landmarker_warning(path, searched)

    @property
    def detector_kind(self) -> str | None:
        """``"mediapipe"`` or ``"haar"`` once loaded, else ``None``."""
        return None if self._detector is None else self._detector.kind

    def reset(self) -> None:
        """Forget tracks, smoothing history and MediaPipe's tracking state (keeps the model)."""
        with self._lock:
            self._last_t = None
            if self._tracker is not None:
                self._tracker.reset()
            if self._detector is not None:
                self._detector.close()
                self._detector = None

    def close(self) -> None:
        """Release the detector; the recognizer reopens it if used again."""
        self.reset()

    def process(self, frame_bgr: NDArray[np.uint8], t_seconds: float) -> list[FaceResult]:
        """Analyse one BGR frame taken at ``t_seconds``; returns one result per face found,
        in the order of their track ids (the face followed longest first).

        Raises
        ------
        ValueError
            If the frame is not a uint8 (H, W, 3) array or the time lies outside
            0..``MAX_T_SECONDS``.
        """
        frame_bgr = validate_frame(frame_bgr)
        try:
            t_seconds = float(t_seconds)
        except (TypeError, ValueError):
            raise ValueError(f"t_seconds must be a number, got {t_seconds!r}") from None
        if not (math.isfinite(t_seconds) and 0.0 <= t_seconds <= MAX_T_SECONDS):
            raise ValueError(
                f"t_seconds must be a time in seconds from 0 to {MAX_T_SECONDS:.0e} (a video "
                f"position or a clock reading), got {t_seconds}"
            )
        with self._lock:
            model, detector, tracker = self.load()._require_loaded()
            last = self._last_t
            if last is not None and last - CLOCK_JITTER_S <= t_seconds <= last:
                # Without this, a repeated time would grow the smoothing window without end
                # (and hold an exponential average still), and a time a millisecond back
                # would restart every track and its smoothing.
                t_seconds = last + TIME_STEP_S
            self._last_t = t_seconds
            started = time.perf_counter()
            frame_size = (frame_bgr.shape[1], frame_bgr.shape[0])
            faces = detector.detect(frame_bgr, t_seconds)[: self.max_faces]
            detected = time.perf_counter()
            if not faces:
                tracker.update([], t_seconds, frame_size)  # ages tracks so they can time out
                self.last_timings_ms = {"detect": (detected - started) * 1e3, "total": 0.0}
                self.last_timings_ms["total"] = self.last_timings_ms["detect"]
                return []
            crops = np.stack([align_detected(frame_bgr, face) for face in faces])
            aligned = time.perf_counter()
            # One call for all faces of the frame (and their test-time views).
            probs = np.asarray(model.predict(crops, tta=self.tta))
            predicted = time.perf_counter()
            # Checked for the whole frame before any face's track or smoothing takes it: a
            # frame refused half-way would leave the faces before the bad one a frame ahead.
            classes = list(model.classes)
            if probs.shape != (len(faces), len(classes)):
                raise ValueError(
                    f"the model returned probabilities of shape {probs.shape} for {len(faces)} "
                    f"faces and {len(classes)} classes"
                )
            if not np.all(np.isfinite(probs)):
                raise ValueError("the model returned NaN or infinite probabilities")
            tracks = tracker.update([face.bbox for face in faces], t_seconds, frame_size)
            results = []
            for index, (face, track) in enumerate(zip(faces, tracks, strict=True)):
                prediction = track.state.probabilities.update(probs[index], t_seconds)
                signals = track.state.signals.update(
                    face.blendshapes, face.transformation, prediction.smoothed, classes, t_seconds
                )
                results.append(
                    FaceResult(
                        track_id=track.track_id,
                        bbox=track.bbox,
                        probs=probs[index].astype(np.float32),
                        smoothed=prediction.smoothed,
                        label=prediction.label,
                        confidence=prediction.confidence,
                        landmarks=face.landmarks,
                        blendshapes=face.blendshapes,
                        face_gray=crops[index] if self.keep_crops else None,
                        action_units=signals.action_units,
                        au_asymmetry=signals.au_asymmetry,
                        valence=signals.valence,
                        arousal=signals.arousal,
                        head_pose=signals.head_pose,
                        clipped_share=clipped_share(crops[index]),
                    )
                )
            # Detectors list faces in no fixed order (the cascade by size, MediaPipe as it finds
            # them); pages that show "the first face" in detail must not swap faces between frames.
            results.sort(key=lambda result: result.track_id)
            finished = time.perf_counter()
            self.last_timings_ms = {
                "detect": (detected - started) * 1e3,
                "align": (aligned - detected) * 1e3,
                "predict": (predicted - aligned) * 1e3,
                "track": (finished - predicted) * 1e3,
                "total": (finished - started) * 1e3,
            }
            return results
