"""Classification metrics in pure NumPy (no model imports), shared by training, CLIs and pages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def confusion_matrix(
    true_labels: NDArray[np.integer], predicted_labels: NDArray[np.integer], n_classes: int
) -> NDArray[np.int64]:
    """Counts with true classes as rows and predicted classes as columns."""
    true_labels = np.asarray(true_labels, dtype=np.int64)
    predicted_labels = np.asarray(predicted_labels, dtype=np.int64)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError("true and predicted labels differ in length")
    if true_labels.size and (
        min(true_labels.min(), predicted_labels.min()) < 0
        or max(true_labels.max(), predicted_labels.max()) >= n_classes
    ):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    flat = true_labels * n_classes + predicted_labels
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def normalise_rows(matrix: NDArray) -> NDArray[np.float64]:
    """Each row divided by its sum (rows summing to zero stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def per_class_scores(confusion: NDArray) -> dict[str, NDArray[np.float64]]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def expected_calibration_error(
    probabilities: NDArray, true_labels: NDArray, n_bins: int = 15
) -> tuple[float, list[dict[str, float]]]:
    """ECE with equal-width confidence bins, plus the bins for a reliability diagram."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(true_labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    ece = 0.0
    n_samples = len(confidence)
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (confidence > low) & (confidence <= high)
        count = int(in_bin.sum())
        if count:
            accuracy = float(correct[in_bin].mean())
            mean_confidence = float(confidence[in_bin].mean())
            ece += count / n_samples * abs(accuracy - mean_confidence)
        else:
            accuracy = mean_confidence = 0.0
        bins.append(
            {
                "low": float(low),
                "high": float(high),
                "count": count,
                "accuracy": accuracy,
                "confidence": mean_confidence,
            }
        )
    return float(ece), bins


def classification_report(
    probabilities: NDArray, true_labels: NDArray, class_names: Sequence[str]
) -> dict:
    """Everything the evaluation pages and cards show, as JSON-ready Python values."""
    probabilities = np.asarray(probabilities)
    true_labels = np.asarray(true_labels, dtype=np.int64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise ValueError(
            f"probabilities must be (N, {len(class_names)}), got {probabilities.shape}"
        )
    if len(probabilities) != len(true_labels) or len(true_labels) == 0:
        raise ValueError("need the same, non-zero number of probability rows and labels")
    predicted = probabilities.argmax(axis=1)
    confusion = confusion_matrix(true_labels, predicted, len(class_names))
    scores = per_class_scores(confusion)
    # Macro-F1 averages the classes that occur in the labels or the predictions (scikit-learn's
    # rule): a class predicted but absent from the labels counts, with an F1 of 0.
    present = (scores["support"] > 0) | (confusion.sum(axis=0) > 0)
    ece, reliability = expected_calibration_error(probabilities, true_labels)
    return {
        "n_samples": int(len(true_labels)),
        "accuracy": float((predicted == true_labels).mean()),
        "macro_f1": float(scores["f1"][present].mean()),
        "ece": ece,
        "classes": list(class_names),
        "per_class": {
            name: {metric: float(values[index]) for metric, values in scores.items()}
            for index, name in enumerate(class_names)
        },
        "confusion_matrix": confusion.tolist(),
        "confusion_matrix_normalised": normalise_rows(confusion).round(4).tolist(),
        "reliability_bins": reliability,
    }
