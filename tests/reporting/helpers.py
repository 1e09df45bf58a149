"""Recorded sessions for the report's tests: one model (fer2013, installed with the repository),
frames of given labels, and the FHIR form of their report, validated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fer.reporting.document import session_report
from fer.sessions.records import FrameRecord
from fer.sessions.store import SessionStore
from tests.research_fixtures import CLASSES


def reading(t_seconds: float, label: str, track_id: int = 0) -> FrameRecord:
    probs = np.full(len(CLASSES), 0.05, np.float32)
    if label in CLASSES:  # "uncertain" names no class: no probability stands out
        probs[CLASSES.index(label)] = 0.7
    return FrameRecord(t_seconds=t_seconds, track_id=track_id, bbox=(0, 0, 48, 48), probs=probs,
                       smoothed=probs, label=label, confidence=0.7)


def recorded_session(
    tmp_path: Path, frames: list[FrameRecord], ended: bool = True, client_code: str | None = "C-7",
    started: datetime | None = None,
) -> tuple[SessionStore, int]:
    store = SessionStore(tmp_path / "sessions.db")
    started = started or datetime.now(UTC) - timedelta(hours=1)
    consent = store.record_consent("Dana Client", client_code=client_code,
                                   given_at=started - timedelta(minutes=1))
    session_id = store.create_session(
        consent.id, "fer2013", CLASSES, "video", frames=frames, started_at=started,
        ended_at=started + timedelta(minutes=50) if ended else None,
    )
    return store, session_id


def bundle_of(store: SessionStore, session_id: int) -> dict:
    from fhir.resources.R4B.bundle import Bundle

    bundle = json.loads(session_report(store, session_id, "fhir"))
    Bundle.model_validate(bundle)
    return bundle


def resources(bundle: dict, kind: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"]
            if entry["resource"]["resourceType"] == kind]
