"""A recorded session as files for other software: the frames table as CSV, everything as JSON."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

from fer.sessions.records import SessionInfo
from fer.sessions.schema import ASYMMETRY_PREFIX, HEAD_POSE_AXES


def frames_csv(frame: pd.DataFrame, session_id: int) -> str:
    """CSV text of a session's frames (from ``SessionStore.load_frames(...,
    include_extras=True)``).

    A ``session_id`` column comes first; the signals keep their columns (``valence, arousal``,
    ``AU<n>``, ``yaw, pitch, roll``, ``asym_AU<n>``; empty where a frame has none); blendshape
    scores become ``blendshape_<name>`` columns; landmarks are left to the JSON export.
    """
    blendshapes = pd.DataFrame(
        [value or {} for value in frame["blendshapes"]], index=frame.index
    ).add_prefix("blendshape_")
    frame = pd.concat([frame.drop(columns=["landmarks", "blendshapes"]), blendshapes], axis=1)
    frame.insert(0, "session_id", session_id)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _flag(value: Any) -> bool | None:
    return None if value is None or pd.isna(value) else bool(value)


def _signal_object(row: dict[str, Any], columns: dict[str, str]) -> dict[str, float] | None:
    """The signal columns of one frame (JSON key -> column) as an object; None when all are
    empty (a face without landmarks)."""
    values = {key: _number(row[column]) for key, column in columns.items()}
    present = {key: value for key, value in values.items() if value is not None}
    return present or None


def session_json(
    info: SessionInfo,
    frame: pd.DataFrame,
    include_landmarks: bool = True,
    markers: pd.DataFrame | None = None,
) -> str:
    """A JSON document ``{"session": …, "frames": […], "markers": […]}`` of a session, its
    frames (with their signals) and its clinician markers."""
    unit_columns = {c: c for c in frame.columns if c.startswith("AU") and c[2:].isdigit()}
    asymmetry_columns = {
        c[len(ASYMMETRY_PREFIX) :]: c for c in frame.columns if c.startswith(ASYMMETRY_PREFIX)
    }
    pose_columns = {axis: axis for axis in HEAD_POSE_AXES if axis in frame.columns}
    records = []
    for row in frame.to_dict("records"):
        item = {
            "t_seconds": row["t_seconds"],
            "track_id": row["track_id"],
            "bbox": [row["x"], row["y"], row["w"], row["h"]],
            "label": row["label"],
            "confidence": row["confidence"],
            "probs": {name: row[f"prob_{name}"] for name in info.classes},
            "smoothed": {name: row[f"smoothed_{name}"] for name in info.classes},
            "blendshapes": row["blendshapes"],
            "valence": _number(row.get("valence")),
            "arousal": _number(row.get("arousal")),
            "action_units": _signal_object(row, unit_columns),
            "au_asymmetry": _signal_object(row, asymmetry_columns),
            "head_pose": _signal_object(row, pose_columns),
            "clipped_share": _number(row.get("clipped_share")),
            "overexposed": _flag(row.get("overexposed")),
        }
        if include_landmarks:
            landmarks = row["landmarks"]
            item["landmarks"] = (
                None if landmarks is None else np.round(landmarks.astype(np.float64), 6).tolist()
            )
        records.append(item)
    marks = [] if markers is None else [
        {
            "t_seconds": float(marker.t_seconds),
            "note": str(marker.note),
            "created_by": None if pd.isna(marker.created_by) else int(marker.created_by),
            "created_at": marker.created_at.isoformat(),
        }
        for marker in markers.itertuples(index=False)
    ]
    document = {"session": info.as_json_dict(), "frames": records, "markers": marks}
    return json.dumps(document, allow_nan=False)
