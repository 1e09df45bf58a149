import numpy as np
import pytest

from fer.data.imbalance import balanced_class_weights, rebalance


@pytest.fixture
def skewed():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 20 + [1] * 5 + [2] * 3)
    images = rng.integers(0, 256, (len(labels), 48, 48), dtype=np.uint8)
    return images, labels


def test_class_weights_are_sklearn_balanced(skewed):
    _, labels = skewed
    np.testing.assert_allclose(balanced_class_weights(labels, 3), 28 / (3 * np.array([20, 5, 3])))
    result = rebalance(*skewed, n_classes=3, strategy="class_weights", seed=0)
    assert len(result.labels) == 28 and result.row_weights[-1] == pytest.approx(28 / 9)


def test_oversample_equalises_counts_by_copying(skewed):
    images, labels = skewed
    result = rebalance(images, labels, 3, "oversample", seed=0)
    assert np.bincount(result.labels).tolist() == [20, 20, 20]
    np.testing.assert_array_equal(result.images, images[result.source_rows])


def test_smote_makes_new_images_between_neighbours(skewed):
    images, labels = skewed
    result = rebalance(images, labels, 3, "smote", seed=0)
    assert np.bincount(result.labels).tolist() == [20, 20, 20]
    synthetic = result.source_rows < 0
    assert synthetic.sum() == 32
    assert result.images.dtype == np.uint8 and result.images.shape[1:] == (48, 48)
    # Synthetic images are not copies of originals.
    originals = {image.tobytes() for image in images}
    assert not any(image.tobytes() in originals for image in result.images[synthetic])


def test_unknown_strategy(skewed):
    with pytest.raises(ValueError, match="Unknown imbalance strategy"):
        rebalance(*skewed, n_classes=3, strategy="focal", seed=0)
