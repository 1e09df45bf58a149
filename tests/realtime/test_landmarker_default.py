"""Which face detector ``EmotionRecognizer`` opens when no ``landmarker_path`` is given.

The README tells users to put ``face_landmarker.task`` in ``$FER_DATA_DIR``; the default must
find it there, and a fall-back to the Haar cascade must be logged, not only stored.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

import fer.config
from fer.config import FACE_LANDMARKER_NAME
from fer.emotions import FERPLUS
from fer.realtime.pipeline import EmotionRecognizer

FACES_LOGGER = "fer.realtime.faces"


class FakeModel:
    """Stands in for EmotionModel: these tests are about the detector, not the model."""

    classes = list(FERPLUS.names)

    def predict(self, faces, tta=False):
        return np.full((len(faces), len(self.classes)), 1 / len(self.classes), np.float32)


@pytest.fixture
def empty_clone_data(monkeypatch, tmp_path) -> Path:
    """The clone's ``data/`` replaced by an empty folder, whatever a developer keeps there."""
    folder = tmp_path / "clone-data"
    folder.mkdir()
    monkeypatch.setattr(fer.config, "LOCAL_DATA_DIR", folder)
    return folder


@pytest.fixture
def shared_bundle() -> Path:
    """The real bundle from the shared ``$FER_DATA_DIR``; skips when it is not there."""
    data_dir = fer.config.data_dir_from_env(required=False)
    bundle = None if data_dir is None else fer.config.find_face_landmarker(data_dir)
    if bundle is None:
        pytest.skip(f"{FACE_LANDMARKER_NAME} is not in FER_DATA_DIR")
    return bundle


def fallback_records(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == FACES_LOGGER and record.levelno == logging.WARNING
    ]


@pytest.mark.data
def test_default_finds_the_bundle_in_fer_data_dir(
    monkeypatch, tmp_path, empty_clone_data, shared_bundle, caplog
):
    user_data = tmp_path / "user-data"
    user_data.mkdir()
    (user_data / FACE_LANDMARKER_NAME).symlink_to(shared_bundle)
    monkeypatch.setenv(fer.config.DATA_DIR_ENV, str(user_data))

    recognizer = EmotionRecognizer(model=FakeModel())
    assert recognizer.landmarker_path is None  # the constructor stores the argument as given
    assert recognizer.detector_warning is None
    with caplog.at_level(logging.WARNING, logger=FACES_LOGGER):
        recognizer.load()
    try:
        assert recognizer.detector_kind == "mediapipe"
        assert recognizer.detector_warning is None
        assert fallback_records(caplog) == []
    finally:
        recognizer.close()


def test_no_bundle_anywhere_warns_and_falls_back(monkeypatch, tmp_path, empty_clone_data, caplog):
    user_data = tmp_path / "user-data"
    user_data.mkdir()
    monkeypatch.setenv(fer.config.DATA_DIR_ENV, str(user_data))

    recognizer = EmotionRecognizer(model=FakeModel())
    with caplog.at_level(logging.WARNING, logger=FACES_LOGGER):
        assert recognizer.process(np.full((120, 160, 3), 90, np.uint8), 0.0) == []
    assert recognizer.detector_kind == "haar"
    (record,) = fallback_records(caplog)
    message = record.getMessage()
    assert "Haar" in message and FACE_LANDMARKER_NAME in message
    # It says where it looked: the user's FER_DATA_DIR, then the clone's data/.
    assert str(user_data) in message and str(empty_clone_data) in message
    assert recognizer.detector_warning == message


def test_unset_fer_data_dir_names_the_clone_folder(monkeypatch, empty_clone_data, caplog):
    monkeypatch.delenv(fer.config.DATA_DIR_ENV, raising=False)
    recognizer = EmotionRecognizer(model=FakeModel())
    assert str(empty_clone_data) in recognizer.detector_warning  # before loading, too
    with caplog.at_level(logging.WARNING, logger=FACES_LOGGER):
        recognizer.load()
    assert recognizer.detector_kind == "haar"
    (record,) = fallback_records(caplog)
    assert str(empty_clone_data) in record.getMessage() and "FER_DATA_DIR" in record.getMessage()


def test_an_explicit_path_wins_over_fer_data_dir(monkeypatch, tmp_path, caplog):
    user_data = tmp_path / "user-data"
    user_data.mkdir()
    (user_data / FACE_LANDMARKER_NAME).write_bytes(b"would be found by the default")
    monkeypatch.setenv(fer.config.DATA_DIR_ENV, str(user_data))
    missing = tmp_path / "elsewhere" / FACE_LANDMARKER_NAME

    recognizer = EmotionRecognizer(model=FakeModel(), landmarker_path=missing)
    with caplog.at_level(logging.WARNING, logger=FACES_LOGGER):
        recognizer.load()
    assert recognizer.detector_kind == "haar"
    (record,) = fallback_records(caplog)
    assert str(missing) in record.getMessage()


def test_a_bundle_that_does_not_load_warns_and_falls_back(
    monkeypatch, tmp_path, empty_clone_data, caplog
):
    user_data = tmp_path / "user-data"
    user_data.mkdir()
    broken = user_data / FACE_LANDMARKER_NAME
    broken.write_bytes(b"not a MediaPipe bundle")
    monkeypatch.setenv(fer.config.DATA_DIR_ENV, str(user_data))

    recognizer = EmotionRecognizer(model=FakeModel())
    with caplog.at_level(logging.WARNING, logger=FACES_LOGGER):
        recognizer.load()
    assert recognizer.detector_kind == "haar"
    (record,) = fallback_records(caplog)
    assert "could not be loaded" in record.getMessage() and str(broken) in record.getMessage()
    assert recognizer.detector_warning == record.getMessage()
