"""Exporting a Keras model as the served int8 TFLite file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer.data.datasets import FaceDataset
from fer.data.preprocess import standardize_faces
from fer.models.cards import CARD_FILE, TFLITE_FILE

N_CALIBRATION_FACES = 1000
DEFAULT_QUANTIZATION = "dynamic"
QUANTIZATION_MODES = {
    # "dynamic" is the shipped models' choice: on PublicTest it matched the calibrated
    # full-integer export while staying with the Keras reference, and XNNPACK's dynamically
    # quantised kernels ran a single face faster (compare with `fer publish NAME --quantization
    # full` and `fer bench NAME`).
    "dynamic": "int8 weights; activations quantised per call at run time (dynamic range)",
    "full": "int8 weights and activations, calibrated on 1,000 training faces",
}
TFLITE_INPUT = "standardised faces (fer.data.preprocess.standardize_faces)"


def recorded_quantization(card: dict, model_dir: Path) -> str | None:
    """The export mode (a key of ``QUANTIZATION_MODES``) the card's ``quantization`` describes.

    None when the card records no export; ``ValueError`` naming the card when its description
    is none of the modes', which a re-export could not keep.
    """
    description = card.get("quantization")
    if description is None:
        return None
    for mode, mode_description in QUANTIZATION_MODES.items():
        if description == mode_description:
            return mode
    raise ValueError(
        f"{Path(model_dir) / CARD_FILE} quantization is {description!r}, which is none of "
        f"the export modes ({', '.join(QUANTIZATION_MODES)}); choose one with --quantization"
    )


def reexport_mode(card: dict, model_dir: Path, requested: str | None) -> str:
    """The mode a published model's TFLite file is exported again in: ``requested`` when the
    user chose one, else the one its card records (``DEFAULT_QUANTIZATION`` when it records
    none), so that a re-export never switches a model's mode unasked."""
    if requested is not None:
        if requested not in QUANTIZATION_MODES:
            raise ValueError(
                f"mode must be one of {sorted(QUANTIZATION_MODES)}, not {requested!r}"
            )
        return requested
    return recorded_quantization(card, model_dir) or DEFAULT_QUANTIZATION


def model_after_standardization(keras_model):
    """The same network with standardised faces as input (for int8 export).

    The functional graph is cut at the ``standardize`` layer's output, so branching backbones
    (shortcuts, squeeze-excite gates) export as well as single chains; weights are shared, not
    copied.
    """
    import keras

    names = [layer.name for layer in keras_model.layers]
    if "standardize" not in names:
        raise ValueError(f"{keras_model.name} has no 'standardize' layer to cut at")
    standardized = keras_model.get_layer("standardize").output
    return keras.Model(standardized, keras_model.output, name=f"{keras_model.name}_core")


def export_tflite_int8(
    keras_model, calibration_faces: np.ndarray | None, path: Path, mode: str = "dynamic"
) -> str:
    """Export with int8 weights (float input/output); returns the mode's description.

    ``mode="dynamic"`` needs no calibration; ``mode="full"`` also quantises activations,
    calibrated on ``calibration_faces`` (real training faces). The exported graph takes
    standardised faces (see ``standardize_faces``), which the TFLite runner computes in NumPy.
    """
    import tensorflow as tf

    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"mode must be one of {sorted(QUANTIZATION_MODES)}, not {mode!r}")
    core = model_after_standardization(keras_model)
    converter = tf.lite.TFLiteConverter.from_keras_model(core)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "full":
        if calibration_faces is None or not len(calibration_faces):
            raise ValueError("full-integer export needs calibration faces")
        standardized = standardize_faces(calibration_faces[..., None])

        def representative_faces():
            for face in standardized:
                yield [face[None]]

        converter.representative_dataset = representative_faces
    path.write_bytes(converter.convert())
    return QUANTIZATION_MODES[mode]


def export_served_tflite(
    keras_model, dataset: FaceDataset, model_dir: Path, card: dict, seed: int, mode: str
) -> None:
    """Export the served TFLite file into ``model_dir`` and record it in ``card``.

    Full-integer export is calibrated on a seeded sample of the Training faces. The card's
    latency records are dropped: they belong to the file they were measured on.
    """
    training_faces = dataset.split("Training").images
    pick = np.random.default_rng(seed).choice(
        len(training_faces), min(N_CALIBRATION_FACES, len(training_faces)), replace=False
    )
    card["quantization"] = export_tflite_int8(
        keras_model, training_faces[pick], Path(model_dir) / TFLITE_FILE, mode
    )
    card["served_backend"] = "tflite_int8"
    card.setdefault("files", {}).update(tflite_int8=TFLITE_FILE, tflite_input=TFLITE_INPUT)
    card.pop("benchmark", None)
