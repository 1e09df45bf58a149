"""What the session store holds, and the checks every write passes.

Consent and session records, one face in one frame (:class:`FrameRecord`) and its encoding into a
database row (:func:`encode_frame`: float32 blobs; blendshapes, action units, their asymmetry and
the head pose as JSON objects), plus the validators the store applies to names, notes, ids and
times. Split from :mod:`fer.sessions.store` so the recorder and the store share one definition of
a valid row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from fer.emotions import EMOTIONS, UNCERTAIN
from fer.sessions.schema import HEAD_POSE_AXES

# Probabilities may overshoot [0, 1] by float rounding (and by int8 quantisation steps).
PROBABILITY_TOLERANCE = 1e-3
# A frame's time within its session; longer than any session or video, short enough that the
# session's start plus it is a date (a clock reading in milliseconds is not a frame time).
MAX_FRAME_T_SECONDS = 1e7
FACS_CODE = re.compile(r"AU[1-9][0-9]*")
# Track ids fit a signed 32-bit integer, the narrowest column any backend gives them.
MAX_TRACK_ID = 2**31 - 1


class ConsentError(ValueError):
    """A write about a person was attempted without a valid consent record."""


class SessionNotFoundError(ValueError):
    """No such session, or none the viewer may see (the two are not told apart)."""


class SessionEndedError(ValueError):
    """A change to a session that has ended: its notes, markers and frames are then a clinical
    record. Only erasing the client's name (:func:`fer.sessions.retention.erase_name`) still
    rewrites its notes."""


class AccessDeniedError(PermissionError):
    """The viewer's role gives no access to patient data (a reviewer), or not to this action."""


@dataclass(frozen=True)
class Consent:
    id: int
    given_by: str
    given_at: datetime
    statement: str
    withdrawn_at: datetime | None = None
    client_code: str | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class SessionInfo:
    id: int
    consent_id: int
    consent_by: str
    consent_given_at: datetime
    started_at: datetime
    ended_at: datetime | None
    model: str
    classes: tuple[str, ...]
    source: str
    notes: str
    n_frames: int
    # Sessions recorded before accounts existed have no owner (admins only see them).
    owner_id: int | None = None
    # Set when consent was withdrawn and the clinic's policy kept the recording.
    consent_withdrawn_at: datetime | None = None
    client_code: str | None = None

    def as_json_dict(self) -> dict[str, Any]:
        """Metadata with times as ISO 8601 strings (what the JSON export writes)."""
        return {
            "id": self.id,
            "consent_id": self.consent_id,
            "consent_by": self.consent_by,
            "consent_given_at": self.consent_given_at.isoformat(),
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "model": self.model,
            "classes": list(self.classes),
            "source": self.source,
            "notes": self.notes,
            "n_frames": self.n_frames,
            "client_code": self.client_code,
            "consent_withdrawn_at": (
                self.consent_withdrawn_at.isoformat() if self.consent_withdrawn_at else None
            ),
        }


@dataclass(frozen=True)
class FrameRecord:
    """One face in one frame, as stored; ``from_result`` reads a pipeline ``FaceResult``."""

    t_seconds: float
    track_id: int
    bbox: tuple[float, float, float, float]
    probs: NDArray[np.float32]
    smoothed: NDArray[np.float32]
    label: str
    confidence: float
    landmarks: NDArray[np.float32] | None = None
    blendshapes: dict[str, float] | None = None
    # The signals of fer.realtime.signals; None where the face had none (no landmarks).
    valence: float | None = None
    arousal: float | None = None
    action_units: dict[str, float] | None = None
    au_asymmetry: dict[str, float] | None = None
    head_pose: dict[str, float] | None = None
    # Share of the model's crop clipped white (fer.data.lighting); None without a crop.
    clipped_share: float | None = None

    @classmethod
    def from_result(cls, t_seconds: float, result: Any) -> FrameRecord:
        return cls(
            t_seconds=t_seconds,
            track_id=result.track_id,
            bbox=tuple(result.bbox),
            probs=result.probs,
            smoothed=result.smoothed,
            label=result.label,
            confidence=result.confidence,
            landmarks=getattr(result, "landmarks", None),
            blendshapes=getattr(result, "blendshapes", None),
            valence=getattr(result, "valence", None),
            arousal=getattr(result, "arousal", None),
            action_units=getattr(result, "action_units", None),
            au_asymmetry=getattr(result, "au_asymmetry", None),
            head_pose=getattr(result, "head_pose", None),
            clipped_share=getattr(result, "clipped_share", None),
        )


# --- conversions ------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ValueError(f"{what} must carry a time zone (e.g. datetime.now(UTC)), got {value}")
    return value.astimezone(UTC)


@overload
def parse_time(text: str) -> datetime: ...
@overload
def parse_time(text: None) -> None: ...
@overload
def parse_time(text: str | None) -> datetime | None: ...


def parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def finite_number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    return number


def _float32_blob(values: Any, shape: tuple[int | None, ...], what: str) -> bytes:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be numeric, got {type(values).__name__}") from None
    if array.ndim != len(shape) or any(
        expected is not None and size != expected
        for size, expected in zip(array.shape, shape, strict=True)
    ):
        wanted = "(" + ", ".join("N" if size is None else str(size) for size in shape) + ")"
        raise ValueError(f"{what} must have shape {wanted}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return array.astype("<f4").tobytes()


def _probabilities_blob(values: Any, n_classes: int, what: str) -> bytes:
    blob = _float32_blob(values, (n_classes,), what)
    array = np.frombuffer(blob, "<f4")
    if array.min() < -PROBABILITY_TOLERANCE or array.max() > 1 + PROBABILITY_TOLERANCE:
        raise ValueError(f"{what} must lie in [0, 1], got {array.tolist()}")
    return blob


def encode_frame(record: FrameRecord, classes: Sequence[str]) -> tuple:
    """Validate ``record`` against ``classes`` and return its row (without the session id).

    Raises ``ValueError`` naming the first problem. Pure: no database access, so recorders can
    validate on the thread that produced the result.
    """
    if not isinstance(record, FrameRecord):
        raise ValueError(f"expected a FrameRecord, got {type(record).__name__}")
    t_seconds = finite_number(record.t_seconds, "t_seconds")
    if not 0 <= t_seconds <= MAX_FRAME_T_SECONDS:
        raise ValueError(
            f"t_seconds must be the frame's time in the session, 0 to {MAX_FRAME_T_SECONDS:g} "
            f"seconds, got {t_seconds}"
        )
    if isinstance(record.track_id, bool) or not isinstance(record.track_id, int | np.integer):
        raise ValueError(f"track_id must be an integer, got {record.track_id!r}")
    if not 0 <= record.track_id <= MAX_TRACK_ID:
        raise ValueError(f"track_id must be 0 to {MAX_TRACK_ID}, got {record.track_id}")
    if len(record.bbox) != 4:
        raise ValueError(f"bbox must be (x, y, w, h), got {record.bbox!r}")
    x, y, w, h = (finite_number(value, "bbox") for value in record.bbox)
    if w < 0 or h < 0:
        raise ValueError(f"bbox width and height must be >= 0, got {record.bbox!r}")
    probs = _probabilities_blob(record.probs, len(classes), "probs")
    smoothed = _probabilities_blob(record.smoothed, len(classes), "smoothed")
    if record.label != UNCERTAIN and record.label not in classes:
        raise ValueError(f"label {record.label!r} is not one of {list(classes)} or {UNCERTAIN!r}")
    confidence = finite_number(record.confidence, "confidence")
    if not 0 <= confidence <= 1 + PROBABILITY_TOLERANCE:
        raise ValueError(f"confidence must lie in [0, 1], got {confidence}")
    landmarks = None
    if record.landmarks is not None:
        landmarks = _float32_blob(record.landmarks, (None, 2), "landmarks")
    return (
        t_seconds,
        int(record.track_id),
        x,
        y,
        w,
        h,
        probs,
        smoothed,
        str(record.label),
        round(min(confidence, 1.0), 6),
        landmarks,
        _scores_json(record.blendshapes, "blendshapes"),
        *_signals(record),
        _share(record.clipped_share, "clipped_share"),
    )


def _share(value: Any, what: str) -> float | None:
    """A share in [0, 1] (None stays None)."""
    if value is None:
        return None
    share = finite_number(value, what)
    if not 0 <= share <= 1:
        raise ValueError(f"{what} must lie in [0, 1], got {share}")
    return share


def _scores_json(
    scores: Any, what: str, bounds: tuple[float, float] | None = None
) -> str | None:
    """A name -> number mapping as JSON text (None stays None); numbers finite and, when
    ``bounds`` are given, within them."""
    if scores is None:
        return None
    if not isinstance(scores, dict) or not all(isinstance(name, str) for name in scores):
        raise ValueError(f"{what} must be a dict of name -> number")
    values = {name: finite_number(value, f"{what} {name!r}") for name, value in scores.items()}
    if bounds is not None:
        low, high = bounds
        outside = {name: value for name, value in values.items() if not low <= value <= high}
        if outside:
            raise ValueError(f"{what} must lie in [{low:g}, {high:g}], got {outside}")
    return json.dumps(values, allow_nan=False)


def _signals(record: FrameRecord) -> tuple[Any, ...]:
    """``valence, arousal, action_units, au_asymmetry, head_pose`` of a row, validated."""
    tolerance = PROBABILITY_TOLERANCE
    circumplex = []
    for what in ("valence", "arousal"):
        value = getattr(record, what)
        if value is not None:
            value = finite_number(value, what)
            if abs(value) > 1 + PROBABILITY_TOLERANCE:
                raise ValueError(f"{what} must lie in [-1, 1], got {value}")
            value = max(-1.0, min(1.0, value))
        circumplex.append(value)
    for what in ("action_units", "au_asymmetry"):
        units = getattr(record, what)
        # Each becomes a column when frames are loaded (AU12, asym_AU12): only FACS codes, so
        # that no key can take the name of another column.
        if isinstance(units, dict):
            odd = [key for key in units if isinstance(key, str) and not FACS_CODE.fullmatch(key)]
            if odd:
                raise ValueError(f"{what} must be keyed by FACS codes (AU1, AU12 ...), got {odd}")
    if record.head_pose is not None and (
        not isinstance(record.head_pose, dict) or set(record.head_pose) != set(HEAD_POSE_AXES)
    ):
        raise ValueError(f"head_pose must be a dict of {', '.join(HEAD_POSE_AXES)} in degrees")
    return (
        *circumplex,
        _scores_json(record.action_units, "action_units", (-tolerance, 1 + tolerance)),
        _scores_json(record.au_asymmetry, "au_asymmetry", (-1 - tolerance, 1 + tolerance)),
        _scores_json(record.head_pose, "head_pose", (-360.0, 360.0)),
    )


def validate_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise ValueError(f"classes must be a non-empty list of emotion names, got {classes!r}")
    names = tuple(classes)
    unknown = [name for name in names if name not in EMOTIONS]
    if unknown:
        raise ValueError(f"classes {unknown} are not known emotions ({', '.join(EMOTIONS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"classes repeat a name: {list(names)}")
    return names


# --- the store --------------------------------------------------------------------------------


MAX_ID = 2**63 - 1  # the largest id either database stores


def positive_id(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if value > MAX_ID:
        raise ValueError(f"{what} {value} is larger than any stored id")
    return int(value)
