import numpy as np
import pytest

from fer.evaluation.metrics import (
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    normalise_rows,
    per_class_scores,
)


def test_confusion_matrix_counts_by_hand():
    true = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 0, 2])
    assert confusion_matrix(true, pred, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix(np.array([3]), np.array([0]), 3)


def test_precision_recall_f1_by_hand():
    confusion = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    scores = per_class_scores(confusion)
    # class 0: tp 1, predicted 2, support 2 -> p 0.5, r 0.5, f1 0.5
    # class 1: tp 2, predicted 3, support 2 -> p 2/3, r 1, f1 0.8
    # class 2: tp 1, predicted 1, support 2 -> p 1, r 0.5, f1 2/3
    np.testing.assert_allclose(scores["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(scores["recall"], [0.5, 1.0, 0.5])
    np.testing.assert_allclose(scores["f1"], [0.5, 0.8, 2 / 3])
    np.testing.assert_allclose(normalise_rows(confusion)[1], [0, 1, 0])


def test_ece_by_hand():
    # Two confident right answers (0.9) and two confident wrong ones (0.9) in one bin:
    # accuracy 0.5, confidence 0.9 -> ECE 0.4.
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    labels = np.array([0, 0, 0, 0])
    ece, bins = expected_calibration_error(probabilities, labels, n_bins=10)
    assert ece == pytest.approx(0.4)
    assert sum(bin_["count"] for bin_ in bins) == 4


def test_macro_f1_counts_a_class_predicted_but_absent_from_the_labels():
    """A class only ever predicted wrongly (no face of it in the labels) was left out of the
    average, so a subset without disgust scored 0.833 where scikit-learn's macro-F1 is 0.556."""
    labels = np.array([0, 0, 1, 1])
    probabilities = np.eye(3)[[0, 2, 1, 1]]
    report = classification_report(probabilities, labels, ["a", "b", "c"])
    # a: p 1, r 0.5 -> 2/3; b: p 1, r 1 -> 1; c: predicted once, never true -> 0
    assert report["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # a class neither in the labels nor predicted stays out of the average
    four = classification_report(np.eye(4)[[0, 2, 1, 1]], labels, ["a", "b", "c", "d"])
    assert four["macro_f1"] == pytest.approx(report["macro_f1"])


def test_report_fields_and_macro_f1():
    probabilities = np.eye(3)[[0, 1, 1, 1, 0, 2]]
    report = classification_report(probabilities, np.array([0, 0, 1, 1, 2, 2]), ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert report["per_class"]["b"]["support"] == 2
    assert report["ece"] == pytest.approx(2 / 6)  # confidence 1.0 everywhere, accuracy 4/6
    with pytest.raises(ValueError, match="probabilities must be"):
        classification_report(probabilities[:, :2], np.zeros(6), ["a", "b", "c"])
