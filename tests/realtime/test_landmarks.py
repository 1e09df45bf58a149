import numpy as np
import pytest

from fer.realtime.landmarks import (
    EXPRESSIVE_INDICES,
    EXPRESSIVE_LANDMARKS,
    FEATURE_NAMES,
    draw_landmarks,
    expression_measures,
    landmark_features,
    overlay_points,
)

IMAGE_SIZE = (640, 360)


def synthetic_face_pixels(seed: int = 0) -> np.ndarray:
    """478 pixel points: random mesh, with eyes and mouth where a face has them."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-60, 60, (478, 2))
    points[[33, 133]] = [[-45, 0], [-15, 0]]
    points[[362, 263]] = [[15, 0], [45, 0]]
    points[[61, 291]] = [[-25, 70], [25, 70]]
    points[13], points[14] = [0, 66], [0, 74]
    return points + [300, 180]


def to_normalised(pixels: np.ndarray) -> np.ndarray:
    return pixels / np.array(IMAGE_SIZE, np.float64)


def similarity(pixels: np.ndarray, angle_deg: float, scale: float, shift) -> np.ndarray:
    angle = np.radians(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = pixels.mean(0)
    return (pixels - centre) @ rotation.T * scale + centre + np.asarray(shift)


def test_names_match_feature_length():
    features = landmark_features(to_normalised(synthetic_face_pixels()), IMAGE_SIZE)
    assert features.shape == (len(FEATURE_NAMES),) == (2 * len(EXPRESSIVE_LANDMARKS),)
    assert features.dtype == np.float32
    assert len(set(EXPRESSIVE_INDICES)) == len(EXPRESSIVE_INDICES)


@pytest.mark.parametrize(
    ("angle_deg", "scale", "shift"), [(0, 1, (40, -30)), (0, 0.5, (0, 0)), (17, 1.3, (-25, 10))]
)
def test_features_ignore_position_scale_and_roll(angle_deg, scale, shift):
    pixels = synthetic_face_pixels()
    reference = landmark_features(to_normalised(pixels), IMAGE_SIZE)
    moved = landmark_features(
        to_normalised(similarity(pixels, angle_deg, scale, shift)), IMAGE_SIZE
    )
    np.testing.assert_allclose(moved, reference, atol=1e-4)


def test_features_do_see_expression_changes():
    pixels = synthetic_face_pixels()
    opened = pixels.copy()
    opened[14] += [0, 20]  # lower lip drops
    before = landmark_features(to_normalised(pixels), IMAGE_SIZE)
    after = landmark_features(to_normalised(opened), IMAGE_SIZE)
    changed = np.flatnonzero(np.abs(after - before) > 1e-3)
    assert [FEATURE_NAMES[i] for i in changed] == ["lower_lip_inner.y"]
    assert expression_measures(to_normalised(opened), IMAGE_SIZE)["mouth_open"] == pytest.approx(
        expression_measures(to_normalised(pixels), IMAGE_SIZE)["mouth_open"] + 20 / 60, abs=1e-6
    )


def test_three_column_landmarks_accepted_and_bad_shapes_rejected():
    normalised = to_normalised(synthetic_face_pixels())
    with_z = np.column_stack([normalised, np.zeros(478)])
    np.testing.assert_allclose(
        landmark_features(with_z, IMAGE_SIZE), landmark_features(normalised, IMAGE_SIZE)
    )
    with pytest.raises(ValueError, match="478"):
        landmark_features(normalised[:468], IMAGE_SIZE)


def test_overlay_points_and_drawing():
    normalised = to_normalised(synthetic_face_pixels())
    points = overlay_points(normalised, IMAGE_SIZE)
    assert points.shape == (len(EXPRESSIVE_INDICES), 2) and points.dtype == np.int32
    assert tuple(points[list(EXPRESSIVE_INDICES).index(33)]) == (255, 180)
    frame = np.zeros((360, 640, 3), np.uint8)
    draw_landmarks(frame, normalised, colour_bgr=(0, 0, 255))
    assert frame[180, 255, 2] == 255 and frame[..., :2].max() == 0
