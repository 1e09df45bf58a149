"""``POST /v1/analyze``: every face of one uploaded image, with the Python API's numbers.

An image has no history, so each request gets a fresh :class:`~fer.realtime.pipeline.
EmotionRecognizer` with the settings ``fer analyze`` and the Upload page use for images: no
temporal smoothing, no minimum dwell, the default "uncertain" threshold and test-time views. The
model is loaded once, on the first image, and shared (its runner is thread-safe). Analyses run
one at a time: each opens a face landmarker, and on a small server two at once only share the
same cores. At most ``MAX_ANALYSES_ADMITTED`` requests (running or waiting) hold their upload;
more are refused at once with 503, so that many uploads at the same time neither fill memory
with their files nor take every worker thread the other routes need.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile

from fer.api.auth import Principal, current_principal
from fer.api.schemas import Analysis, Face, error_responses

logger = logging.getLogger(__name__)

DEFAULT_MAX_FACES = 4
MAX_FACES_LIMIT = 16
MAX_ANALYSES_ADMITTED = 4
BUSY_RETRY_AFTER_S = 5
BUSY_MESSAGE = "The server is analysing other images; try again in a few seconds."

router = APIRouter(tags=["analysis"])

# What a caller learns when the fallback detector ran. Why it ran (a missing or damaged landmarker
# file, with its path) is the server's business and goes to its log.
FALLBACK_DETECTOR_WARNING = (
    "The server's face landmarker is not available, so the fallback face detector was used: "
    "no action units or head pose."
)


class UnusableImage(ValueError):
    """The uploaded file is not an image this API analyses; the message is for the caller."""


def image_recognizer(model: Any, max_faces: int = DEFAULT_MAX_FACES) -> Any:
    """The recognizer for one still image (the settings of ``fer analyze`` for images)."""
    from fer.realtime.pipeline import EmotionRecognizer
    from fer.realtime.smoothing import SmoothingConfig

    return EmotionRecognizer(
        model=model,
        smoothing=SmoothingConfig(method="none", min_dwell_s=0),
        max_faces=max_faces,
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _finite_map(values: dict[str, Any] | None) -> dict[str, float] | None:
    if values is None:
        return None
    return {str(key): number for key, value in values.items()
            if (number := _finite(value)) is not None}


def face_from_result(result: Any, classes: list[str]) -> Face:
    """A pipeline ``FaceResult`` as the API's :class:`Face` (JSON has no NaN)."""
    return Face(
        track_id=int(result.track_id),
        bbox=[int(value) for value in result.bbox],
        label=str(result.label),
        confidence=float(result.confidence),
        probs={name: float(p) for name, p in zip(classes, result.probs, strict=True)},
        valence=_finite(result.valence),
        arousal=_finite(result.arousal),
        action_units=_finite_map(result.action_units),
        head_pose=_finite_map(result.head_pose),
        overexposed=bool(result.overexposed),
    )


class Analyser:
    """The shared model (loaded on first use) and the one-at-a-time analysis of images."""

    def __init__(self, model_name: str | None):
        self.model_name = model_name
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self.admitted = threading.BoundedSemaphore(MAX_ANALYSES_ADMITTED)

    def model(self) -> Any:
        with self._load_lock:
            if self._model is None:
                from fer.models.inference import load_model
                from fer.realtime.pipeline import DEFAULT_MODEL

                self._model = load_model(self.model_name or DEFAULT_MODEL)
            return self._model

    def analyse(self, data: bytes, max_faces: int) -> Analysis:
        """:class:`UnusableImage` for a file that is not a usable image. Any other error is the
        server's (a damaged model, a failing detector) and propagates as such."""
        from fer.realtime.upload import decode_image

        # Decoding inside the lock too: a decoded image can be far larger than its file, and
        # requests waiting for the model must not each hold one.
        with self._run_lock:
            try:
                frame_bgr = decode_image(data)
            except ValueError as error:
                raise UnusableImage(str(error)) from None
            model = self.model()
            recognizer = image_recognizer(model, max_faces)
            try:
                results = recognizer.process(frame_bgr, 0.0)
                warning = recognizer.detector_warning
            finally:
                recognizer.close()
        classes = list(model.classes)
        return Analysis(
            model=str(model.name),
            classes=classes,
            faces=[face_from_result(result, classes) for result in results],
            detector_warning=FALLBACK_DETECTOR_WARNING if warning else None,
        )


@router.post(
    "/analyze",
    response_model=Analysis,
    summary="Analyse every face of one image",
    responses=error_responses(400, 401, 413, 422, 503),
)
def analyze(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    file: Annotated[UploadFile, File(description="the image: JPEG, PNG, BMP or WebP")],
    max_faces: Annotated[
        int, Query(ge=1, le=MAX_FACES_LIMIT, description="most faces analysed")
    ] = DEFAULT_MAX_FACES,
) -> Analysis:
    state = request.app.state
    if not state.analyser.admitted.acquire(blocking=False):
        raise HTTPException(503, BUSY_MESSAGE, headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})
    try:
        data = file.file.read()
        analysis = state.analyser.analyse(data, max_faces)
    except UnusableImage as error:
        raise HTTPException(400, str(error)) from None
    finally:
        state.analyser.admitted.release()
    state.audit.record(
        principal.actor,
        "analyze_image",
        detail=f"{len(analysis.faces)} faces; {principal.token}",
    )
    return analysis
