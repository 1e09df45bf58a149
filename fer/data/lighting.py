"""Whether a face crop is too bright for its expression to be read reliably.

The robustness suite showed over-exposure as the video-call condition that costs the models most
besides a hand over the face, while under-exposure costs next to nothing (per-face
standardisation undoes a darker image; clipped highlights cannot be undone). What is lost is
the skin clipped to white, so the measure is the share of the 48×48 crop at or above
``CLIPPED_LEVEL``; a crop is over-exposed from ``OVEREXPOSED_SHARE`` on. Both were chosen on
FER+ PublicTest faces of the suite, clean and over-exposed (``experiments/lighting``).

What is not clipped can still be read better: the frame pipeline darkens an over-exposed crop
with a gamma curve (``COMPENSATION_GAMMA``, chosen on the same faces) before the model reads it,
which brings the skin that survived back toward the tones the model learnt; the flag and its
share are measured on the crop as the camera gave it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CLIPPED_LEVEL = 250
OVEREXPOSED_SHARE = 0.2
COMPENSATION_GAMMA = 2.0
_DARKENED = np.round(255.0 * (np.arange(256) / 255.0) ** COMPENSATION_GAMMA).astype(np.uint8)


def clipped_share(face_gray: NDArray[np.uint8]) -> float:
    """The share of ``face_gray``'s pixels (a 2-D uint8 crop) at or above ``CLIPPED_LEVEL``."""
    face = np.asarray(face_gray)
    if face.ndim != 2 or face.dtype != np.uint8 or face.size == 0:
        raise ValueError(
            f"clipped_share needs a 2-D uint8 gray crop, got shape {face.shape} {face.dtype}"
        )
    return float(np.count_nonzero(face >= CLIPPED_LEVEL)) / face.size


def is_overexposed(share: float | None) -> bool:
    """Whether a crop with ``share`` clipped pixels is over-exposed (``None``: no crop, no)."""
    return share is not None and share >= OVEREXPOSED_SHARE


def compensated_for_overexposure(crops: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``crops`` (one 2-D uint8 gray crop or a stack of them) with each over-exposed crop
    darkened by ``COMPENSATION_GAMMA``; the others, and ``crops`` itself, are left as they are."""
    stack = np.asarray(crops)
    if stack.dtype != np.uint8 or stack.ndim not in (2, 3):
        raise ValueError(
            "compensated_for_overexposure needs uint8 gray crops (H, W) or (N, H, W), got "
            f"shape {stack.shape} {stack.dtype}"
        )
    single = stack.ndim == 2
    stack = stack[None] if single else stack
    darken = [is_overexposed(clipped_share(crop)) if crop.size else False for crop in stack]
    if not any(darken):
        return crops
    result = stack.copy()
    result[darken] = _DARKENED[stack[darken]]
    return result[0] if single else result
