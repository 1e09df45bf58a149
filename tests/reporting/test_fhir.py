"""The FHIR form of a session report: what a health record files under the client, and how
far each figure can be trusted, in resources that validate against fhir.resources."""

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
    probs[CLASSES.index(label)] = 0.7
    return FrameRecord(t_seconds=t_seconds, track_id=track_id, bbox=(0, 0, 48, 48), probs=probs,
                       smoothed=probs, label=label, confidence=0.7)


def recorded_session(
    tmp_path: Path, frames: list[FrameRecord], ended: bool = True, client_code: str | None = "C-7"
) -> tuple[SessionStore, int]:
    store = SessionStore(tmp_path / "sessions.db")
    started = datetime.now(UTC) - timedelta(hours=1)
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


def share_observation(bundle: dict, emotion: str) -> dict:
    (observation,) = [o for o in resources(bundle, "Observation")
                      if o["code"]["text"].endswith(f"share of time, {emotion}")]
    return observation


def test_a_share_of_an_unreliable_expression_carries_the_card_s_warning(tmp_path):
    from fer.config import MODELS_DIR
    from fer.models.reliability import model_reliability

    unreliable = model_reliability(MODELS_DIR / "fer2013")  # the session's model
    assert "sad" in unreliable and "happy" not in unreliable
    frames = [reading(step / 2, "sad" if step < 10 else "happy") for step in range(20)]
    bundle = bundle_of(*recorded_session(tmp_path, frames))
    sad = [note["text"] for note in share_observation(bundle, "sad")["note"]]
    assert f"Read with caution: unreliable: {unreliable['sad']}" in sad
    happy = [note["text"] for note in share_observation(bundle, "happy")["note"]]
    assert not any("unreliable" in text for text in happy)


def test_only_the_client_s_face_is_filed_under_the_patient(tmp_path):
    client = [reading(step / 2, "happy", track_id=0) for step in range(40)]
    relative = [reading(5 + step / 2, "sad", track_id=3) for step in range(10)]
    bundle = bundle_of(*recorded_session(tmp_path, client + relative))
    (patient,) = resources(bundle, "Patient")
    observations = resources(bundle, "Observation")
    assert observations
    for observation in observations:
        assert observation["code"]["text"].startswith("Face 0: "), observation["code"]
        assert observation["subject"]["reference"] == f"urn:uuid:{patient['id']}"
    (document,) = resources(bundle, "DocumentReference")
    assert "Face 3 was not filed under the client" in document["description"]


def test_one_face_gets_no_sentence_about_faces_left_out(tmp_path):
    bundle = bundle_of(*recorded_session(tmp_path, [reading(s / 2, "happy") for s in range(8)]))
    (document,) = resources(bundle, "DocumentReference")
    assert "not filed" not in document["description"]
