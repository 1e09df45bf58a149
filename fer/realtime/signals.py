"""Per-face signals beside the expression label: action units, valence/arousal, head pose.

All three are descriptive. They say what the face does (which muscles appear to move, how
pleasant and how activated the expression looks, where the head points), never what a person
feels.

**Action units** (FACS, Ekman & Friesen) are estimated from MediaPipe's 52 blendshape scores,
which follow Apple ARKit's blendshape definitions. :data:`AU_BLENDSHAPES` is the mapping: each AU
is the mean of the blendshapes that describe the same movement on the left and right side of the
face (or the one blendshape that has no sides). Where ARKit has no matching movement the AU is not
reported: AU16, AU18, AU22, AU24, AU27 and AU28 are omitted, and ARKit's ``mouthPress``
(lips pressed together) stands for AU23 (lip tightener), whose look it shares. AU25 (lips part)
has no blendshape of its own: it is the mouth's opening (jaw drop or lowered lower lip) less
``mouthClose``. Intensities are the blendshape scores, 0..1; they are not FACS A-E grades.
For the two-sided AUs, :func:`au_asymmetry` gives left minus right (the subject's own left).

**Valence and arousal** place the expression on the circumplex (Russell, 1980): the probability-
weighted mean of each class's coordinates. The coordinates are the pleasure and arousal values
that Russell & Mehrabian (1977, "Evidence for a three-factor theory of emotions", J. Research in
Personality 11) measured for the emotion terms "happy", "surprised", "sad", "angry", "disgust"
and "fearful"; neutral sits at the origin. Their table has no entry for contempt, so contempt
takes the coordinates of "displeased" from the same table, the nearest term. Values lie in
[-1, 1].

**Head pose** is read from the landmarker's facial transformation matrix (the canonical face
model's rotation into camera space): yaw, pitch and roll in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fer.realtime.smoothing import SmoothingConfig, VectorSmoother

# AU -> (plain name, blendshapes averaged into it). Left/right pairs come first, left side first.
AU_BLENDSHAPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AU1": ("inner brow raiser", ("browInnerUp",)),
    "AU2": ("outer brow raiser", ("browOuterUpLeft", "browOuterUpRight")),
    "AU4": ("brow lowerer", ("browDownLeft", "browDownRight")),
    "AU5": ("upper lid raiser", ("eyeWideLeft", "eyeWideRight")),
    "AU6": ("cheek raiser", ("cheekSquintLeft", "cheekSquintRight")),
    "AU7": ("lid tightener", ("eyeSquintLeft", "eyeSquintRight")),
    "AU9": ("nose wrinkler", ("noseSneerLeft", "noseSneerRight")),
    "AU10": ("upper lip raiser", ("mouthUpperUpLeft", "mouthUpperUpRight")),
    "AU12": ("lip corner puller", ("mouthSmileLeft", "mouthSmileRight")),
    "AU14": ("dimpler", ("mouthDimpleLeft", "mouthDimpleRight")),
    "AU15": ("lip corner depressor", ("mouthFrownLeft", "mouthFrownRight")),
    "AU17": ("chin raiser", ("mouthShrugLower",)),
    "AU20": ("lip stretcher", ("mouthStretchLeft", "mouthStretchRight")),
    "AU23": ("lip tightener", ("mouthPressLeft", "mouthPressRight")),
    "AU25": ("lips part", ()),  # derived, see _lips_part
    "AU26": ("jaw drop", ("jawOpen",)),
    "AU43": ("eyes closed", ("eyeBlinkLeft", "eyeBlinkRight")),
}
ACTION_UNITS: tuple[str, ...] = tuple(AU_BLENDSHAPES)
TWO_SIDED_AUS: tuple[str, ...] = tuple(
    au for au, (_, shapes) in AU_BLENDSHAPES.items() if len(shapes) == 2
)

# Russell & Mehrabian (1977): (pleasure, arousal) of the emotion terms named in the docstring.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "happy": (0.81, 0.51),
    "surprise": (0.40, 0.67),
    "sad": (-0.63, -0.27),
    "angry": (-0.51, 0.59),
    "disgust": (-0.60, 0.35),
    "fear": (-0.64, 0.60),
    "contempt": (-0.55, 0.16),
    "neutral": (0.0, 0.0),
}
HEAD_POSE_AXES = ("yaw", "pitch", "roll")


def action_units(blendshapes: Mapping[str, float]) -> dict[str, float]:
    """AU intensities (0..1) from MediaPipe blendshape scores, by :data:`AU_BLENDSHAPES`.

    Raises ``ValueError`` when a blendshape the mapping needs is missing.
    """
    missing = sorted(
        {shape for _, shapes in AU_BLENDSHAPES.values() for shape in shapes} - set(blendshapes)
    )
    if missing:
        raise ValueError(f"blendshapes lack {missing}; is this MediaPipe's 52-blendshape output?")
    units = {}
    for au, (_, shapes) in AU_BLENDSHAPES.items():
        if au == "AU25":
            value = _lips_part(blendshapes)
        else:
            value = float(np.mean([blendshapes[shape] for shape in shapes]))
        units[au] = float(np.clip(value, 0.0, 1.0))
    return units


def _lips_part(blendshapes: Mapping[str, float]) -> float:
    lower_lip = (blendshapes["mouthLowerDownLeft"] + blendshapes["mouthLowerDownRight"]) / 2
    return max(blendshapes["jawOpen"], lower_lip) - blendshapes["mouthClose"]


def au_asymmetry(blendshapes: Mapping[str, float]) -> dict[str, float]:
    """Left minus right intensity (-1..1) of each two-sided AU; the subject's own left."""
    return {
        au: float(blendshapes[AU_BLENDSHAPES[au][1][0]] - blendshapes[AU_BLENDSHAPES[au][1][1]])
        for au in TWO_SIDED_AUS
    }


def au_description(au: str) -> str:
    """A clinician's name for an AU, e.g. ``"brow lowerer (AU4)"``."""
    return f"{AU_BLENDSHAPES[au][0]} ({au})"


def valence_arousal(
    probabilities: NDArray[np.floating], classes: Sequence[str]
) -> tuple[float, float]:
    """The probability-weighted circumplex position ``(valence, arousal)`` of one face."""
    probabilities = np.asarray(probabilities, np.float64).reshape(-1)
    if probabilities.shape != (len(classes),):
        raise ValueError(f"expected {len(classes)} probabilities, got {probabilities.shape}")
    unknown = [name for name in classes if name not in CIRCUMPLEX]
    if unknown:
        raise ValueError(f"no circumplex coordinates for {unknown}")
    coordinates = np.array([CIRCUMPLEX[name] for name in classes])
    total = probabilities.sum()
    if not math.isfinite(total) or total <= 0:
        raise ValueError("probabilities must be finite and sum to more than 0")
    valence, arousal = (probabilities / total) @ coordinates
    return float(valence), float(arousal)


def head_pose(transformation: NDArray[np.floating]) -> dict[str, float]:
    """Yaw, pitch and roll in degrees from a 4x4 (or 3x3) facial transformation matrix.

    Angles follow the camera's axes (x right, y up, z towards the viewer): yaw turns about y
    (positive: the face turns towards the image's right edge), pitch about x (positive: the top
    of the head comes towards the camera, as in looking down), roll about z (positive: the head
    tilts counter-clockwise in the image). Mirroring the image negates yaw and roll.
    """
    matrix = np.asarray(transformation, np.float64)
    if matrix.shape not in ((4, 4), (3, 3)) or not np.all(np.isfinite(matrix)):
        raise ValueError(f"expected a finite 4x4 or 3x3 matrix, got shape {matrix.shape}")
    rotation = matrix[:3, :3]
    # Remove any scale the canonical face model carries before reading angles.
    scale = np.linalg.norm(rotation, axis=0)
    if np.any(scale <= 0):
        raise ValueError("the transformation matrix has no rotation part")
    rotation = rotation / scale
    pitch = math.degrees(math.atan2(rotation[2, 1], rotation[2, 2]))
    yaw = math.degrees(math.asin(float(np.clip(-rotation[2, 0], -1.0, 1.0))))
    roll = math.degrees(math.atan2(rotation[1, 0], rotation[0, 0]))
    return {"yaw": yaw, "pitch": pitch, "roll": roll}


@dataclass(frozen=True)
class FaceSignals:
    """One face's signals in one frame, smoothed like its probabilities.

    ``action_units``, ``au_asymmetry`` and ``head_pose`` are ``None`` without landmarks (the Haar
    fallback); valence and arousal come from the class probabilities and always exist.
    """

    action_units: dict[str, float] | None
    au_asymmetry: dict[str, float] | None
    head_pose: dict[str, float] | None
    valence: float
    arousal: float


class SignalSmoother:
    """Smooths one face's action units, asymmetries and head pose; one per tracked face."""

    def __init__(self, config: SmoothingConfig | None = None):
        self._vector = VectorSmoother(config)

    def reset(self) -> None:
        self._vector.reset()

    def update(
        self,
        blendshapes: Mapping[str, float] | None,
        transformation: NDArray[np.floating] | None,
        smoothed_probabilities: NDArray[np.floating],
        classes: Sequence[str],
        t_s: float,
    ) -> FaceSignals:
        """The face's signals at ``t_s``; ``smoothed_probabilities`` are already smoothed."""
        valence, arousal = valence_arousal(smoothed_probabilities, classes)
        parts: dict[str, dict[str, float]] = {}
        if blendshapes is not None:
            parts["action_units"] = action_units(blendshapes)
            parts["au_asymmetry"] = au_asymmetry(blendshapes)
        if transformation is not None:
            parts["head_pose"] = head_pose(transformation)
        if not parts:
            self._vector.reset()
            return FaceSignals(None, None, None, valence, arousal)
        keys = [(part, name) for part, values in parts.items() for name in values]
        smoothed = self._vector.update(np.array([parts[p][n] for p, n in keys]), t_s)
        result: dict[str, dict[str, float]] = {part: {} for part in parts}
        for (part, name), value in zip(keys, smoothed, strict=True):
            result[part][name] = round(float(value), 4)
        return FaceSignals(
            result.get("action_units"),
            result.get("au_asymmetry"),
            result.get("head_pose"),
            valence,
            arousal,
        )
