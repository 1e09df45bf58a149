"""Exploratory data analysis of face datasets: class balance, pixel statistics, samples, quality.

Pure NumPy/pandas on :class:`~fer.data.datasets.FaceDataset`; the notebooks and the Dataset page
render the
tables these functions return with :mod:`fer.evaluation.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.data.datasets import FaceDataset

_CHUNK_ROWS = 4096  # bounds the float copies of the 82 M-pixel FER2013 array


def class_distribution(datasets: Sequence[FaceDataset], split: str | None = None) -> pd.DataFrame:
    """Images per class for each dataset (optionally one split), in long form.

    Columns: ``dataset``, ``emotion``, ``count``, ``share`` (of that dataset's rows). Every class
    of every dataset appears, with zero counts where a class is absent.
    """
    rows = []
    for dataset in datasets:
        part = dataset if split is None else dataset.split(split)
        counts = np.bincount(part.labels, minlength=len(part.class_set))
        total = counts.sum()
        for name, count in zip(part.class_names, counts, strict=True):
            rows.append(
                {
                    "dataset": dataset.source,
                    "emotion": name,
                    "count": int(count),
                    "share": float(count / total) if total else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=["dataset", "emotion", "count", "share"])


def per_image_moments(
    images: NDArray[np.uint8],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and standard deviation of each image's pixels (0..255 scale)."""
    flat = np.asarray(images).reshape(len(images), -1)
    means = np.empty(len(flat))
    stds = np.empty(len(flat))
    for start in range(0, len(flat), _CHUNK_ROWS):
        chunk = flat[start : start + _CHUNK_ROWS].astype(np.float64)
        means[start : start + len(chunk)] = chunk.mean(axis=1)
        stds[start : start + len(chunk)] = chunk.std(axis=1)
    return means, stds


def pixel_statistics(dataset: FaceDataset) -> pd.DataFrame:
    """Per-class pixel statistics.

    Columns: ``emotion``, ``n_images``, ``pixel_mean`` and ``pixel_std`` (over all pixels of the
    class), ``image_mean_std`` (spread of brightness between images) and ``contrast_mean`` (mean of
    each image's own pixel std, i.e. typical contrast). Classes without images get NaN.
    """
    means, stds = per_image_moments(dataset.images)
    rows = []
    for index, name in enumerate(dataset.class_names):
        in_class = dataset.labels == index
        n_images = int(in_class.sum())
        if n_images == 0:
            rows.append({"emotion": name, "n_images": 0})
            continue
        class_means = means[in_class]
        class_stds = stds[in_class]
        pixel_mean = class_means.mean()
        # Pooled variance over all pixels: within-image variance plus variance of image means
        # (every image has the same number of pixels, so equal weights are exact).
        pixel_var = (class_stds**2).mean() + ((class_means - pixel_mean) ** 2).mean()
        rows.append(
            {
                "emotion": name,
                "n_images": n_images,
                "pixel_mean": float(pixel_mean),
                "pixel_std": float(np.sqrt(pixel_var)),
                "image_mean_std": float(class_means.std()),
                "contrast_mean": float(class_stds.mean()),
            }
        )
    columns = ["emotion", "n_images", "pixel_mean", "pixel_std", "image_mean_std", "contrast_mean"]
    return pd.DataFrame(rows, columns=columns)


def mean_faces(dataset: FaceDataset) -> NDArray[np.float32]:
    """The average face of each class, shape (n_classes, 48, 48); zeros for an empty class."""
    n_classes = len(dataset.class_set)
    sums = np.zeros((n_classes, *dataset.images.shape[1:]), np.float64)
    for start in range(0, len(dataset), _CHUNK_ROWS):
        chunk = dataset.images[start : start + _CHUNK_ROWS].astype(np.float64)
        np.add.at(sums, dataset.labels[start : start + _CHUNK_ROWS], chunk)
    counts = np.bincount(dataset.labels, minlength=n_classes).astype(np.float64)
    safe = np.maximum(counts, 1)[:, None, None]
    return (sums / safe).astype(np.float32)


@dataclass
class SampleGrid:
    """``n_per_class`` random faces per class; cells without a face are zero with row id -1."""

    images: NDArray[np.uint8]  # (n_classes, n_per_class, 48, 48)
    row_ids: NDArray[np.int64]  # (n_classes, n_per_class)
    class_names: tuple[str, ...]


def sample_grid(dataset: FaceDataset, n_per_class: int, seed: int) -> SampleGrid:
    """Draw up to ``n_per_class`` faces of every class without replacement."""
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be positive, got {n_per_class}")
    rng = np.random.default_rng(seed)
    n_classes = len(dataset.class_set)
    height, width = dataset.images.shape[1:]
    images = np.zeros((n_classes, n_per_class, height, width), np.uint8)
    row_ids = np.full((n_classes, n_per_class), -1, np.int64)
    for label in range(n_classes):
        candidates = np.flatnonzero(dataset.labels == label)
        chosen = rng.choice(candidates, min(n_per_class, len(candidates)), replace=False)
        images[label, : len(chosen)] = dataset.images[chosen]
        row_ids[label, : len(chosen)] = dataset.row_ids[chosen]
    return SampleGrid(images, row_ids, dataset.class_names)


def montage(images: NDArray[np.uint8], gap: int = 2, fill: int = 255) -> NDArray[np.uint8]:
    """Tile (rows, cols, H, W) images into one 2-D image with ``gap`` pixels between tiles."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"montage needs (rows, cols, H, W) images, got shape {images.shape}")
    n_rows, n_cols, height, width = images.shape
    canvas = np.full(
        (n_rows * (height + gap) - gap, n_cols * (width + gap) - gap), fill, dtype=np.uint8
    )
    for row in range(n_rows):
        for col in range(n_cols):
            top, left = row * (height + gap), col * (width + gap)
            canvas[top : top + height, left : left + width] = images[row, col]
    return canvas


def find_blank_images(images: NDArray[np.uint8]) -> NDArray[np.int64]:
    """Positions of images whose pixels all have one value (FER2013 has 12, all black)."""
    flat = np.asarray(images).reshape(len(images), -1)
    return np.flatnonzero(flat.min(axis=1) == flat.max(axis=1)).astype(np.int64)


def duplicate_groups(dataset: FaceDataset) -> pd.DataFrame:
    """Rows whose pixels exactly equal another row's, one table row per dataset row.

    Columns: ``group`` (0.. in order of first appearance), ``position`` (index in ``dataset``),
    ``row_id``, ``split``, ``emotion``, ``group_size``, ``is_blank``. Only groups of two or more.
    """
    flat = np.ascontiguousarray(dataset.images.reshape(len(dataset), -1))
    # A void view compares whole rows byte for byte, so equality is exact (no hashing).
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, first, inverse, counts = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    in_group = counts[inverse] > 1
    positions = np.flatnonzero(in_group)
    # Renumber groups by the position of their first member so the table reads top-down.
    _, group_ids = np.unique(first[inverse[positions]], return_inverse=True)
    blank = np.zeros(len(dataset), bool)
    blank[find_blank_images(dataset.images)] = True
    table = pd.DataFrame(
        {
            "group": group_ids.astype(np.int64),
            "position": positions.astype(np.int64),
            "row_id": dataset.row_ids[positions],
            "split": dataset.splits[positions],
            "emotion": np.asarray(dataset.class_names)[dataset.labels[positions]],
            "group_size": counts[inverse[positions]].astype(np.int64),
            "is_blank": blank[positions],
        }
    )
    return table.sort_values(["group", "position"], ignore_index=True)


def quality_summary(dataset: FaceDataset) -> dict[str, int]:
    """Counts of blank and duplicated images.

    ``n_distinct`` counts distinct pixel arrays (FER2013: 34,034 of 35,887 rows);
    ``n_redundant_rows`` = rows minus distinct images; ``n_groups_cross_split`` and
    ``n_groups_conflicting_labels`` count duplicate groups spanning splits or carrying different
    labels (both leak or confuse evaluation).
    """
    groups = duplicate_groups(dataset)
    n_groups = int(groups["group"].nunique()) if len(groups) else 0
    n_in_groups = len(groups)
    by_group = groups.groupby("group") if len(groups) else None
    cross_split = int((by_group["split"].nunique() > 1).sum()) if by_group is not None else 0
    conflicting = int((by_group["emotion"].nunique() > 1).sum()) if by_group is not None else 0
    n_distinct = len(dataset) - n_in_groups + n_groups
    return {
        "n_rows": len(dataset),
        "n_blank": int(len(find_blank_images(dataset.images))),
        "n_distinct": int(n_distinct),
        "n_redundant_rows": int(len(dataset) - n_distinct),
        "n_duplicate_groups": n_groups,
        "n_rows_in_duplicate_groups": int(n_in_groups),
        "n_groups_cross_split": cross_split,
        "n_groups_conflicting_labels": conflicting,
    }
