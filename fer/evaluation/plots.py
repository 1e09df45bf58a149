"""Plotly figure builders shared by the pages and the notebooks.

Every builder takes plain arrays, dicts or DataFrames (the outputs of
:mod:`fer.evaluation.metrics` and :mod:`fer.data.eda`) and returns a
``plotly.graph_objects.Figure``; none of them computes statistics. Emotions are always drawn in
their :data:`fer.emotions.EMOTIONS` colour so that every view agrees: the builders of
:mod:`fer.evaluation.cluster_plots` and :mod:`fer.evaluation.session_plots` use the colours and
the layout defined here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray
from plotly.subplots import make_subplots

from fer.emotions import UNCERTAIN, emotion_style


def emotion_colour(name: str) -> str:
    """The emotion's colour; unknown names get the colour of ``"uncertain"``."""
    try:
        return emotion_style(name).colour
    except ValueError:
        return emotion_style(UNCERTAIN).colour


def titled_layout(figure: go.Figure, title: str, **kwargs) -> go.Figure:
    """Give ``figure`` a title and the margins every figure here shares."""
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
    return titled_layout(figure, title or default)


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
    return titled_layout(figure, f"Per-class {metric}")


def reliability_diagram(bins: Sequence[dict], ece: float | None = None) -> go.Figure:
    """Accuracy per confidence bin against the diagonal of perfect calibration.

    ``bins`` are :func:`fer.evaluation.metrics.expected_calibration_error` bins (low, high, count,
    accuracy,
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
    return titled_layout(figure, title, bargap=0)


# How a report's ``backend`` reads in a label; the served TFLite form is the int8 export.
FORMAT_NAMES = {"keras": "Keras", "tflite": "TFLite int8"}
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "ece": "ECE"}


def numbered_duplicates(labels: Sequence[str]) -> list[str]:
    """``labels`` with every repeat numbered (``"a"``, ``"a (2)"``): Plotly stacks the bars of one
    trace that share an x label, so two rows must never share one."""
    used: set[str] = set()
    unique = []
    for label in labels:
        candidate, number = label, 1
        while candidate in used:
            number += 1
            candidate = f"{label} ({number})"
        used.add(candidate)
        unique.append(candidate)
    return unique


def comparison_labels(table: pd.DataFrame) -> list[str]:
    """One label per row of a report table (:func:`fer.evaluation.reports.report_table`): model ·
    format · split and test-time views, e.g. ``fer2013 · TFLite int8 · PrivateTest +TTA``
    (the parts whose column the table has)."""
    labels = []
    for _, row in table.iterrows():
        parts = [str(row["name"])]
        if "backend" in table.columns:
            backend = str(row["backend"] or "")
            parts.append(FORMAT_NAMES.get(backend, backend or "format not recorded"))
        if "split" in table.columns:
            parts.append(f"{row['split']} {row.get('tta') or ''}".strip())
        labels.append(" · ".join(parts))
    return numbered_duplicates(labels)


def comparison_chart(
    table: pd.DataFrame,
    label_column: str | None = None,
    metrics: Sequence[str] = ("accuracy", "macro_f1"),
) -> go.Figure:
    """Horizontal bars of ``metrics`` side by side (grouped, never stacked), one group per row of
    a report table in the table's order, labelled by ``label_column`` or else by
    :func:`comparison_labels`. The figure grows with the rows so that every label is shown."""
    if label_column is None:
        labels = comparison_labels(table)
    else:
        labels = numbered_duplicates(table[label_column].astype(str).tolist())
    figure = go.Figure()
    for metric in metrics:
        figure.add_trace(
            go.Bar(
                y=labels,
                x=table[metric].astype(float).tolist(),
                orientation="h",
                name=METRIC_NAMES.get(metric, metric),
                texttemplate="%{x:.3f}",
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}<br>%{x:.3f}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_yaxes(type="category", autorange="reversed", automargin=True)
    figure.update_xaxes(range=[0, 1], title_text="score")
    height = 120 + 14 * len(metrics) * len(labels)
    return titled_layout(figure, "Model comparison", barmode="group", height=height)


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
    return titled_layout(figure, "Learning curves")


# ------------------------------------------------------------------------------------ datasets


def class_distribution_chart(distribution: pd.DataFrame, value: str = "count") -> go.Figure:
    """Grouped bars per emotion, one group member per dataset (from
    :func:`fer.data.eda.class_distribution`)."""
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
    return titled_layout(figure, f"Class distribution ({value})", barmode="group")


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
    return titled_layout(figure, "Pixel mean ± std per class")


def image_grid(
    images: NDArray[np.uint8], row_labels: Sequence[str] | None = None, title: str = ""
) -> go.Figure:
    """Show a (rows, cols, H, W) stack of gray faces as one tiled image, rows labelled."""
    from fer.data.eda import montage

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
    return titled_layout(figure, title, height=max(200, 60 * images.shape[0] + 80))


def face_gallery(
    images: NDArray[np.uint8], captions: Sequence[str], n_cols: int = 8, title: str = ""
) -> go.Figure:
    """Faces (N, H, W) tiled ``n_cols`` per row (the last row padded white), each with a caption
    above it."""
    from fer.data.eda import montage

    images = np.asarray(images)
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if len(images) == 0:
        return titled_layout(go.Figure(), title or "No faces to show")
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
    return titled_layout(figure, title, height=max(200, 90 * n_rows + 80))
