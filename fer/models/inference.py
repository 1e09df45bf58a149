"""Public inference API: ``load_model(name_or_path)`` → :class:`EmotionModel`.

A model directory holds ``model.keras`` (the reference model), ``card.json`` and, when exported,
``model_int8.tflite``: the same network quantised to int8, whose accuracy is re-measured and
recorded in the card. ``EmotionModel`` runs the TFLite form when present (about 4× faster on CPU)
and the Keras form otherwise; ``backend="keras"`` forces the reference model. The two forms'
runners are in :mod:`fer.models.runners`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FACE_SIZE
from fer.models.cards import (
    CARD_FILE,
    KERAS_FILE,
    TFLITE_FILE,
    InvalidModelError,
    ModelNotFoundError,
    read_card,
    resolve_model_dir,
)
from fer.models.runners import KerasRunner, TFLiteRunner, default_threads

BACKENDS = ("auto", "tflite", "keras")
# Test-time views: each face is also seen zoomed by these factors (about its centre), and every
# view with its mirror image; the probabilities are averaged. The zoom factors were fixed before
# measuring (within the training augmentation's ±10 %), and "mirror+zoom" was chosen over
# "mirror" and over adding ±2-pixel shifts on PublicTest (figures in docs/training.md).
TTA_ZOOMS = {"mirror": (1.0,), "mirror+zoom": (1.0, 1.08, 0.93)}
TTA_CHOICES = ("none", *TTA_ZOOMS)  # the ``tta`` names every CLI and the Live page offer
PIPELINE_TTA = "mirror+zoom"  # what the frame pipeline (EmotionRecognizer) serves by default


def validate_faces(faces: NDArray) -> NDArray[np.uint8]:
    """Check a face batch and return it as (N, 48, 48) uint8; raise ``ValueError`` otherwise."""
    if not isinstance(faces, np.ndarray):
        raise ValueError(f"faces must be a numpy array, got {type(faces).__name__}")
    if faces.dtype != np.uint8:
        raise ValueError(
            f"faces must be uint8 gray images (0..255), got dtype {faces.dtype}; "
            "convert with np.clip(x, 0, 255).astype(np.uint8) after checking the scale"
        )
    if faces.ndim == 2:
        faces = faces[None]
    elif faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim != 3 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(
            f"faces must have shape (N, {FACE_SIZE}, {FACE_SIZE}) or ({FACE_SIZE}, {FACE_SIZE}), "
            f"got {faces.shape}"
        )
    return faces


def tta_views(tta: bool | str | None) -> str | None:
    """``None`` (one pass), ``"mirror"`` or ``"mirror+zoom"`` from a ``predict`` ``tta`` value.

    ``True`` means ``"mirror"``; anything outside ``False``/``"none"``/:data:`TTA_ZOOMS` is a
    ``ValueError``.
    """
    if tta is False or tta is None or tta == "none":
        return None
    if tta is True:
        return "mirror"
    if isinstance(tta, str) and tta in TTA_ZOOMS:
        return tta
    raise ValueError(f"tta must be False, True or one of {['none', *TTA_ZOOMS]}, not {tta!r}")


def tta_label(tta: bool | str) -> str:
    """`` +TTA`` (mirror) or `` +TTA mirror+zoom`` for a report's ``tta``; empty without."""
    if not tta:
        return ""
    return " +TTA" if tta is True or tta == "mirror" else f" +TTA {tta}"


def zoom_faces(faces: NDArray[np.uint8], factor: float) -> NDArray[np.uint8]:
    """Faces (N, 48, 48) magnified by ``factor`` about the centre; borders mirror the image."""
    if factor == 1.0:
        return faces
    import cv2

    centre = (FACE_SIZE - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), 0.0, factor)
    size = (FACE_SIZE, FACE_SIZE)
    return np.stack(
        [
            cv2.warpAffine(face, matrix, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
            for face in faces
        ]
    )


def rescale_temperature(probabilities: NDArray, temperature: float) -> NDArray[np.float64]:
    """``softmax(log(p) / T)`` per row: the output a head with logits divided by ``T`` gives.

    Applied to a view average it is a calibration map of its own (not the same as scaling each
    view): that is how :class:`EmotionModel` calibrates view sets other than the pipeline's.
    ``fer.training.calibration`` scales each view with it when fitting. Float64, so fits see no
    rounding.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True) if logits.size else 0.0
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


def output_temperatures_from_card(card: dict) -> dict[str, float]:
    """The card's per-view-set output temperatures (``calibration.output_temperatures``).

    The head's folded temperature fits the pipeline's view average; one pass and the mirror
    pair get their own, applied to their output. Unknown view sets or non-positive values are a
    ``ValueError`` naming the card, so a damaged card cannot skew probabilities silently.
    """
    recorded = (card.get("calibration") or {}).get("output_temperatures") or {}
    temperatures = {}
    for views, temperature in recorded.items():
        if views not in TTA_CHOICES or views == PIPELINE_TTA:
            raise ValueError(
                f"card of {card.get('name')!r}: output temperature for unknown view set {views!r}"
            )
        if not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(
                f"card of {card.get('name')!r}: output temperature {temperature!r} for {views!r} "
                "is not a positive number"
            )
        temperatures[views] = float(temperature)
    return temperatures


def class_thresholds_from_card(card: dict, tta: bool | str = PIPELINE_TTA) -> dict[str, float]:
    """The card's per-class "uncertain" thresholds for the view set ``tta`` (empty if none).

    Written by ``fer publish --uncertainty-thresholds`` (``uncertainty.thresholds``, per view
    set). A class the card does not know, or a value outside [0, 1], is a ``ValueError`` naming
    the card.
    """
    views = tta_views(tta) or "none"
    recorded = ((card.get("uncertainty") or {}).get("thresholds") or {}).get(views) or {}
    classes = list(card.get("classes", []))
    thresholds = {}
    for name, threshold in recorded.items():
        if name not in classes:
            raise ValueError(f"card of {card.get('name')!r}: threshold for unknown class {name!r}")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"card of {card.get('name')!r}: threshold {threshold!r} for {name!r} is not in "
                "[0, 1]"
            )
        thresholds[name] = float(threshold)
    return thresholds


def class_thresholds(model: object, tta: bool | str = PIPELINE_TTA) -> dict[str, float]:
    """Per-class "uncertain" thresholds of a loaded model for the view set ``tta``.

    Empty for a model without a card (or whose card carries none): the smoother then uses its
    single threshold. Pass the result to :class:`fer.realtime.smoothing.ProbabilitySmoother`.
    """
    card = getattr(model, "card", None)
    return class_thresholds_from_card(card, tta) if isinstance(card, dict) else {}


def predict_in_batches(
    run, n_classes: int, faces: NDArray[np.uint8], batch_size: int, tta: bool | str
) -> NDArray[np.float32]:
    """Validate faces, run ``run`` on (B, 48, 48, 1) float32 chunks, average test-time views."""
    return view_probabilities(run, n_classes, faces, batch_size, tta).mean(axis=0)


def view_probabilities(
    run, n_classes: int, faces: NDArray[np.uint8], batch_size: int, tta: bool | str
) -> NDArray[np.float32]:
    """Each test-time view's probabilities, (n_views, N, n_classes); one view without ``tta``.

    Faces are converted to float32 one chunk at a time, so memory beyond the input and the
    output stays bounded by ``batch_size`` whatever the number of faces. A chunk's views go to
    ``run`` together (a frame's few faces and their views: one call).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ValueError(f"batch_size must be a whole number of faces, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 face, got {batch_size}")
    faces = validate_faces(faces)
    views = tta_views(tta)
    zooms = (1.0,) if views is None else TTA_ZOOMS[views]
    n_views = 1 if views is None else 2 * len(zooms)
    probabilities = np.zeros((n_views, len(faces), n_classes), np.float32)
    faces_per_chunk = max(1, batch_size // n_views)
    for start in range(0, len(faces), faces_per_chunk):
        chunk = faces[start : start + faces_per_chunk]
        if views is None:
            rows = chunk
        else:
            zoomed = [zoom_faces(chunk, factor) for factor in zooms]
            rows = np.concatenate([*zoomed, *(view[:, :, ::-1] for view in zoomed)])
        batch = rows[..., None].astype(np.float32)
        outputs = np.concatenate(
            [run(batch[first : first + batch_size]) for first in range(0, len(batch), batch_size)]
        )
        probabilities[:, start : start + len(chunk)] = outputs.reshape(n_views, len(chunk), -1)
    return probabilities


# How often a model is loaded again when its folder was replaced while it was being loaded.
LOAD_ATTEMPTS = 3


def _folder_version(model_dir: Path) -> tuple[int, int] | None:
    """Which folder is at ``model_dir`` now (None: none is)."""
    try:
        status = os.stat(model_dir)
    except OSError:
        return None
    return status.st_dev, status.st_ino


class EmotionModel:
    """A trained expression classifier: uint8 gray 48×48 faces in, class probabilities out."""

    def __init__(self, model_dir: Path, backend: str = "auto", num_threads: int | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.model_dir = Path(model_dir)
        # A re-publication swaps in a new folder whole (fer.files.replacing_folders): the card
        # and the model file read on either side of the swap would belong to two versions, or
        # one of them be missing for a moment: either way the folder is then no longer the one
        # the loading began with, and the model is loaded again.
        for attempt in range(1, LOAD_ATTEMPTS + 1):
            version = _folder_version(self.model_dir)
            try:
                self._load(backend, num_threads)
            except (ModelNotFoundError, InvalidModelError):
                if attempt == LOAD_ATTEMPTS or _folder_version(self.model_dir) == version:
                    raise
                continue
            if _folder_version(self.model_dir) == version:
                break

    def _load(self, backend: str, num_threads: int | None) -> None:
        self.card: dict = read_card(self.model_dir)
        self.name: str = self.card["name"]
        self.classes: list[str] = list(self.card["classes"])
        # Post-hoc temperatures per view set ("none", "mirror"); the pipeline's views need none.
        self.output_temperatures: dict[str, float] = output_temperatures_from_card(self.card)
        tflite_path = self.model_dir / TFLITE_FILE
        self._run: TFLiteRunner | KerasRunner
        if backend == "tflite" or (backend == "auto" and tflite_path.is_file()):
            if not tflite_path.is_file():
                raise ModelNotFoundError(f"{tflite_path} does not exist")
            self.backend = "tflite"
            self.num_threads = num_threads or default_threads()
            self._run = TFLiteRunner(tflite_path, self.num_threads)
        else:
            self.backend = "keras"
            self.num_threads = 0  # TensorFlow's own thread pools
            self._run = KerasRunner(self.model_dir / KERAS_FILE)
        if self._run.output_size != len(self.classes):
            raise InvalidModelError(
                f"{self.model_dir / CARD_FILE} names {len(self.classes)} classes but the "
                f"{self.backend} model gives {self._run.output_size} outputs"
            )

    def __repr__(self) -> str:
        return f"EmotionModel({self.name!r}, backend={self.backend!r}, classes={self.classes})"

    def predict(
        self, faces: NDArray[np.uint8], batch_size: int = 256, tta: bool | str = False
    ) -> NDArray[np.float32]:
        """Probabilities (N, len(classes)) for uint8 gray faces (N, 48, 48) or one (48, 48).

        ``tta=True`` (or ``"mirror"``) averages each face with its mirror image: about twice the
        time, for the accuracy of the ``mirror`` reports in the model's ``evaluation.json``.
        ``tta="mirror+zoom"`` also averages two zoomed views and their mirrors (six passes; the
        ``mirror+zoom`` reports), what the frame pipeline serves.
        The head's temperature is fitted to that six-view average; one pass and the mirror pair
        are rescaled by their own temperatures from the card (``output_temperatures``), so
        each view set's probabilities are calibrated. Accuracy does not change.
        """
        probabilities = predict_in_batches(self._run, len(self.classes), faces, batch_size, tta)
        temperature = self.output_temperatures.get(tta_views(tta) or "none", 1.0)
        if temperature == 1.0:
            return probabilities
        return rescale_temperature(probabilities, temperature).astype(np.float32)

    def embed(self, faces: NDArray[np.uint8], batch_size: int = 256) -> NDArray[np.float32]:
        """Penultimate-layer features (the backbone output) from the reference Keras model."""
        import keras

        faces = validate_faces(faces)
        keras_model = getattr(self, "_keras_for_embedding", None)
        if keras_model is None:
            full = KerasRunner(self.model_dir / KERAS_FILE).model
            feature_layer = next(
                layer
                for layer in reversed(full.layers)
                if not isinstance(layer, (keras.layers.Dense, keras.layers.Dropout))
            )
            keras_model = keras.Model(full.input, feature_layer.output)
            self._keras_for_embedding = keras_model
        return keras_model.predict(
            faces[..., None].astype(np.float32), batch_size=batch_size, verbose=0
        ).astype(np.float32)


def load_model(
    name_or_path: str | Path = "fer2013", backend: str = "auto", num_threads: int | None = None
) -> EmotionModel:
    """Load a shipped model by name (``"fer2013"``, ``"ferplus"``) or from a directory path.

    ``num_threads`` (TFLite only) defaults to :func:`default_threads`.
    """
    return EmotionModel(resolve_model_dir(name_or_path), backend=backend, num_threads=num_threads)


# Models loaded by the module-level predict, by resolved folder and backend; loading one costs
# far more than predicting a batch, so each is loaded once per process.
_PREDICT_MODELS: dict[tuple[Path, str], EmotionModel] = {}
_PREDICT_MODELS_LOCK = threading.Lock()


def predict(
    faces: NDArray[np.uint8],
    model: str | Path | EmotionModel = "fer2013",
    tta: bool | str = False,
    backend: str = "auto",
    batch_size: int = 256,
) -> NDArray[np.float32]:
    """Probabilities (N, len(classes)) of ``model`` for uint8 gray faces (N, 48, 48) or one
    (48, 48): ``load_model(model, backend).predict(faces, batch_size, tta)``, with the loaded
    model kept for the next call. ``model`` is a name, a model folder or a loaded model; the
    default is :func:`load_model`'s."""
    if isinstance(model, EmotionModel):
        return model.predict(faces, batch_size=batch_size, tta=tta)
    key = (resolve_model_dir(model).resolve(), backend)
    with _PREDICT_MODELS_LOCK:
        loaded = _PREDICT_MODELS.get(key)
        if loaded is None:
            loaded = _PREDICT_MODELS[key] = load_model(key[0], backend=backend)
    return loaded.predict(faces, batch_size=batch_size, tta=tta)
