"""The FHIR form of a session report: what a health record files under the client, and how
far each figure can be trusted, in resources that validate against fhir.resources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.reporting.helpers import bundle_of, reading, recorded_session, resources
from tests.research_fixtures import CLASSES


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


def test_a_face_that_stays_happy_between_uncertain_moments_changed_nothing(tmp_path):
    labels = ["happy"] * 20 + ["uncertain"] * 2 + ["happy"] * 20 + ["uncertain"] * 2 + ["happy"]
    frames = [reading(step / 2, label) for step, label in enumerate(labels)]
    bundle = bundle_of(*recorded_session(tmp_path, frames))
    (changes,) = [o for o in resources(bundle, "Observation") if "changes" in o["code"]["text"]]
    assert changes["valueQuantity"]["value"] == 0
    assert "uncertain stretches skipped" in changes["code"]["text"]


@pytest.mark.parametrize(("ended", "status"), [(False, "preliminary"), (True, "final")])
def test_the_figures_of_a_session_still_open_are_preliminary(tmp_path, ended, status):
    frames = [reading(step / 2, "happy") for step in range(8)]
    bundle = bundle_of(*recorded_session(tmp_path, frames, ended=ended))
    assert {o["status"] for o in resources(bundle, "Observation")} == {status}
    (document,) = resources(bundle, "DocumentReference")
    assert document["docStatus"] == status


def test_a_consent_record_s_number_is_never_given_as_a_client_code(tmp_path):
    from fer.reporting.fhir import client_code_system

    frames = [reading(step / 2, "happy") for step in range(4)]
    (tmp_path / "coded").mkdir()
    (tmp_path / "uncoded").mkdir()
    store, session_id = recorded_session(tmp_path / "coded", frames, client_code="C-7")
    (patient,) = resources(bundle_of(store, session_id), "Patient")
    system = client_code_system(store.installation_id())
    assert patient["identifier"] == [{"system": system, "value": "C-7"}]
    store, session_id = recorded_session(tmp_path / "uncoded", frames, client_code=None)
    (patient,) = resources(bundle_of(store, session_id), "Patient")
    (identifier,) = patient["identifier"]
    assert identifier["system"] != client_code_system(store.installation_id())
    assert "consent" in identifier["system"]


def resource_ids(bundle: dict) -> dict[str, set[str]]:
    """The ids of a bundle's resources by kind, the Bundle's own included."""
    ids: dict[str, set[str]] = {"Bundle": {bundle["id"]}}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        ids.setdefault(resource["resourceType"], set()).add(resource["id"])
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    return ids


def clinic_bundles(folder, started) -> list[dict]:
    """One clinic's database, as every new one starts: consent 1 for client code "C-17" and
    consent 2 for a client without a code, one session each, both begun at ``started``."""
    frames = [reading(step / 2, "happy" if step % 3 else "sad") for step in range(12)]
    folder.mkdir()
    store, coded = recorded_session(folder, frames, client_code="C-17", started=started)
    consent = store.record_consent("Kim Client", given_at=started)
    uncoded = store.create_session(consent.id, "fer2013", CLASSES, "video", frames=frames,
                                   started_at=started, ended_at=started + timedelta(minutes=50))
    assert (coded, uncoded) == (1, 2) and consent.id == 2
    return [bundle_of(store, coded), bundle_of(store, uncoded)]


def test_two_clinics_with_the_same_numbers_and_codes_share_no_resource(tmp_path):
    started = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    clinics = [clinic_bundles(tmp_path / name, started) for name in ("clinic-a", "clinic-b")]
    for first, second in zip(*clinics, strict=True):
        mine, theirs = resource_ids(first), resource_ids(second)
        assert set(mine) == set(theirs) == {
            "Bundle", "Patient", "Consent", "Observation", "DocumentReference"
        }
        for kind in mine:
            assert not mine[kind] & theirs[kind], kind
        # The same code and consent number, in each clinic's own system.
        (patient,), (other,) = resources(first, "Patient"), resources(second, "Patient")
        assert patient["identifier"][0]["value"] == other["identifier"][0]["value"]
        assert patient["identifier"][0]["system"] != other["identifier"][0]["system"]


def test_one_database_gives_the_same_ids_on_every_export(tmp_path):
    from fer.sessions.store import SessionStore
    from fer.storage.database import forget_engine

    started = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    first = clinic_bundles(tmp_path / "clinic", started)
    path = tmp_path / "clinic" / "sessions.db"
    forget_engine(path)
    store = SessionStore(path)  # reopened, as the next run of the app or `fer report` does
    again = [bundle_of(store, 1), bundle_of(store, 2)]
    for bundle, resent in zip(first, again, strict=True):
        assert resource_ids(bundle) == resource_ids(resent)
        assert resources(bundle, "Patient") == resources(resent, "Patient")
    # The two clients of the one clinic stay apart.
    (coded, uncoded) = (resource_ids(bundle) for bundle in first)
    assert not coded["Patient"] & uncoded["Patient"]
    assert not coded["Consent"] & uncoded["Consent"]
