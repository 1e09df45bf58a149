"""Whether a face crop is too bright for its expression to be read reliably.

The robustness suite showed over-exposure as the video-call condition that costs the models most
besides a hand over the face, while under-exposure costs next to nothing (per-face
standardisation undoes a darker image; clipped highlights cannot be undone). What is lost is
the skin clipped to white, so the measure is the share of the 48×48 crop at or above
``CLIPPED_LEVEL``; a crop is over-exposed from ``OVEREXPOSED_SHARE`` on. Both were chosen on
FER+ PublicTest faces of the suite, clean and over-exposed (``experiments/lighting``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

CLIPPED_LEVEL = 250
OVEREXPOSED_SHARE = 0.2


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
