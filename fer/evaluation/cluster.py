"""K-means on face embeddings or class probabilities, with a 2-D PCA view and quality scores.

Randomness enters only through ``seed`` (scikit-learn's ``random_state``), so a page and a notebook
given the same features and seed draw the same clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

if TYPE_CHECKING:  # scikit-learn is imported where it is used, to keep imports cheap
    from sklearn.decomposition import PCA

# Silhouette is O(n²); above this many points it is estimated on a seeded sample.
SILHOUETTE_SAMPLE = 3000


@dataclass
class ClusterResult:
    k: int
    seed: int
    labels: NDArray[np.int64]  # (N,) cluster of each point
    centroids: NDArray[np.float64]  # (k, n_features)
    projection: NDArray[np.float64]  # (N, 2) PCA coordinates of the points
    centroid_projection: NDArray[np.float64]  # (k, 2) the centroids in the same PCA plane
    explained_variance: NDArray[np.float64]  # (2,) ratio of variance along each PCA axis
    inertia: float
    silhouette: float  # NaN when undefined (a single non-empty cluster)

    @property
    def sizes(self) -> NDArray[np.int64]:
        return np.bincount(self.labels, minlength=self.k)


def _validate(features: NDArray, k: int) -> NDArray[np.float64]:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(
            f"features must be a non-empty (N, n_features) array, got {features.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError("features contain NaN or infinite values")
    if not 2 <= k <= len(features):
        raise ValueError(f"k must lie in 2..{len(features)} (the number of points), got {k}")
    return features


def _kmeans(features: NDArray[np.float64], k: int, seed: int):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, random_state=seed, n_init=10).fit(features)


def _silhouette(features: NDArray[np.float64], labels: NDArray, seed: int) -> float:
    from sklearn.metrics import silhouette_score

    n_clusters = len(np.unique(labels))
    if not 2 <= n_clusters <= len(features) - 1:
        return float("nan")
    sample = SILHOUETTE_SAMPLE if len(features) > SILHOUETTE_SAMPLE else None
    return float(silhouette_score(features, labels, sample_size=sample, random_state=seed))


def pca_2d(
    features: NDArray, seed: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64], PCA]:
    """Coordinates on the first two principal axes, their explained-variance ratios, the fit PCA.

    With a single feature the second coordinate is zero.
    """
    from sklearn.decomposition import PCA

    features = np.asarray(features, dtype=np.float64)
    n_components = min(2, features.shape[1], len(features))
    pca = PCA(n_components=n_components, random_state=seed).fit(features)
    coordinates = np.zeros((len(features), 2))
    coordinates[:, :n_components] = pca.transform(features)
    ratios = np.zeros(2)
    ratios[:n_components] = np.nan_to_num(pca.explained_variance_ratio_)
    return coordinates, ratios, pca


def cluster_features(features: NDArray, k: int, seed: int = 0) -> ClusterResult:
    """K-means with ``k`` clusters plus a PCA 2-D projection of points and centroids."""
    features = _validate(features, k)
    model = _kmeans(features, k, seed)
    labels = model.labels_.astype(np.int64)
    projection, ratios, pca = pca_2d(features, seed)
    centroid_projection = np.zeros((k, 2))
    n_components = pca.n_components_
    centroid_projection[:, :n_components] = pca.transform(model.cluster_centers_)
    return ClusterResult(
        k=k,
        seed=seed,
        labels=labels,
        centroids=model.cluster_centers_,
        projection=projection,
        centroid_projection=centroid_projection,
        explained_variance=ratios,
        inertia=float(model.inertia_),
        silhouette=_silhouette(features, labels, seed),
    )


def n_distinct_points(features: NDArray) -> int:
    """How many different rows ``features`` has: K-means cannot fill more clusters than that."""
    return len(np.unique(np.asarray(features), axis=0))


def k_sweep(features: NDArray, k_values: Sequence[int], seed: int = 0) -> pd.DataFrame:
    """Inertia (for an elbow plot) and silhouette for each ``k``; columns ``k``, ``inertia``,
    ``silhouette``. Values of ``k`` larger than the number of distinct points are skipped.
    """
    features = np.asarray(features, dtype=np.float64)
    n_distinct = n_distinct_points(features)
    rows = []
    for k in sorted(set(int(k) for k in k_values)):
        if k > n_distinct:
            continue
        _validate(features, k)
        model = _kmeans(features, k, seed)
        rows.append(
            {
                "k": k,
                "inertia": float(model.inertia_),
                "silhouette": _silhouette(features, model.labels_, seed),
            }
        )
    return pd.DataFrame(rows, columns=["k", "inertia", "silhouette"])


def contingency_table(
    cluster_labels: NDArray[np.integer],
    true_labels: Sequence,
    class_names: Sequence[str] | None = None,
    k: int | None = None,
) -> pd.DataFrame:
    """Counts of points per cluster (rows ``cluster 0``…) and label (columns).

    ``true_labels`` are class indices into ``class_names`` or label strings (then
    ``class_names`` only fixes the column order; unknown labels such as ``"uncertain"`` are
    appended). Every cluster up to ``k`` and every class gets a row/column, zero-filled.
    """
    cluster_labels = np.asarray(cluster_labels, dtype=np.int64)
    labels = np.asarray(true_labels)
    if len(labels) != len(cluster_labels):
        raise ValueError(f"{len(cluster_labels)} cluster labels but {len(labels)} true labels")
    if labels.dtype.kind in "iu":
        if class_names is None:
            raise ValueError("integer labels need class_names")
        labels = np.asarray(class_names)[labels]
    names = list(class_names or [])
    names += sorted(set(labels.tolist()) - set(names))
    n_clusters = k if k is not None else (int(cluster_labels.max()) + 1 if len(labels) else 0)
    table = pd.crosstab(cluster_labels, labels)
    table = table.reindex(index=range(n_clusters), columns=names, fill_value=0)
    table.index = [f"cluster {index}" for index in table.index]
    table.index.name = "cluster"
    table.columns.name = "label"
    return table.astype(np.int64)


def cluster_purity(table: pd.DataFrame) -> float:
    """Share of points whose cluster's most common label is their own label (1.0 = pure)."""
    total = table.to_numpy().sum()
    return float(table.to_numpy().max(axis=1).sum() / total) if total else float("nan")
