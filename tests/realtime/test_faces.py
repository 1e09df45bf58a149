import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.realtime.alignment import FER2013_FRAMING, align_face
from fer.realtime.faces import HaarDetector, LandmarkerDetector, open_face_detector
from tests.conftest import SHARED_VIDEO as VIDEO_NAME

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def dark_blob_centres(gray: np.ndarray, threshold: int = 100) -> np.ndarray:
    """Centroids of dark connected regions, largest first."""
    n_labels, _, stats, centroids = cv2.connectedComponentsWithStats(
        (gray < threshold).astype(np.uint8)
    )
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
    return centroids[order]


def synthetic_tilted_face(angle_deg: float):
    """A light image with two dark eyes and a dark mouth, rotated by ``angle_deg``."""
    image = np.full((240, 240), 200, np.uint8)
    eyes = np.array([[90.0, 100.0], [150.0, 100.0]])
    # Put the mouth where FER2013 puts it relative to the eyes so both scale cues agree.
    mouth = np.array([120.0, 100.0 + 60.0 * FER2013_FRAMING.eye_mouth_distance
                      / FER2013_FRAMING.eye_distance])
    for x, y in eyes:
        cv2.circle(image, (int(x), int(y)), 7, 20, -1)
    cv2.ellipse(image, (int(mouth[0]), int(mouth[1])), (16, 5), 0, 0, 360, 20, -1)
    matrix = cv2.getRotationMatrix2D((120, 120), angle_deg, 1.0)
    rotated = cv2.warpAffine(image, matrix, (240, 240), borderValue=200)

    def move(points):
        return np.asarray(points) @ matrix[:, :2].T + matrix[:, 2]

    return rotated, move(eyes), move(mouth)


@pytest.mark.parametrize("angle_deg", [0.0, 25.0, -40.0])
def test_align_face_levels_the_eyes_and_matches_fer2013_framing(angle_deg):
    image, eyes, mouth = synthetic_tilted_face(angle_deg)
    crop = align_face(image, eyes=eyes, mouth=mouth)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    blobs = dark_blob_centres(crop)
    upper = sorted((c for c in blobs[:3] if c[1] < 30), key=lambda c: c[0])
    assert len(upper) == 2, blobs
    (left_x, left_y), (right_x, right_y) = upper
    assert abs(left_y - right_y) < 0.75  # level
    assert (left_y + right_y) / 2 == pytest.approx(FER2013_FRAMING.eye_mid_y, abs=0.75)
    assert (left_x + right_x) / 2 == pytest.approx(FER2013_FRAMING.eye_mid_x, abs=0.75)
    assert right_x - left_x == pytest.approx(FER2013_FRAMING.eye_distance, abs=1.0)


def test_align_face_from_landmarks_equals_eye_points_and_accepts_bgr():
    image, eyes, mouth = synthetic_tilted_face(15.0)
    landmarks = np.full((478, 2), 0.5, np.float32)
    landmarks[[33, 133]] = eyes[0] / 240
    landmarks[[362, 263]] = eyes[1] / 240
    landmarks[[61, 291]] = mouth / 240
    from_points = align_face(image, eyes=eyes, mouth=mouth)
    from_landmarks = align_face(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), landmarks)
    assert np.abs(from_points.astype(int) - from_landmarks).max() <= 2


def test_align_face_from_bbox_uses_fer2013_box_framing():
    image = np.zeros((300, 400), np.uint8)
    cv2.rectangle(image, (100, 50), (199, 149), 255, -1)  # a 100×100 "face box"
    crop = align_face(image, bbox=(100, 50, 100, 100))
    rows, cols = np.nonzero(crop > 127)
    assert cols.max() - cols.min() + 1 == pytest.approx(FER2013_FRAMING.box_size, abs=1.5)
    assert (cols.max() + cols.min() + 1) / 2 == pytest.approx(FER2013_FRAMING.box_centre_x, abs=1)
    assert (rows.max() + rows.min() + 1) / 2 == pytest.approx(FER2013_FRAMING.box_centre_y, abs=1)


def test_align_face_rejects_bad_input():
    image = np.zeros((100, 100), np.uint8)
    with pytest.raises(ValueError, match="needs landmarks"):
        align_face(image)
    with pytest.raises(ValueError, match="uint8"):
        align_face(image.astype(np.float32), bbox=(0, 0, 50, 50))
    with pytest.raises(ValueError, match="coincide"):
        align_face(image, eyes=[[10, 10], [10, 10]])


def test_missing_landmarker_falls_back_to_haar_with_a_warning(tmp_path):
    detector, warning = open_face_detector(tmp_path / "face_landmarker.task", max_faces=2)
    assert isinstance(detector, HaarDetector) and detector.kind == "haar"
    assert "Haar" in warning and str(tmp_path) in warning
    assert detector.detect(np.full((120, 160, 3), 128, np.uint8)) == []
    # A very wide, thin frame once shrank to zero rows and raised an unclear cv2.error.
    assert detector.detect(np.full((8, 6000, 3), 128, np.uint8)) == []
    _, warning_without_path = open_face_detector(None)
    assert "face_landmarker.task" in warning_without_path


# --- with the real data ------------------------------------------------------------------


@pytest.fixture(scope="module")
def video_detections(video_data_dir):
    """(frame, faces) for every 8th frame of the shared video (59 frames), VIDEO mode."""
    from fer.realtime.video import iter_frames

    detector = LandmarkerDetector(video_data_dir / "face_landmarker.task", max_faces=2)
    frames = [
        (frame, detector.detect(frame, t_s))
        for _, t_s, frame in iter_frames(video_data_dir / VIDEO_NAME, stride=8)
    ]
    detector.close()
    return frames


@pytest.mark.data
def test_landmarker_finds_the_face_on_at_least_99_percent_of_frames(video_detections):
    found = [len(faces) for _, faces in video_detections]
    assert len(found) >= 50
    assert np.mean([n >= 1 for n in found]) >= 0.99
    assert max(found) == 1  # one woman in the clip: no phantom second face
    face = next(faces[0] for _, faces in video_detections if faces)
    assert face.landmarks.shape == (478, 2) and len(face.blendshapes) == 52


@pytest.mark.data
def test_image_mode_on_a_single_frame(video_data_dir, video_detections):
    detector = LandmarkerDetector(video_data_dir / "face_landmarker.task", mode="image")
    faces = detector.detect(video_detections[10][0])
    detector.close()
    assert len(faces) == 1
    x, y, width, height = faces[0].bbox
    assert 40 < width < 400 and 40 < height < 360


def standardise(faces: np.ndarray) -> np.ndarray:
    faces = faces.astype(np.float64)
    mean = faces.mean(axis=(1, 2), keepdims=True)
    return (faces - mean) / np.maximum(faces.std(axis=(1, 2), keepdims=True), 4.0)


def mean_face_correlation(crops: np.ndarray, reference_mean: np.ndarray) -> float:
    return float(np.corrcoef(standardise(crops).mean(0).ravel(), reference_mean.ravel())[0, 1])


@pytest.mark.data
def test_video_crops_are_framed_like_fer2013(video_data_dir, video_detections):
    from fer.data.datasets import load_dataset

    fer2013 = load_dataset("fer2013", video_data_dir).split("Training").images
    rng = np.random.default_rng(0)
    reference = standardise(fer2013[rng.choice(len(fer2013), 2000, replace=False)]).mean(0)
    pairs = [(frame, faces[0]) for frame, faces in video_detections if faces]

    def crops(framing):
        return np.stack(
            [align_face(frame, eyes=f.eyes, mouth=f.mouth, framing=framing) for frame, f in pairs]
        )

    ours = crops(FER2013_FRAMING)
    score = mean_face_correlation(ours, reference)
    # Measured: 0.77 for our framing; eyes 6 px too low 0.61, 5 px too high 0.68, zoomed out
    # (face 35% smaller) 0.63, zoomed in 0.37. A threshold of 0.72 separates them.
    assert score >= 0.72, score
    misframed = {
        "eyes 6 px low": dataclasses.replace(
            FER2013_FRAMING, eye_mid_y=FER2013_FRAMING.eye_mid_y + 6
        ),
        "face 40% larger": dataclasses.replace(
            FER2013_FRAMING,
            eye_distance=FER2013_FRAMING.eye_distance * 1.4,
            eye_mouth_distance=FER2013_FRAMING.eye_mouth_distance * 1.4,
        ),
    }
    for name, framing in misframed.items():
        assert mean_face_correlation(crops(framing), reference) < 0.72, name

    ARTIFACTS.mkdir(exist_ok=True)
    n_columns = 10
    video_rows = [np.hstack(list(ours[i : i + n_columns])) for i in range(0, 30, n_columns)]
    fer_rows = [np.hstack(list(fer2013[i : i + n_columns])) for i in range(0, 30, n_columns)]
    grid = np.vstack([*video_rows, np.full((4, 48 * n_columns), 255, np.uint8), *fer_rows])
    cv2.imwrite(str(ARTIFACTS / "faces_video_vs_fer2013.png"),
                cv2.resize(grid, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST))


def test_enlarge_dataset_face_upscales_and_pads_with_edge_pixels():
    from fer.realtime.alignment import enlarge_dataset_face

    face = np.zeros((48, 48), np.uint8)
    face[:, 0] = 200
    big = enlarge_dataset_face(face, pad=10)
    assert big.shape == (48 * 4 + 20, 48 * 4 + 20) and big.dtype == np.uint8
    # The left padding repeats the (upscaled) bright edge column.
    assert (big[10:-10, :10] == big[10:-10, 10:11]).all() and big[100, 10] >= 200
