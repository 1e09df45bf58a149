"""Plotly figures of a recorded session: per-face timeline, predominant expression per interval,
share of time per expression, and landmarks of one frame.

Like :mod:`fer.evaluation.plots`, these only draw what :mod:`fer.sessions.replay` computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import NDArray

from fer.evaluation.plots import emotion_colour, titled_layout
from fer.realtime.tracking import face_name


def session_timeline(
    frames: pd.DataFrame, track_id=None, prefix: str = "smoothed_", marker_s: float | None = None
) -> go.Figure:
    """One line per emotion: ``<prefix><class>`` over ``t_seconds`` (one track if given)."""
    from fer.sessions.replay import class_columns

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
    suffix = f" — {face_name(track_id)}" if track_id is not None else ""
    return titled_layout(figure, label + suffix, hovermode="x unified")


def predominant_chart(intervals: pd.DataFrame, interval_s: float) -> go.Figure:
    """A band of bars, one per interval, coloured by the predominant emotion (from
    :func:`fer.sessions.replay.predominant_per_interval`); bar height is that emotion's mean
    probability."""
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
    # Plotly hides the legend of a one-trace figure, and then a single colour says nothing.
    return titled_layout(
        figure, f"Predominant expression per {interval_s:g} s", bargap=0, showlegend=True,
        legend={"title": {"text": "expression"}},
    )


def time_share_chart(shares: pd.DataFrame) -> go.Figure:
    """Horizontal stacked bars: share of time per emotion, one bar per track."""
    figure = go.Figure()
    for name, part in shares.groupby("emotion", sort=True):
        figure.add_trace(
            go.Bar(
                y=[face_name(track) for track in part["track_id"]],
                x=part["share"],
                name=str(name),
                orientation="h",
                marker_color=emotion_colour(str(name)),
                hovertemplate=f"{name}: %{{x:.0%}}<extra></extra>",
            )
        )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title_text="share of time")
    return titled_layout(
        figure, "Share of time per expression", barmode="stack", showlegend=True,
        legend={"title": {"text": "expression"}},
    )


def landmark_plot(landmarks: NDArray, title: str = "Face landmarks") -> go.Figure:
    """Landmarks (n, 2+) in image coordinates (y down), drawn with equal axis scales."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise ValueError(f"landmarks must be (n, 2) or (n, 3), got {points.shape}")
    figure = go.Figure(
        go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", marker={"size": 3})
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x")
    return titled_layout(figure, title, height=420, showlegend=False)
