"""Plotly figure builders shared by the pages and the notebooks.

Every builder takes plain arrays, dicts or DataFrames (the outputs of :mod:`fer.metrics`,
:mod:`fer.eda`, :mod:`fer.cluster`, :mod:`fer.replay`) and returns a
``plotly.graph_objects.Figure``; none of them computes statistics. Emotions are always drawn in
their :data:`fer.emotions.EMOTIONS` colour so that every view agrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray
from plotly.subplots import make_subplots

from fer.emotions import UNCERTAIN, emotion_style

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


def emotion_colour(name: str) -> str:
    """The emotion's colour; unknown names get the colour of ``"uncertain"``."""
    try:
        return emotion_style(name).colour
    except ValueError:
        return emotion_style(UNCERTAIN).colour


def _layout(figure: go.Figure, title: str, **kwargs) -> go.Figure:
    figure.update_layout(
        title={"text": title}, margin={"l": 40, "r": 20, "t": 50, "b": 40}, **kwargs
    )
    return figure


# ---------------------------------------------------------------------------------- evaluation


def confusion_heatmap(
    matrix: Sequence[Sequence[float]],
    class_names: Sequence[str],
    normalised: bool = False,
    title: str | None = None,
) -> go.Figure:
    """True classes as rows, predictions as columns; cells annotated with counts or row shares."""
    values = np.asarray(matrix, dtype=np.float64)
    n_classes = len(class_names)
    if values.shape != (n_classes, n_classes):
        raise ValueError(f"matrix must be {n_classes}×{n_classes}, got {values.shape}")
    text_format = "%{z:.2f}" if normalised else "%{z:d}"
    figure = go.Figure(
        go.Heatmap(
            z=values if normalised else values.astype(np.int64),
            x=list(class_names),
            y=list(class_names),
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalised else None,
            texttemplate=text_format,
            hovertemplate="true %{y}<br>predicted %{x}<br>" + text_format + "<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", title_text="true")
    figure.update_xaxes(title_text="predicted")
    default = "Confusion matrix (row-normalised)" if normalised else "Confusion matrix (counts)"
    return _layout(figure, title or default)


def per_class_bar(report: dict, metric: str = "f1") -> go.Figure:
    """One bar per class for ``metric`` (``precision``, ``recall``, ``f1``) of a report."""
    classes = list(report["classes"])
    values = [report["per_class"][name][metric] for name in classes]
    figure = go.Figure(
        go.Bar(
            x=classes,
            y=values,
            marker_color=[emotion_colour(name) for name in classes],
            text=[f"{value:.2f}" for value in values],
            textposition="outside",
        )
    )
    figure.update_yaxes(range=[0, 1.05], title_text=metric)
    return _layout(figure, f"Per-class {metric}")


def reliability_diagram(bins: Sequence[dict], ece: float | None = None) -> go.Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration.

    ``bins`` are :func:`fer.metrics.expected_calibration_error` bins (low, high, count, accuracy,
    confidence); empty bins are left out.
    """
    used = [entry for entry in bins if entry["count"] > 0]
    centres = [(entry["low"] + entry["high"]) / 2 for entry in used]
    widths = [entry["high"] - entry["low"] for entry in used]
    figure = go.Figure()
    figure.add_trace(
        go.Bar(
            x=centres,
            y=[entry["accuracy"] for entry in used],
            width=widths,
            name="accuracy",
            marker_color="#1f77b4",
            customdata=[[entry["count"], entry["confidence"]] for entry in used],
            hovertemplate="confidence %{customdata[1]:.2f}<br>accuracy %{y:.2f}"
            "<br>%{customdata[0]} faces<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect calibration",
            line={"dash": "dash", "color": "#7f7f7f"},
        )
    )
    figure.update_xaxes(range=[0, 1], title_text="confidence")
    figure.update_yaxes(range=[0, 1], title_text="accuracy")
    title = "Reliability diagram" + (f" (ECE {ece:.3f})" if ece is not None else "")
    return _layout(figure, title, bargap=0)


def comparison_chart(
    table: pd.DataFrame,
    label_column: str = "name",
    metrics: Sequence[str] = ("accuracy", "macro_f1"),
) -> go.Figure:
    """Grouped bars of ``metrics`` for each row of a report table."""
    figure = go.Figure()
    labels = table[label_column].astype(str).tolist()
    for metric in metrics:
        figure.add_trace(go.Bar(x=labels, y=table[metric], name=metric, texttemplate="%{y:.3f}"))
    figure.update_yaxes(range=[0, 1], title_text="score")
    return _layout(figure, "Model comparison", barmode="group")


def learning_curves(history: pd.DataFrame) -> go.Figure:
    """Training loss and every ``val_accuracy_*`` column of a ``history.csv`` by epoch."""
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    if "loss" in history.columns:
        figure.add_trace(
            go.Scatter(
                x=history["epoch"], y=history["loss"], name="training loss", mode="lines+markers"
            ),
            secondary_y=False,
        )
    for column in history.columns:
        if column.startswith("val_accuracy"):
            figure.add_trace(
                go.Scatter(
                    x=history["epoch"], y=history[column], name=column, mode="lines+markers"
                ),
                secondary_y=True,
            )
    figure.update_xaxes(title_text="epoch")
    figure.update_yaxes(title_text="loss", secondary_y=False)
    figure.update_yaxes(title_text="PublicTest accuracy", secondary_y=True)
    return _layout(figure, "Learning curves")


# ------------------------------------------------------------------------------------ datasets


def class_distribution_chart(distribution: pd.DataFrame, value: str = "count") -> go.Figure:
    """Grouped bars per emotion, one group member per dataset (from
    :func:`fer.eda.class_distribution`)."""
    figure = go.Figure()
    for dataset, part in distribution.groupby("dataset", sort=False):
        figure.add_trace(
            go.Bar(
                x=part["emotion"],
                y=part[value],
                name=str(dataset),
                texttemplate="%{y:.1%}" if value == "share" else "%{y}",
            )
        )
    figure.update_yaxes(title_text=value, tickformat=".0%" if value == "share" else None)
    return _layout(figure, f"Class distribution ({value})", barmode="group")


def pixel_statistics_chart(statistics: pd.DataFrame) -> go.Figure:
    """Mean pixel value per class with the pixel standard deviation as error bars."""
    figure = go.Figure(
        go.Bar(
            x=statistics["emotion"],
            y=statistics["pixel_mean"],
            error_y={"type": "data", "array": statistics["pixel_std"]},
            marker_color=[emotion_colour(name) for name in statistics["emotion"]],
            name="pixel mean",
        )
    )
    figure.update_yaxes(range=[0, 255], title_text="pixel value (0..255)")
    return _layout(figure, "Pixel mean ± std per class")


def image_grid(
    images: NDArray[np.uint8], row_labels: Sequence[str] | None = None, title: str = ""
) -> go.Figure:
    """Show a (rows, cols, H, W) stack of gray faces as one tiled image, rows labelled."""
    from fer.eda import montage

    images = np.asarray(images)
    gap = 2
    canvas = montage(images, gap=gap)
    figure = go.Figure(
        go.Heatmap(
            z=canvas, colorscale="gray", zmin=0, zmax=255, showscale=False, hoverinfo="skip"
        )
    )
    height = images.shape[2]
    if row_labels is not None:
        figure.update_yaxes(
            tickmode="array",
            tickvals=[row * (height + gap) + height / 2 for row in range(images.shape[0])],
            ticktext=list(row_labels),
        )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False)
    figure.update_xaxes(showticklabels=False, showgrid=False)
    return _layout(figure, title, height=max(200, 60 * images.shape[0] + 80))


def face_gallery(
    images: NDArray[np.uint8], captions: Sequence[str], n_cols: int = 8, title: str = ""
) -> go.Figure:
    """Faces (N, H, W) tiled ``n_cols`` per row (the last row padded white), each with a caption
    above it."""
    from fer.eda import montage

    images = np.asarray(images)
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if len(images) == 0:
        return _layout(go.Figure(), title or "No faces to show")
    n_rows = -(-len(images) // n_cols)
    height, width = images.shape[1:]
    tiles = np.full((n_rows * n_cols, height, width), 255, np.uint8)
    tiles[: len(images)] = images
    gap = 16  # room for the captions
    canvas = montage(tiles.reshape(n_rows, n_cols, height, width), gap=gap)
    figure = go.Figure(
        go.Heatmap(
            z=canvas, colorscale="gray", zmin=0, zmax=255, showscale=False, hoverinfo="skip"
        )
    )
    for index, caption in enumerate(captions):
        row, col = divmod(index, n_cols)
        figure.add_annotation(
            x=col * (width + gap) + width / 2,
            y=row * (height + gap) - 2,
            text=caption,
            showarrow=False,
            font={"size": 9},
            yanchor="bottom",
        )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    figure.update_xaxes(visible=False)
    return _layout(figure, title, height=max(200, 90 * n_rows + 80))


# ------------------------------------------------------------------------------------ clusters


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
    axis = ["PC1", "PC2"]
    if explained_variance is not None:
        axis = [
            f"PC{i + 1} ({ratio:.0%} of variance)" for i, ratio in enumerate(explained_variance)
        ]
    figure.update_xaxes(title_text=axis[0])
    figure.update_yaxes(title_text=axis[1])
    return _layout(figure, "K-means clusters on the first two principal components")


def elbow_chart(sweep: pd.DataFrame) -> go.Figure:
    """Inertia (elbow) and silhouette against ``k`` (from :func:`fer.cluster.k_sweep`)."""
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
    return _layout(figure, "Elbow and silhouette")


# ------------------------------------------------------------------------------------ sessions


def session_timeline(
    frames: pd.DataFrame, track_id=None, prefix: str = "smoothed_", marker_s: float | None = None
) -> go.Figure:
    """One line per emotion: ``<prefix><class>`` over ``t_seconds`` (one track if given)."""
    from fer.replay import class_columns

    if track_id is not None:
        frames = frames[frames["track_id"] == track_id]
    frames = frames.sort_values("t_seconds")
    figure = go.Figure()
    for name in class_columns(frames, prefix):
        figure.add_trace(
            go.Scatter(
                x=frames["t_seconds"],
                y=frames[prefix + name],
                name=name,
                mode="lines",
                line={"color": emotion_colour(name)},
            )
        )
    if marker_s is not None:
        figure.add_vline(x=marker_s, line_dash="dot", line_color="black")
    figure.update_xaxes(title_text="time (s)")
    figure.update_yaxes(range=[0, 1], title_text="probability")
    label = "Smoothed probabilities" if prefix == "smoothed_" else "Probabilities"
    suffix = f" — track {track_id}" if track_id is not None else ""
    return _layout(figure, label + suffix, hovermode="x unified")


def predominant_chart(intervals: pd.DataFrame, interval_s: float) -> go.Figure:
    """A band of bars, one per interval, coloured by the predominant emotion (from
    :func:`fer.replay.predominant_per_interval`); bar height is that emotion's mean probability."""
    figure = go.Figure()
    for name, part in intervals.groupby("emotion", sort=True):
        figure.add_trace(
            go.Bar(
                x=part["start_s"] + interval_s / 2,
                y=part["probability"],
                width=interval_s,
                name=str(name),
                marker_color=emotion_colour(str(name)),
                customdata=part[["start_s", "end_s", "n_frames"]].to_numpy(),
                hovertemplate=f"{name}<br>%{{customdata[0]:.0f}}–%{{customdata[1]:.0f}} s"
                "<br>mean probability %{y:.2f}<br>%{customdata[2]} frames<extra></extra>",
            )
        )
    figure.update_xaxes(title_text="time (s)")
    figure.update_yaxes(range=[0, 1], title_text="mean probability")
    return _layout(figure, f"Predominant emotion per {interval_s:g} s", bargap=0)


def time_share_chart(shares: pd.DataFrame) -> go.Figure:
    """Horizontal stacked bars: share of time per emotion, one bar per track."""
    figure = go.Figure()
    for name, part in shares.groupby("emotion", sort=True):
        figure.add_trace(
            go.Bar(
                y=[f"track {track}" for track in part["track_id"]],
                x=part["share"],
                name=str(name),
                orientation="h",
                marker_color=emotion_colour(str(name)),
                hovertemplate=f"{name}: %{{x:.0%}}<extra></extra>",
            )
        )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title_text="share of time")
    return _layout(figure, "Time share per emotion", barmode="stack")


def landmark_plot(landmarks: NDArray, title: str = "Face landmarks") -> go.Figure:
    """Landmarks (n, 2+) in image coordinates (y down), drawn with equal axis scales."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"landmarks must be (n, 2) or (n, 3), got {points.shape}")
    figure = go.Figure(
        go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", marker={"size": 3})
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x")
    return _layout(figure, title, height=420, showlegend=False)
