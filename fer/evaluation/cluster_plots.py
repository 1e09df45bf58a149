"""Plotly figures of the embedding clusters (:mod:`fer.evaluation.cluster`) for the Clusters page.

Like :mod:`fer.evaluation.plots`, these only draw what was computed elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray
from plotly.subplots import make_subplots

from fer.evaluation.plots import titled_layout

CLUSTER_PALETTE = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#1f78b4",
    "#b2df8a",
    "#fb9a99",
    "#cab2d6",
)


def cluster_scatter(
    projection: NDArray,
    cluster_labels: NDArray,
    centroid_projection: NDArray,
    hover_text: Sequence[str] | None = None,
    explained_variance: NDArray | None = None,
) -> go.Figure:
    """Points on the PCA plane coloured by cluster, centroids as large crosses."""
    projection = np.asarray(projection)
    cluster_labels = np.asarray(cluster_labels)
    figure = go.Figure()
    for cluster in range(len(centroid_projection)):
        members = cluster_labels == cluster
        colour = CLUSTER_PALETTE[cluster % len(CLUSTER_PALETTE)]
        figure.add_trace(
            go.Scattergl(
                x=projection[members, 0],
                y=projection[members, 1],
                mode="markers",
                name=f"cluster {cluster}",
                marker={"size": 5, "color": colour, "opacity": 0.6},
                text=None if hover_text is None else np.asarray(hover_text)[members],
            )
        )
    figure.add_trace(
        go.Scatter(
            x=np.asarray(centroid_projection)[:, 0],
            y=np.asarray(centroid_projection)[:, 1],
            mode="markers+text",
            name="centroids",
            text=[str(cluster) for cluster in range(len(centroid_projection))],
            textposition="top center",
            marker={"symbol": "x", "size": 14, "color": "black", "line": {"width": 2}},
        )
    )
    axis = ["first principal component", "second principal component"]
    if explained_variance is not None:
        axis = [
            f"{name} ({variance_share(ratio)} of the variance)"
            for name, ratio in zip(axis, explained_variance, strict=False)
        ]
    # Plain decimals: SI prefixes would print a near-flat axis in "µ".
    figure.update_xaxes(title_text=axis[0], exponentformat="none")
    figure.update_yaxes(title_text=axis[1], exponentformat="none")
    return titled_layout(figure, "K-means clusters on the first two principal components")


def variance_share(ratio: float) -> str:
    """A share of variance that never rounds a part to all or nothing: ``"under 1%"``,
    ``"37%"``, ``"at least 99%"``."""
    if ratio < 0.01:
        return "under 1%"
    if ratio > 0.99:
        return "at least 99%"
    return f"{ratio:.0%}"


def elbow_chart(sweep: pd.DataFrame) -> go.Figure:
    """Inertia (elbow) and silhouette against ``k`` (from
    :func:`fer.evaluation.cluster.k_sweep`)."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Scatter(x=sweep["k"], y=sweep["inertia"], name="inertia", mode="lines+markers"),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(x=sweep["k"], y=sweep["silhouette"], name="silhouette", mode="lines+markers"),
        secondary_y=True,
    )
    figure.update_xaxes(title_text="k", dtick=1)
    figure.update_yaxes(title_text="inertia", secondary_y=False)
    figure.update_yaxes(title_text="silhouette", secondary_y=True)
    return titled_layout(figure, "Elbow and silhouette")
