"""Offline distillation targets: a trained teacher's flip-averaged predictions on training faces.

Averaging each face with its mirror image is worth +1 to 2 points of FER2013 test accuracy for our
models, but doubles the serving cost. Training a student on the teacher's averaged predictions
(blended with the labels) tries to move that gain into the single pass that serving can afford.
The teacher sees each face once, unaugmented; the student sees it augmented, as usual.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fer.models.inference import EmotionModel


def teacher_probabilities(
    teacher: EmotionModel, faces: NDArray[np.uint8], expected_classes: list[str]
) -> NDArray[np.float32]:
    """The teacher model's flip-averaged probabilities (N, classes) for uint8 faces (N, 48, 48).

    ``expected_classes`` is the student head's class order; a teacher whose card lists another
    order or class set is refused rather than silently misaligned.
    """
    if list(teacher.classes) != list(expected_classes):
        raise ValueError(
            f"teacher {teacher.name} predicts {teacher.classes}; the student head needs "
            f"{list(expected_classes)}"
        )
    return teacher.predict(faces, batch_size=512, tta=True)


def blend_targets(
    targets: NDArray[np.float32], teacher: NDArray[np.float32], weight: float
) -> NDArray[np.float32]:
    """``(1 - weight) * targets + weight * teacher`` on labelled rows (non-zero target sum).

    Rows without a label for this head keep their all-zero target, so they still carry no loss.
    Any per-row scale (class weights) of the label target is kept for the teacher part too.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must lie in [0, 1], not {weight}")
    if targets.shape != teacher.shape:
        raise ValueError(f"targets {targets.shape} and teacher {teacher.shape} differ in shape")
    scale = targets.sum(axis=1, keepdims=True)
    blended = (1.0 - weight) * targets + weight * teacher * scale
    return blended.astype(np.float32)
