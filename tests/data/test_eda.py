"""fer.data.eda on tiny synthetic datasets with hand-computed expectations (plus the real FER2013
counts when FER_DATA_DIR is set)."""

from __future__ import annotations

import numpy as np
import pytest

from fer.config import data_dir_from_env
from fer.data import eda
from fer.data.datasets import FaceDataset
from fer.emotions import FER2013, FERPLUS


def face(value: int, size: int = 4) -> np.ndarray:
    return np.full((size, size), value, np.uint8)


@pytest.fixture
def tiny() -> FaceDataset:
    """Six 4×4 faces: rows 0 and 3 identical (across splits, both angry), row 1 blank, rows 2 and
    5 identical but labelled differently."""
    gradient = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    other = gradient[::-1].copy()
    images = np.stack([gradient, face(0), other, gradient, gradient + 1, other])
    labels = np.array([0, 3, 3, 0, 6, 4])
    splits = np.array(["Training", "Training", "Training", "PublicTest", "Training", "Training"])
    return FaceDataset(images, labels, splits, FER2013, "fer2013")


def test_class_distribution_counts_every_class(tiny):
    other = FaceDataset(tiny.images[:2], np.array([0, 7]), tiny.splits[:2], FERPLUS, "ferplus")
    table = eda.class_distribution([tiny, other])
    fer = table[table["dataset"] == "fer2013"].set_index("emotion")
    assert len(fer) == 7
    assert fer.loc["angry", "count"] == 2 and fer.loc["happy", "count"] == 2
    assert fer.loc["disgust", "count"] == 0
    assert fer.loc["angry", "share"] == pytest.approx(2 / 6)
    plus = table[table["dataset"] == "ferplus"].set_index("emotion")
    assert list(plus.index) == list(FERPLUS.names)
    assert plus.loc["contempt", "count"] == 1 and plus.loc["neutral", "count"] == 1
    training = eda.class_distribution([tiny], "Training").set_index("emotion")
    assert training.loc["angry", "count"] == 1 and training["count"].sum() == 5


def test_pixel_statistics_match_hand_values():
    images = np.stack([face(10), face(30), face(100)])
    dataset = FaceDataset(images, np.array([0, 0, 1]), np.array(["Training"] * 3), FER2013, "x")
    table = eda.pixel_statistics(dataset).set_index("emotion")
    angry = table.loc["angry"]
    assert angry["n_images"] == 2
    assert angry["pixel_mean"] == pytest.approx(20.0)
    assert angry["pixel_std"] == pytest.approx(10.0)  # half the pixels 10, half 30
    assert angry["image_mean_std"] == pytest.approx(10.0)
    assert angry["contrast_mean"] == pytest.approx(0.0)
    assert table.loc["disgust", "pixel_mean"] == pytest.approx(100.0)
    assert table.loc["fear", "n_images"] == 0 and np.isnan(table.loc["fear", "pixel_mean"])


def test_pixel_std_pools_within_and_between_images():
    checker = np.array([[0, 200], [200, 0]], np.uint8)
    dataset = FaceDataset(
        np.stack([checker, checker]), np.array([2, 2]), np.array(["Training"] * 2), FER2013, "x"
    )
    row = eda.pixel_statistics(dataset).set_index("emotion").loc["fear"]
    assert row["pixel_std"] == pytest.approx(100.0)
    assert row["contrast_mean"] == pytest.approx(100.0)


def test_mean_faces(tiny):
    means = eda.mean_faces(tiny)
    assert means.shape == (7, 4, 4)
    np.testing.assert_allclose(means[3], (tiny.images[1] + tiny.images[2].astype(float)) / 2)
    assert not means[1].any()


def test_sample_grid_pads_small_classes(tiny):
    grid = eda.sample_grid(tiny, 2, seed=0)
    assert grid.images.shape == (7, 2, 4, 4)
    assert sorted(grid.row_ids[0]) == [0, 3]
    assert list(grid.row_ids[1]) == [-1, -1]  # disgust: no faces
    assert grid.row_ids[6, 0] == 4 and grid.row_ids[6, 1] == -1
    again = eda.sample_grid(tiny, 2, seed=0)
    np.testing.assert_array_equal(grid.row_ids, again.row_ids)
    with pytest.raises(ValueError):
        eda.sample_grid(tiny, 0, seed=0)


def test_montage_layout():
    images = np.zeros((2, 3, 2, 2), np.uint8)
    images[1, 2] = 7
    canvas = eda.montage(images, gap=1, fill=255)
    assert canvas.shape == (2 * 3 - 1, 3 * 3 - 1)
    assert canvas[2, 0] == 255  # the gap row
    assert (canvas[3:5, 6:8] == 7).all()


def test_blank_and_duplicates(tiny):
    np.testing.assert_array_equal(eda.find_blank_images(tiny.images), [1])
    groups = eda.duplicate_groups(tiny)
    assert groups["position"].tolist() == [0, 3, 2, 5]
    assert groups["group"].tolist() == [0, 0, 1, 1]
    assert groups["group_size"].tolist() == [2, 2, 2, 2]
    summary = eda.quality_summary(tiny)
    assert summary == {
        "n_rows": 6,
        "n_blank": 1,
        "n_distinct": 4,
        "n_redundant_rows": 2,
        "n_duplicate_groups": 2,
        "n_rows_in_duplicate_groups": 4,
        "n_groups_cross_split": 1,
        "n_groups_conflicting_labels": 1,
    }


@pytest.mark.data
def test_fer2013_blank_and_duplicate_counts():
    data_dir = data_dir_from_env(required=False)
    if data_dir is None:
        pytest.skip("needs FER_DATA_DIR")
    from fer.data.datasets import load_dataset

    summary = eda.quality_summary(load_dataset("fer2013", data_dir))
    assert summary["n_rows"] == 35_887
    assert summary["n_blank"] == 12
    assert summary["n_distinct"] == 34_034
