"""The FHIR form of a session report: what a health record files under the client, and how
far each figure can be trusted, in resources that validate against fhir.resources."""

from __future__ import annotations

import pytest

from tests.reporting.helpers import bundle_of, reading, recorded_session, resources


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
    from fer.reporting.fhir import CLIENT_CODE_SYSTEM

    frames = [reading(step / 2, "happy") for step in range(4)]
    (tmp_path / "coded").mkdir()
    (tmp_path / "uncoded").mkdir()
    coded = bundle_of(*recorded_session(tmp_path / "coded", frames, client_code="C-7"))
    (patient,) = resources(coded, "Patient")
    assert patient["identifier"] == [{"system": CLIENT_CODE_SYSTEM, "value": "C-7"}]
    uncoded = bundle_of(*recorded_session(tmp_path / "uncoded", frames, client_code=None))
    (patient,) = resources(uncoded, "Patient")
    (identifier,) = patient["identifier"]
    assert identifier["system"] != CLIENT_CODE_SYSTEM and "consent" in identifier["system"]
