"""fer.evaluation.cluster on small point clouds whose clusters are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from fer.evaluation import cluster


def blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight, far-apart groups of 10 points in 3-D."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], float)
    truth = np.repeat(np.arange(3), 10)
    return centres[truth] + rng.normal(0, 0.1, (30, 3)), truth


def test_kmeans_recovers_separated_groups():
    features, truth = blobs()
    result = cluster.cluster_features(features, 3, seed=0)
    assert result.labels.shape == (30,)
    # the same partition as the truth, up to renaming clusters
    table = cluster.contingency_table(result.labels, truth, ["a", "b", "c"], k=3)
    assert sorted(table.to_numpy().max(axis=1).tolist()) == [10, 10, 10]
    assert cluster.cluster_purity(table) == 1.0
    assert result.silhouette > 0.9
    np.testing.assert_array_equal(result.sizes, [10, 10, 10])
    assert result.centroid_projection.shape == (3, 2)
    assert result.explained_variance.sum() == pytest.approx(1.0, abs=1e-3)
    # a centroid projects to the mean of its members' projections (PCA is affine)
    members = result.labels == 0
    np.testing.assert_allclose(
        result.centroid_projection[0], result.projection[members].mean(axis=0), atol=1e-9
    )


def test_same_seed_same_clusters():
    features, _ = blobs(1)
    first = cluster.cluster_features(features, 4, seed=3)
    second = cluster.cluster_features(features, 4, seed=3)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.inertia == second.inertia


def test_pca_of_points_on_a_line():
    features = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    coordinates, ratios, _ = cluster.pca_2d(features)
    assert ratios[0] == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(coordinates[:, 0]), [np.sqrt(2), 0, np.sqrt(2)])
    np.testing.assert_allclose(coordinates[:, 1], 0, atol=1e-9)


def test_k_sweep_inertia_falls_and_silhouette_peaks_at_truth():
    features, _ = blobs()
    sweep = cluster.k_sweep(features, [2, 3, 4, 5], seed=0)
    assert sweep["k"].tolist() == [2, 3, 4, 5]
    assert (np.diff(sweep["inertia"]) < 0).all()
    assert sweep.loc[sweep["silhouette"].idxmax(), "k"] == 3


def test_k_sweep_skips_k_above_distinct_points():
    features = np.array([[0.0], [0.0], [1.0], [1.0], [2.0]])
    assert cluster.n_distinct_points(features) == 3
    assert cluster.k_sweep(features, range(2, 6)).k.tolist() == [2, 3]


def test_contingency_table_with_strings_and_unknown_labels():
    table = cluster.contingency_table(
        np.array([0, 0, 1, 2]), ["happy", "uncertain", "sad", "sad"], ["happy", "sad", "fear"], k=4
    )
    assert list(table.columns) == ["happy", "sad", "fear", "uncertain"]
    assert list(table.index) == ["cluster 0", "cluster 1", "cluster 2", "cluster 3"]
    assert table.loc["cluster 0"].tolist() == [1, 0, 0, 1]
    assert table.loc["cluster 2", "sad"] == 1
    assert table.loc["cluster 3"].sum() == 0
    assert cluster.cluster_purity(table) == pytest.approx(3 / 4)


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="k must lie"):
        cluster.cluster_features(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="NaN"):
        cluster.cluster_features(np.array([[0.0, np.nan], [1, 1], [2, 2]]), 2)
    with pytest.raises(ValueError, match="non-empty"):
        cluster.cluster_features(np.zeros(5), 2)
    with pytest.raises(ValueError, match="class_names"):
        cluster.contingency_table(np.array([0, 1]), np.array([0, 1]))
