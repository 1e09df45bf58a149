import numpy as np
import pytest

from fer.data.lighting import (
    CLIPPED_LEVEL,
    COMPENSATION_GAMMA,
    OVEREXPOSED_SHARE,
    clipped_share,
    compensated_for_overexposure,
    is_overexposed,
)


def test_clipped_share_counts_pixels_at_or_above_the_level():
    face = np.full((48, 48), 120, np.uint8)
    assert clipped_share(face) == 0.0
    face[:12] = CLIPPED_LEVEL  # a quarter of the rows, at the level itself
    assert clipped_share(face) == pytest.approx(0.25)
    face[12:24] = CLIPPED_LEVEL - 1  # just below: not clipped
    assert clipped_share(face) == pytest.approx(0.25)


def test_a_face_is_overexposed_from_the_threshold_on():
    assert not is_overexposed(None)
    assert not is_overexposed(OVEREXPOSED_SHARE - 0.01)
    assert is_overexposed(OVEREXPOSED_SHARE)
    assert is_overexposed(0.9)


@pytest.mark.parametrize(
    "crop",
    [
        np.zeros((48, 48), np.float32),  # not uint8
        np.zeros((48, 48, 3), np.uint8),  # colour
        np.zeros((0, 48), np.uint8),  # empty
    ],
)
def test_clipped_share_names_a_bad_crop(crop):
    with pytest.raises(ValueError, match="2-D uint8 gray crop"):
        clipped_share(crop)


def test_compensation_darkens_only_overexposed_crops():
    normal = np.full((48, 48), 180, np.uint8)
    bright = np.full((48, 48), 200, np.uint8)
    bright[:16] = 255  # a third clipped: over-exposed
    assert compensated_for_overexposure(normal) is normal  # nothing to do, nothing copied
    darkened = compensated_for_overexposure(bright)
    assert darkened.dtype == np.uint8 and darkened.shape == (48, 48)
    expected = np.round(255.0 * (200 / 255.0) ** COMPENSATION_GAMMA)
    assert darkened[20, 0] == expected and darkened[0, 0] == 255  # white stays white
    assert bright[20, 0] == 200  # the camera's crop is left as it was

    stack = np.stack([normal, bright])
    both = compensated_for_overexposure(stack)
    np.testing.assert_array_equal(both[0], normal)
    np.testing.assert_array_equal(both[1], darkened)
    assert stack[1, 20, 0] == 200


@pytest.mark.parametrize(
    "crops",
    [np.zeros((48, 48), np.float32), np.zeros((2, 48, 48, 3), np.uint8), np.zeros(48, np.uint8)],
)
def test_compensation_names_crops_it_cannot_read(crops):
    with pytest.raises(ValueError, match="uint8 gray crops"):
        compensated_for_overexposure(crops)
