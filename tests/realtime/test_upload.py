"""Analysing an uploaded picture: faces beyond the limit are reported, not dropped silently,
and a picture without a findable face says why faces may be missed."""

import cv2
import numpy as np
import pytest

from fer.realtime.upload import NO_FACE_MESSAGE, analyse_image
from tests.conftest import SHARED_VIDEO as VIDEO_NAME
from tests.realtime.test_pipeline import FakeModel


@pytest.fixture(scope="module")
def face_tile(video_data_dir):
    """One face from the shared video with some context, as a square BGR tile."""
    from fer.realtime.faces import LandmarkerDetector
    from fer.realtime.video import iter_frames

    _, _, frame = next(iter(iter_frames(video_data_dir / VIDEO_NAME, stride=1, max_frames=1)))
    detector = LandmarkerDetector(video_data_dir / "face_landmarker.task", mode="image")
    (face,) = detector.detect(frame)
    detector.close()
    x, y, width, height = face.bbox
    side = int(max(width, height) * 1.8)
    centre_x, centre_y = x + width // 2, y + height // 2
    padded = cv2.copyMakeBorder(frame, side, side, side, side, cv2.BORDER_REPLICATE)
    top, left = centre_y + side - side // 2, centre_x + side - side // 2
    return video_data_dir / "face_landmarker.task", padded[top : top + side, left : left + side]


def png(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


@pytest.mark.data
def test_faces_beyond_the_limit_are_reported(face_tile):
    landmarker, tile = face_tile
    grid = np.vstack([np.hstack([tile] * 3)] * 3)
    analysis = analyse_image(png(grid), FakeModel(), 0.4, max_faces=8, landmarker_path=landmarker)
    assert len(analysis.records) == 8
    assert len(analysis.notes) == 1 and "more than 8 faces" in analysis.notes[0]
    within = analyse_image(png(grid), FakeModel(), 0.4, max_faces=9, landmarker_path=landmarker)
    assert len(within.records) == 9 and within.notes == ()


@pytest.mark.data
def test_no_face_explains_that_small_faces_are_missed(face_tile):
    landmarker, tile = face_tile
    small = cv2.resize(tile, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    canvas = np.full((tile.shape[0], tile.shape[1], 3), 128, np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small
    with pytest.raises(ValueError) as error:
        analyse_image(png(canvas), FakeModel(), 0.4, max_faces=4, landmarker_path=landmarker)
    assert str(error.value) == NO_FACE_MESSAGE
    assert "smaller than about a fifth" in NO_FACE_MESSAGE


@pytest.mark.data
def test_a_cut_off_video_is_saved_with_a_note_of_what_is_missing(video_data_dir):
    """The upload page once saved the first eighth of a cut-off video as the session without
    a word; fer analyze said so, the page did not."""
    from fer.realtime.smoothing import SmoothingConfig
    from fer.realtime.upload import analyse_video_bytes

    data = (video_data_dir / VIDEO_NAME).read_bytes()
    common = dict(model=FakeModel(), smoothing=SmoothingConfig(), stride=30, max_faces=1,
                  landmarker_path=video_data_dir / "face_landmarker.task")
    whole = analyse_video_bytes(data, "whole.mp4", **common)
    assert whole.notes == ()
    cut = analyse_video_bytes(data[:200_000], "cut.mp4", **common)
    (note,) = cut.notes
    assert note.startswith("cut.mp4: only ") and "ends early or is damaged" in note
    assert cut.n_frames < whole.n_frames
