"""``POST /v1/analyze`` gives the Python API's numbers for the same image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer.accounts import AuditLog
from tests.conftest import SHARED_VIDEO

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def face_png(video_data_dir) -> bytes:
    """A frame of the shared video (one face), PNG-encoded so decoding gives it back exactly."""
    from fer.realtime.video import iter_frames

    _, _, frame_bgr = next(iter(iter_frames(video_data_dir / SHARED_VIDEO, stride=30,
                                            max_frames=1)))
    ok, encoded = cv2.imencode(".png", frame_bgr)
    assert ok
    return encoded.tobytes()


def python_api_faces(png: bytes):
    from fer import EmotionRecognizer, load_model
    from fer.realtime.pipeline import DEFAULT_MODEL
    from fer.realtime.smoothing import SmoothingConfig

    frame_bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    # An image has no history: the settings of `fer analyze` for images.
    recognizer = EmotionRecognizer(
        model=load_model(DEFAULT_MODEL), smoothing=SmoothingConfig(method="none", min_dwell_s=0)
    )
    try:
        return recognizer.classes, recognizer.process(frame_bgr, 0.0)
    finally:
        recognizer.close()


def test_rest_and_python_agree_on_a_real_face(client, world, face_png):
    response = client.post("/v1/analyze", headers=world.headers("dr.a"),
                           files={"file": ("frame.png", face_png, "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    classes, expected = python_api_faces(face_png)
    from fer.realtime.pipeline import DEFAULT_MODEL  # what the API serves without a model

    assert body["model"] == DEFAULT_MODEL and body["classes"] == classes
    assert body["detector_warning"] is None
    assert len(body["faces"]) == len(expected) == 1
    face, result = body["faces"][0], expected[0]
    assert face["bbox"] == list(result.bbox) and face["track_id"] == result.track_id
    assert face["label"] == result.label
    assert face["confidence"] == pytest.approx(result.confidence, abs=1e-6)
    assert list(face["probs"]) == classes
    np.testing.assert_allclose(list(face["probs"].values()), result.probs, atol=1e-6)
    assert face["valence"] == pytest.approx(result.valence, abs=1e-6)
    assert face["arousal"] == pytest.approx(result.arousal, abs=1e-6)
    assert face["action_units"].keys() == result.action_units.keys()
    for name, value in result.action_units.items():
        assert face["action_units"][name] == pytest.approx(value, abs=1e-6)
    for name, value in result.head_pose.items():
        assert face["head_pose"][name] == pytest.approx(value, abs=1e-6)
    assert face["overexposed"] is result.overexposed is False
    (entry,) = AuditLog(world.database).entries().to_dict("records")
    assert (entry["actor"], entry["action"]) == ("dr.a", "analyze_image")


def test_an_image_without_a_face_gives_no_faces(client, world, video_data_dir):
    ok, encoded = cv2.imencode(".jpg", np.full((120, 160, 3), 200, np.uint8))
    response = client.post("/v1/analyze", headers=world.headers("service"),
                           files={"file": ("blank.jpg", encoded.tobytes(), "image/jpeg")})
    assert response.status_code == 200
    assert response.json()["faces"] == []


def test_requests_waiting_for_the_model_hold_no_decoded_image(monkeypatch):
    """One upload at a time is decoded; waiting requests keep only their (bounded) bytes."""
    import threading
    import time

    import fer.realtime.upload
    from fer.api.analysis import Analyser

    decoding = 0
    most_at_once = 0
    counter_lock = threading.Lock()

    def slow_decode(data, *args, **kwargs):
        nonlocal decoding, most_at_once
        with counter_lock:
            decoding += 1
            most_at_once = max(most_at_once, decoding)
        time.sleep(0.2)
        with counter_lock:
            decoding -= 1
        raise ValueError("not an image")

    monkeypatch.setattr(fer.realtime.upload, "decode_image", slow_decode)
    analyser = Analyser(None)
    errors: list[str] = []

    def upload() -> None:
        try:
            analyser.analyse(b"bytes", 1)
        except ValueError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["not an image"] * 4
    assert most_at_once == 1
    assert analyser._model is None  # an unusable file never loads the model
