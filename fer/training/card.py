"""A published model's card: ``card.json`` (the contract and the record) and its ``MODEL_CARD.md``.

``card.json`` holds the classes in output order, the input spec and preprocessing, the training
record (data checksums, protocol, configuration, command, git commit, wall time, lineage), the
calibration, the served file and its latency records, intended use and limitations. It holds no
metrics: those are in ``evaluation.json`` (:mod:`fer.evaluation.evaluation_file`).
``MODEL_CARD.md`` is generated from both (:mod:`fer.evaluation.model_card`) every time
:func:`save_card` writes the card.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer.config import machine_description
from fer.data.datasets import FaceDataset
from fer.data.preprocess import INPUT_SHAPE, PREPROCESSING_DESCRIPTION
from fer.emotions import class_set
from fer.evaluation.evaluation_file import EVALUATION_FILE
from fer.evaluation.model_card import MODEL_CARD_FILE, model_card_text
from fer.files import write_text_atomically
from fer.models.cards import CARD_FILE, KERAS_FILE

CARD_VERSION = 1
INTENDED_USE = (
    "Supports a clinician's attention during a consented remote session by estimating the "
    "facial expression of the person on camera. It makes no decisions about people and is not a "
    "diagnostic device; facial expression is not the same as felt emotion."
)
OUT_OF_SCOPE_USE = [
    "Diagnosis, triage or risk assessment, and any decision about a person (care, employment, "
    "education, insurance, policing, migration).",
    "Reading felt emotion, truthfulness, personality or mental state from a face: the model "
    "estimates which expression label annotators would give a face image, nothing more.",
    "Any use without the informed consent of the person on camera, covert monitoring, and "
    "watching groups or crowds.",
    "Identifying people: the model neither recognises nor compares identities.",
    "Faces unlike the training images (profile views, children, strong occlusion, very low "
    "light or resolution) without first measuring accuracy on such faces.",
]
LIMITATIONS = [
    "Trained on FER2013 web images (48x48 gray, mostly frontal, posed and spontaneous mixed); "
    "accuracy on webcam video of patients, children, older adults, darker or poorly lit faces, "
    "faces with glasses/masks, or people with facial paralysis is not measured here.",
    "FER2013 labels are noisy (human accuracy on them is estimated around 65-70 %), and recall "
    "differs widely between classes (see the per-class scores in evaluation.json and "
    "MODEL_CARD.md).",
    "Expressions are culturally and individually variable; use the smoothed trend, not single "
    "frames, and always together with the clinician's own judgement.",
]


def dataset_protocol(label_set: str) -> str:
    """The evaluation protocol a card states for a label set."""
    if label_set == "fer2013":
        return "FER2013: train on Training, select on PublicTest, report PrivateTest"
    return (
        "FER+ majority vote (single votes removed, >50 % majority, unknown/NF dropped); trained "
        "on vote distributions of kept Training rows; select on PublicTest, report PrivateTest "
        "(FER+ test)"
    )


def training_record(dataset: FaceDataset, label_set: str, training: dict) -> dict:
    """The card's ``training`` record: ``training`` with the data and the machine added."""
    return {
        "datasets": {"fer2013_md5": dataset.checksum.split(" ")[0].removeprefix("fer2013:")},
        "data_checksum": dataset.checksum,
        "protocol": dataset_protocol(label_set),
        **training,
        "machine": machine_description(),
    }


def build_card(
    name: str,
    label_set: str,
    architecture: str,
    n_parameters: int,
    training: dict,
    calibration: dict | None,
) -> dict:
    """A new model's card, before its files are exported and evaluated."""
    return {
        "name": name,
        "card_version": CARD_VERSION,
        "label_set": label_set,
        "classes": list(class_set(label_set).names),
        "architecture": architecture,
        "parameters": int(n_parameters),
        "input": {
            "shape": list(INPUT_SHAPE[:2]),
            "dtype": "uint8",
            "colour": "gray",
            **PREPROCESSING_DESCRIPTION,
        },
        "training": training,
        **({"calibration": calibration} if calibration else {}),
        "intended_use": INTENDED_USE,
        "out_of_scope_use": OUT_OF_SCOPE_USE,
        "limitations": LIMITATIONS,
        "files": {
            "keras": KERAS_FILE,
            "evaluation": EVALUATION_FILE,
            "model_card": MODEL_CARD_FILE,
        },
    }


def save_card(model_dir: Path, card: dict, model_card: bool = True) -> None:
    """Write ``card.json``, then (``model_card``) regenerate ``MODEL_CARD.md`` from it.

    ``model_card=False`` is for the provisional card a model is evaluated with while it is being
    published (:class:`fer.models.inference.EmotionModel` reads its classes from it).
    """
    # The text first: when it cannot be made (a damaged evaluation.json) nothing is written.
    text = model_card_text(model_dir, card) if model_card else None
    write_text_atomically(Path(model_dir) / CARD_FILE, json.dumps(card, indent=1))
    if text is not None:
        write_text_atomically(Path(model_dir) / MODEL_CARD_FILE, text)
