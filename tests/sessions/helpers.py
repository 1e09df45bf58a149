"""Shared builders for the session store tests: pipeline-shaped results, frame records, counts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import sqlalchemy

from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore

CLASSES = ("neutral", "happy", "sad")


SIGNALS = {
    "valence": 0.5,
    "arousal": -0.25,
    "action_units": {"AU1": 0.125, "AU4": 0.0, "AU12": 0.75, "AU43": 0.5},
    "au_asymmetry": {"AU4": -0.0625, "AU12": 0.25},
    "head_pose": {"yaw": 12.5, "pitch": -3.0, "roll": 0.5},
}


def face_result(
    track_id: int = 0, top: int = 1, landmarks: bool = True, signals: bool = False
) -> SimpleNamespace:
    """Shaped like the pipeline's FaceResult (the recorder reads it by attribute); with
    ``signals`` it carries :data:`SIGNALS` (valence and arousal alone without landmarks)."""
    probs = np.full(len(CLASSES), 0.1, np.float32)
    probs[top] = 1 - 0.1 * (len(CLASSES) - 1)
    extra = {}
    if signals:
        extra = dict(SIGNALS) if landmarks else {
            "valence": SIGNALS["valence"], "arousal": SIGNALS["arousal"],
            "action_units": None, "au_asymmetry": None, "head_pose": None,
        }
    return SimpleNamespace(
        **extra,
        track_id=track_id,
        bbox=(10, 20, 30, 40),
        probs=probs,
        smoothed=probs * 0.5 + 0.5 / len(CLASSES),
        label=CLASSES[top],
        confidence=float(probs[top]),
        landmarks=(
            np.linspace(0, 1, 478 * 2, dtype=np.float32).reshape(478, 2) if landmarks else None
        ),
        blendshapes={"mouthSmileLeft": 0.75, "browInnerUp": 0.125} if landmarks else None,
    )


def record(t_seconds: float = 0.5, **changes) -> FrameRecord:
    base = FrameRecord.from_result(t_seconds, face_result())
    return FrameRecord(**{**base.__dict__, **changes})


def count(store: SessionStore, table: str) -> int:
    """Rows in ``table``, read past the store (any backend)."""
    with store.engine.connect() as connection:
        return connection.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar_one()


def forget_deleted_session_ids(location) -> None:
    """Make a SQLite database give the newest deleted session's id again, as databases did
    before schema revision r0006 (whose ids deleted then are not known): for tests of what
    must hold when an id was reused."""
    import sqlite3

    with sqlite3.connect(location) as connection:
        connection.execute("DELETE FROM session_ids_deleted")


def audit_entries(location) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, detail) of every audit entry at ``location``, oldest first."""
    from fer.accounts import AuditLog

    rows = AuditLog(location).entries().iloc[::-1].itertuples(index=False)
    return [(row.actor, row.action, row.target, row.detail) for row in rows]
