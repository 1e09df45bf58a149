"""A client across sessions: one row of figures per session, for a Client history page.

Built from each session's frame table by :func:`fer.sessions.insights.session_insights`, so a
trend shows the same figures as each session's own insights, with the same caveats: they
describe what the software read from the face, never what the person felt. A session may show
more than one face (a relative in the picture); the face seen longest is taken as the client's
(:func:`fer.sessions.insights.client_face`).

Rows are keyed by session and date (the day the session started on the local clock, as the pages
show it) only; the client is known by the pseudonymous code the caller asked for, and no name
enters this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from fer.sessions.insights import InsightsConfig, client_face, session_insights

TREND_COLUMNS = (
    "session_id",
    "started_at",
    "date",
    "duration_s",
    "n_frames",
    "most_frequent",
    "valence_mean",
    "arousal_mean",
    "expressivity_index",
    "flat_affect_indicated",
)
SHARE_PREFIX = "share_"
ABOUT = (
    "One row per session: the share of time of each expression, mean valence and arousal and "
    "the expressivity index of the face seen longest. Descriptive figures to compare sessions; "
    "differences between sessions also come from lighting, camera and setting."
)


def _mean(frames: pd.DataFrame, column: str) -> float | None:
    if column not in frames:
        return None
    value = pd.to_numeric(frames[column], errors="coerce").mean()
    return None if pd.isna(value) else round(float(value), 4)


def session_trend_row(
    session: Any, frames: pd.DataFrame, config: InsightsConfig | None = None
) -> dict[str, Any]:
    """The trend figures of one session (``session`` has ``id`` and ``started_at``)."""
    row: dict[str, Any] = {
        "session_id": int(session.id),
        "started_at": session.started_at,
        # The pages show a session's start on the local clock; a UTC day would be another day.
        "date": session.started_at.astimezone().date(),
        "duration_s": 0.0,
        "n_frames": 0,
        "most_frequent": None,
        "valence_mean": None,
        "arousal_mean": None,
        "expressivity_index": None,
        "flat_affect_indicated": None,
    }
    if frames.empty:
        return row
    face = client_face(session_insights(frames, config=config)["faces"])
    if face is None:
        return row
    own = frames[frames["track_id"] == face["track_id"]]
    row.update(
        duration_s=face["duration_s"],
        n_frames=face["n_frames"],
        most_frequent=face["most_frequent"],
        valence_mean=_mean(own, "valence"),
        arousal_mean=_mean(own, "arousal"),
        expressivity_index=None if face["expressivity"] is None else face["expressivity"]["index"],
        flat_affect_indicated=(
            None if face["flat_affect"] is None else face["flat_affect"]["indicated"]
        ),
    )
    row.update({f"{SHARE_PREFIX}{name}": share for name, share in face["time_share"].items()})
    return row


def client_trends(
    frames_by_session: Mapping[Any, pd.DataFrame] | Iterable[tuple[Any, pd.DataFrame]],
    config: InsightsConfig | None = None,
) -> pd.DataFrame:
    """A client's sessions as a table, oldest first.

    ``frames_by_session`` pairs each session record (``SessionInfo``: ``id``, ``started_at``)
    with its frame table (``SessionStore.load_frames``), as a mapping or as pairs. Columns:
    :data:`TREND_COLUMNS`, then ``share_<expression>`` per expression seen in any session (0
    where a session did not show it).
    """
    pairs = frames_by_session.items() if isinstance(frames_by_session, Mapping) else (
        frames_by_session
    )
    rows = [session_trend_row(session, frames, config) for session, frames in pairs]
    table = pd.DataFrame(rows, columns=None if rows else list(TREND_COLUMNS))
    shares = sorted(c for c in table.columns if c.startswith(SHARE_PREFIX))
    table[shares] = table[shares].fillna(0.0)
    table = table.reindex(columns=[*TREND_COLUMNS, *shares])
    return table.sort_values(["started_at", "session_id"], ignore_index=True)
