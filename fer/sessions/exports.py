"""A recorded session as files for other software: the frames table as CSV, everything as JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from fer.sessions.records import SessionInfo


def frames_csv(frame: pd.DataFrame, session_id: int) -> str:
    """CSV text of a session's frames (from ``SessionStore.load_frames(...,
    include_extras=True)``).

    A ``session_id`` column comes first; blendshape scores become ``blendshape_<name>`` columns;
    landmarks are left to the JSON export.
    """
    blendshapes = pd.DataFrame(
        [value or {} for value in frame["blendshapes"]], index=frame.index
    ).add_prefix("blendshape_")
    frame = pd.concat([frame.drop(columns=["landmarks", "blendshapes"]), blendshapes], axis=1)
    frame.insert(0, "session_id", session_id)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def session_json(info: SessionInfo, frame: pd.DataFrame, include_landmarks: bool = True) -> str:
    """A JSON document ``{"session": …, "frames": […]}`` of a session and its frames."""
    records = []
    for row in frame.itertuples(index=False):
        item = {
            "t_seconds": row.t_seconds,
            "track_id": row.track_id,
            "bbox": [row.x, row.y, row.w, row.h],
            "label": row.label,
            "confidence": row.confidence,
            "probs": {name: getattr(row, f"prob_{name}") for name in info.classes},
            "smoothed": {name: getattr(row, f"smoothed_{name}") for name in info.classes},
            "blendshapes": row.blendshapes,
        }
        if include_landmarks:
            item["landmarks"] = (
                None
                if row.landmarks is None
                else np.round(row.landmarks.astype(np.float64), 6).tolist()
            )
        records.append(item)
    return json.dumps({"session": info.as_json_dict(), "frames": records}, allow_nan=False)
