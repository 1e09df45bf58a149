"""Post-hoc logit adjustment: counter the pull of frequent classes without retraining.

A classifier trained on imbalanced data learns the training prior along with the expression:
with ``neutral`` and ``happy`` frequent and ``contempt``, ``disgust`` and ``fear`` rare, a subtle
negative face is read as neutral. Adding ``-tau * log(prior)`` to the logits (Menon et al., 2021,
"Long-tail learning via logit adjustment") moves the decision towards the balanced error;
``tau = 1`` is the full correction, ``0`` none. ``tau`` is chosen on PublicTest, the selection
split: the one with the highest macro-recall whose accuracy stays within ``max_accuracy_drop``
of the unadjusted model's, for one pass and for the pipeline's views alike. One parameter for the
whole family keeps the choice from fitting the few rare faces of PublicTest, which per-class
biases fitted freely would.

The biases are added to the softmax head's bias (:func:`fold_logit_biases`), after the folded
temperature, so the Keras file, its TFLite export and every caller get them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fer.training.calibration import softmax_head

TAU_GRID = tuple(round(0.1 * step, 1) for step in range(16))  # 0.0 .. 1.5
DEFAULT_MAX_ACCURACY_DROP = 0.02  # a fraction of the faces: two points of accuracy
_EPSILON = 1e-12


def prior_biases(class_counts: NDArray, tau: float) -> NDArray[np.float64]:
    """``-tau * log(prior)`` per class, shifted to mean zero (only differences matter).

    ``class_counts`` are the training faces per class; a class without faces is a
    ``ValueError`` (its bias would be infinite).
    """
    counts = np.asarray(class_counts, np.float64)
    if counts.ndim != 1 or len(counts) < 2:
        raise ValueError(f"need one count per class (at least two), got shape {counts.shape}")
    if counts.min() <= 0:
        raise ValueError(f"every class needs training faces to adjust for, got {counts.tolist()}")
    biases = -tau * np.log(counts / counts.sum())
    return biases - biases.mean()


def adjusted_probabilities(probabilities: NDArray, biases: NDArray) -> NDArray[np.float64]:
    """``softmax(log(p) + b)`` per view, then the mean over views.

    ``probabilities`` is (N, n_classes) or per view (n_views, N, n_classes): the output a head
    with ``biases`` added to its logits gives, averaged as the views are served.
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim == 2:
        probabilities = probabilities[None]
    logits = np.log(np.clip(probabilities, _EPSILON, 1.0)) + np.asarray(biases, np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).mean(axis=0)


def macro_recall(labels: NDArray, predicted: NDArray, n_classes: int) -> float:
    """Mean recall over the classes present in ``labels``."""
    recalls = [
        float((predicted[labels == index] == index).mean())
        for index in range(n_classes)
        if (labels == index).any()
    ]
    return float(np.mean(recalls))


def choose_tau(
    probabilities_by_views: dict[str, NDArray],
    labels: NDArray,
    class_counts: NDArray,
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
    taus=TAU_GRID,
) -> dict:
    """The ``tau`` with the best macro-recall whose accuracy stays within ``max_accuracy_drop``
    of ``tau = 0`` for every view set.

    ``probabilities_by_views`` maps a view set (``"none"``, ``"mirror+zoom"``) to the selection
    split's probabilities, per view (n_views, N, n_classes) or averaged (N, n_classes); the
    bound holds for each (a clinician may be served any of them) and macro-recall is their
    mean. Ties go to the smaller ``tau`` (the lighter change). Returns the choice, its biases
    and the whole curve.
    """
    labels = np.asarray(labels)
    n_classes = len(class_counts)
    if not 0.0 <= max_accuracy_drop < 1.0:
        raise ValueError(f"max_accuracy_drop must be in [0, 1), got {max_accuracy_drop}")
    if not probabilities_by_views:
        raise ValueError("need the probabilities of at least one view set")
    curve = []
    for tau in sorted({0.0, *taus}):
        biases = prior_biases(class_counts, tau)
        point: dict = {"tau": float(tau)}
        for views, probabilities in probabilities_by_views.items():
            predicted = adjusted_probabilities(probabilities, biases).argmax(axis=1)
            point[views] = {
                "accuracy": round(float((predicted == labels).mean()), 4),
                "macro_recall": round(macro_recall(labels, predicted, n_classes), 4),
            }
        point["mean_macro_recall"] = round(
            float(np.mean([point[views]["macro_recall"] for views in probabilities_by_views])), 4
        )
        curve.append(point)
    baseline = curve[0]

    def within_bound(point: dict) -> bool:
        return all(
            point[views]["accuracy"] >= baseline[views]["accuracy"] - max_accuracy_drop - 1e-9
            for views in probabilities_by_views
        )

    allowed = [point for point in curve if within_bound(point)]
    best = max(allowed, key=lambda point: (point["mean_macro_recall"], -point["tau"]))
    return {
        "tau": best["tau"],
        "biases": [round(float(b), 6) for b in prior_biases(class_counts, best["tau"])],
        "max_accuracy_drop": max_accuracy_drop,
        "curve": curve,
    }


def fold_logit_biases(keras_model, biases: NDArray) -> None:
    """Add ``biases`` to the softmax head's logits, in place (the head's bias vector)."""
    head = softmax_head(keras_model)
    kernel, bias = head.get_weights()
    biases = np.asarray(biases, bias.dtype)
    if biases.shape != bias.shape:
        raise ValueError(f"need {bias.shape[0]} biases for the head, got {biases.shape}")
    head.set_weights([kernel, bias + biases])
