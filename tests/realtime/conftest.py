"""Fixtures of the `fer analyze` tests: the stand-in pipeline and a folder of media."""

import cv2
import numpy as np
import pytest

from tests.realtime.analysis_fakes import FakeModel, FakeRecognizer


@pytest.fixture
def fake_pipeline(monkeypatch):
    monkeypatch.setattr("fer.models.inference.load_model", lambda name: FakeModel())
    monkeypatch.setattr("fer.realtime.pipeline.EmotionRecognizer", FakeRecognizer)


@pytest.fixture
def media(tmp_path):
    """face.png and a six-frame clip.avi (two faces each frame), white.png (none)."""
    folder = tmp_path / "media"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.png"), np.full((60, 80, 3), 90, np.uint8))
    cv2.imwrite(str(folder / "white.png"), np.full((60, 80, 3), 255, np.uint8))
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (80, 60))
    for _ in range(6):
        writer.write(np.full((60, 80, 3), 90, np.uint8))
    writer.release()
    return folder
