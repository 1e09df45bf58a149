"""How strongly training perturbs faces (:class:`AugmentationConfig`) and its named strengths.

Kept free of Keras so that configurations and the command line load without TensorFlow;
:func:`fer.data.preprocess.build_augmentation` turns a configuration into layers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AugmentationConfig:
    """Training-time augmentation; every layer is inactive at inference."""

    horizontal_flip: bool = True
    rotation_degrees: float = 15.0
    zoom: float = 0.10
    translation: float = 0.10
    contrast: float = 0.20
    brightness: float = 0.15
    # Share of faces that also get one video-call degradation (low resolution, blur, exposure,
    # noise or a hand-like occlusion; see fer.data.preprocess.VideoCallDegradation).
    degradation: float = 0.0


# Named strengths for ``fer train --augmentation``. "light" keeps the mirror and small
# geometric jitter but drops the photometric changes, for a final stage that adapts a converged
# model to faces that look like the ones met at inference (batch-norm recalibration showed that
# the full strength's augmented faces differ from plain ones enough to matter).
AUGMENTATION_PRESETS = {
    "full": AugmentationConfig(),
    "light": AugmentationConfig(True, 5.0, 0.03, 0.03, 0.0, 0.0),
    "none": AugmentationConfig(False, 0.0, 0.0, 0.0, 0.0, 0.0),
    # "full" plus the conditions of a video call on half of the faces: the robustness suite
    # showed over-exposure and occlusion costing the full-strength models most.
    "video_call": AugmentationConfig(degradation=0.5),
}
