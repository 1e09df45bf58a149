"""Per-class "uncertain" thresholds: the lowest top probability whose readings reach the
precision target, on synthetic readings."""

from __future__ import annotations

import numpy as np
import pytest

from fer.training.uncertainty import NEVER_CONFIDENT, class_threshold, fit_class_thresholds


def test_the_threshold_is_the_lowest_that_keeps_the_precision():
    # Ten readings, most confident first: right, right, ..., with wrong ones mixed in lower down.
    top = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5])
    correct = np.array([1, 1, 1, 1, 0, 1, 1, 0, 0, 0], bool)
    record = class_threshold(top, correct, precision_target=0.75, min_predictions=4)
    # Keeping the 7 readings at 0.65 and above: 6/7 right; at 0.6: 6/8 = 0.75 still; 0.55: 6/9.
    assert record["threshold"] == 0.6
    assert record["n_kept"] == 8 and record["precision_kept"] == 0.75
    stricter = class_threshold(top, correct, precision_target=0.9, min_predictions=4)
    assert stricter["threshold"] == 0.8 and stricter["precision_kept"] == 1.0


def test_tied_probabilities_are_kept_or_dropped_together():
    top = np.array([0.9, 0.9, 0.9, 0.9, 0.5, 0.5])
    correct = np.array([1, 1, 1, 0, 1, 1], bool)
    record = class_threshold(top, correct, precision_target=0.75, min_predictions=2)
    assert record["threshold"] == 0.5 and record["n_kept"] == 6  # 5/6 >= 0.75
    record = class_threshold(top, correct, precision_target=0.8, min_predictions=2)
    # 3 of the first 3 would pass, but the fourth 0.9 cannot be left out: 3/4 < 0.8.
    assert record["threshold"] == 0.5 and record["precision_kept"] == pytest.approx(5 / 6, 1e-3)
    assert class_threshold(top, correct, 0.9, 2)["threshold"] == NEVER_CONFIDENT


def test_too_few_readings_keep_the_single_threshold_and_never_right_is_never_confident():
    few = class_threshold(np.array([0.9, 0.8]), np.array([True, True]), min_predictions=10)
    assert few["threshold"] is None and "single threshold" in few["note"]
    wrong = class_threshold(np.linspace(0.5, 0.9, 20), np.zeros(20, bool), min_predictions=10)
    assert wrong["threshold"] == NEVER_CONFIDENT and "never" in wrong["note"]


def test_fit_class_thresholds_per_class_from_probabilities():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 3, n)
    probabilities = np.full((n, 3), 0.1)
    confident = rng.uniform(0.5, 0.95, n)
    probabilities[np.arange(n), labels] = confident
    # Class 2 is also read, wrongly, for low-confidence faces of class 0.
    fooled = (labels == 0) & (confident < 0.8)
    probabilities[fooled, 2] = confident[fooled] + 0.05
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    fitted = fit_class_thresholds(probabilities, labels, ["a", "b", "c"], 0.9, 10)
    assert set(fitted["thresholds"]) == {"a", "b", "c"}
    assert fitted["thresholds"]["b"] == pytest.approx(probabilities.max(axis=1)[
        probabilities.argmax(axis=1) == 1].min(), abs=1e-4)  # every reading of b is right
    read_as_c = probabilities.max(axis=1)[probabilities.argmax(axis=1) == 2]
    right_as_c = labels[probabilities.argmax(axis=1) == 2] == 2
    assert right_as_c.mean() < 0.9  # all of c's readings together miss the target ...
    assert fitted["thresholds"]["c"] > read_as_c.min()  # ... so the least sure are cut
    assert fitted["details"]["c"]["n_kept"] < len(read_as_c)
    for name, record in fitted["details"].items():
        assert record["precision_kept"] >= 0.9, name
    with pytest.raises(ValueError, match="probabilities"):
        fit_class_thresholds(probabilities, labels, ["a", "b"])
