"""Per-class thresholds for the "uncertain" label, fitted on the selection split.

One threshold on the top probability treats every class alike, but a model is far surer of a
smile than of contempt: at the same top probability, its contempt readings are right much less
often. Per class ``c`` the threshold is the lowest top probability ``t`` such that the faces the
model reads as ``c`` with a top probability of at least ``t`` are ``c`` at least
``precision_target`` of the time on PublicTest. Below it the smoother says "uncertain"
(:class:`fer.realtime.smoothing.ProbabilitySmoother`). A class the model reads fewer than
``min_predictions`` times on PublicTest gets no threshold (the single one applies); a class whose
readings never reach the target gets 1.0: it is never shown as a confident word.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

DEFAULT_PRECISION_TARGET = 0.8
DEFAULT_MIN_PREDICTIONS = 10
NEVER_CONFIDENT = 1.0


def class_threshold(
    top_probabilities: NDArray,
    correct: NDArray,
    precision_target: float = DEFAULT_PRECISION_TARGET,
    min_predictions: int = DEFAULT_MIN_PREDICTIONS,
) -> dict:
    """The threshold of one class from its readings' top probabilities and whether each was
    right. Returns ``threshold`` (``None`` when there are too few readings), the readings kept
    above it, their precision and a note."""
    top = np.asarray(top_probabilities, np.float64)
    correct = np.asarray(correct, bool)
    n_predicted = len(top)
    record: dict = {"n_predicted": n_predicted}
    if n_predicted < min_predictions:
        return {
            **record, "threshold": None,
            "note": f"read {n_predicted} times (fewer than {min_predictions}): the single "
            "threshold applies",
        }
    order = np.argsort(-top, kind="stable")
    top, correct = top[order], correct[order]
    # Precision of the k most confident readings, for every k; ties in top probability are
    # kept or dropped together, so only the last of a run of equal values is a candidate.
    precision = np.cumsum(correct) / np.arange(1, n_predicted + 1)
    last_of_tie = np.append(top[1:] != top[:-1], True)
    enough = np.arange(1, n_predicted + 1) >= min_predictions
    candidates = np.flatnonzero(last_of_tie & (precision >= precision_target) & enough)
    if len(candidates) == 0:
        return {
            **record, "threshold": NEVER_CONFIDENT, "n_kept": 0, "precision_kept": None,
            "note": f"precision {precision[-1]:.2f} at best with {min_predictions} or more "
            f"readings, under the target {precision_target:.2f}: never shown as confident",
        }
    kept = int(candidates[-1]) + 1  # the largest set: the lowest threshold
    return {
        **record,
        # Rounded down, so that the lowest reading kept stays above the stored threshold.
        "threshold": math.floor(float(top[kept - 1]) * 10_000) / 10_000,
        "n_kept": kept,
        "precision_kept": round(float(precision[kept - 1]), 4),
    }


def fit_class_thresholds(
    probabilities: NDArray,
    labels: NDArray,
    class_names: Sequence[str],
    precision_target: float = DEFAULT_PRECISION_TARGET,
    min_predictions: int = DEFAULT_MIN_PREDICTIONS,
) -> dict:
    """Per class, :func:`class_threshold` of the faces read as that class.

    ``probabilities`` (N, n_classes) are what is served (the view average) and ``labels`` the
    true classes. Returns ``{"thresholds": {class: t}, "details": {class: record}}``;
    classes with too few readings are left out of ``thresholds``.
    """
    probabilities = np.asarray(probabilities, np.float64)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(class_names):
        raise ValueError(
            f"need probabilities (N, {len(class_names)}), got shape {probabilities.shape}"
        )
    if labels.shape != (len(probabilities),):
        raise ValueError(f"need one label per face, got {labels.shape} for {len(probabilities)}")
    if not 0.0 < precision_target <= 1.0:
        raise ValueError(f"precision_target must be in (0, 1], got {precision_target}")
    predicted = probabilities.argmax(axis=1)
    top = probabilities.max(axis=1)
    details = {}
    for index, name in enumerate(class_names):
        read_as = predicted == index
        details[name] = class_threshold(
            top[read_as], labels[read_as] == index, precision_target, min_predictions
        )
    thresholds = {
        name: record["threshold"] for name, record in details.items()
        if record["threshold"] is not None
    }
    return {"thresholds": thresholds, "details": details}
