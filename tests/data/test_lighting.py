import numpy as np
import pytest

from fer.data.lighting import CLIPPED_LEVEL, OVEREXPOSED_SHARE, clipped_share, is_overexposed


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
