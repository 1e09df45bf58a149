"""Class-imbalance strategies: none, class weights, random oversampling, SMOTE.

Oversampling and SMOTE change the training rows; class weights keep the rows and scale each row's
loss. SMOTE interpolates flattened pixels of same-class neighbours, as in the seed paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

STRATEGIES = ("none", "class_weights", "oversample", "smote")


@dataclass
class Rebalanced:
    images: NDArray[np.uint8]
    labels: NDArray[np.int64]
    row_weights: NDArray[np.float32]  # loss weight per row (1.0 unless class_weights)
    source_rows: NDArray[np.int64]  # index into the input rows, -1 for synthetic (SMOTE) rows


def balanced_class_weights(labels: NDArray[np.integer], n_classes: int) -> NDArray[np.float32]:
    """``n_samples / (n_classes * count)`` per class, as scikit-learn's "balanced"."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
    return weights.astype(np.float32)


def rebalance(
    images: NDArray[np.uint8],
    labels: NDArray[np.integer],
    n_classes: int,
    strategy: str,
    seed: int,
) -> Rebalanced:
    """Apply one of :data:`STRATEGIES` to the training rows."""
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown imbalance strategy {strategy!r}; choose from {STRATEGIES}")
    int_labels = np.asarray(labels, dtype=np.int64)
    n_rows = len(int_labels)
    identity = np.arange(n_rows, dtype=np.int64)
    ones = np.ones(n_rows, dtype=np.float32)
    if strategy == "none":
        return Rebalanced(images, int_labels, ones, identity)
    if strategy == "class_weights":
        weights = balanced_class_weights(int_labels, n_classes)
        return Rebalanced(images, int_labels, weights[int_labels], identity)
    rng = np.random.default_rng(seed)
    counts = np.bincount(int_labels, minlength=n_classes)
    target = counts.max()
    if strategy == "oversample":
        extra = [
            rng.choice(np.flatnonzero(int_labels == label), target - counts[label], replace=True)
            for label in range(n_classes)
            if 0 < counts[label] < target
        ]
        rows = np.concatenate([identity, *extra]) if extra else identity
        return Rebalanced(images[rows], int_labels[rows], np.ones(len(rows), np.float32), rows)
    # SMOTE: imbalanced-learn appends the synthetic rows after the originals.
    from imblearn.over_sampling import SMOTE

    smallest = counts[counts > 0].min()
    sampler = SMOTE(random_state=seed, k_neighbors=int(min(5, smallest - 1)))
    if smallest < 2:
        raise ValueError("SMOTE needs at least 2 images in every class present")
    flat, resampled_labels = sampler.fit_resample(images.reshape(n_rows, -1), int_labels)
    resampled = np.clip(np.rint(flat), 0, 255).astype(np.uint8).reshape(-1, *images.shape[1:])
    n_synthetic = len(resampled_labels) - n_rows
    source_rows = np.concatenate([identity, np.full(n_synthetic, -1, np.int64)])
    return Rebalanced(
        resampled,
        resampled_labels.astype(np.int64),
        np.ones(len(source_rows), np.float32),
        source_rows,
    )
