"""The report's figures, drawn with matplotlib (no browser, no network) as PNG or SVG bytes."""

from __future__ import annotations

import io

import pandas as pd

from fer.emotions import UNCERTAIN, emotion_style
from fer.realtime.tracking import face_name


def _colour(name: str) -> str:
    try:
        return emotion_style(name).colour
    except ValueError:
        return emotion_style(UNCERTAIN).colour


# Salts the ids SVG output gives clip paths and glyphs, which are otherwise random per run.
SVG_HASH_SALT = "fer-report"


def _save(figure, image_format: str) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    # A fixed date and a fixed salt for its ids keep SVG output identical run to run.
    metadata = {"Date": None} if image_format == "svg" else None
    with matplotlib.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        figure.savefig(
            buffer, format=image_format, dpi=120, bbox_inches="tight", metadata=metadata
        )
    return buffer.getvalue()


def timeline_chart(frames: pd.DataFrame, classes: list[str], image_format: str = "png") -> bytes:
    """Smoothed probability of each expression over time, one panel per face."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    tracks = sorted(frames["track_id"].unique()) if not frames.empty else []
    figure, axes = plt.subplots(
        max(1, len(tracks)), 1, figsize=(8, 2.2 * max(1, len(tracks))), squeeze=False
    )
    for axis, track in zip(axes[:, 0], tracks or [None], strict=True):
        if track is None:
            axis.text(0.5, 0.5, "no face was recorded", ha="center", va="center")
            axis.set_axis_off()
            continue
        face = frames[frames["track_id"] == track].sort_values("t_seconds")
        for name in classes:
            column = f"smoothed_{name}"
            if column in face:
                axis.plot(face["t_seconds"], face[column], color=_colour(name), label=name, lw=1.2)
        axis.set_ylim(0, 1)
        axis.set_ylabel(face_name(track))
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time in the session (s)")
    if tracks:
        axes[0, 0].legend(loc="upper right", fontsize=7, ncol=4, frameon=False)
    figure.suptitle("How likely each expression looked, over time")
    data = _save(figure, image_format)
    plt.close(figure)
    return data


def signals_chart(frames: pd.DataFrame, image_format: str = "png") -> bytes | None:
    """Valence and arousal over time per face; ``None`` when the session has neither."""
    if frames.empty or "valence" not in frames or frames["valence"].isna().all():
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 2.4))
    for track, face in frames.sort_values("t_seconds").groupby("track_id"):
        axis.plot(face["t_seconds"], face["valence"], lw=1.2, label=f"valence, {face_name(track)}")
        axis.plot(face["t_seconds"], face["arousal"], lw=1.0, ls="--",
                  label=f"arousal, {face_name(track)}")
    axis.axhline(0, color="#999999", lw=0.8)
    axis.set_ylim(-1, 1)
    axis.set_xlabel("time in the session (s)")
    axis.legend(loc="upper right", fontsize=7, frameon=False)
    axis.grid(alpha=0.3)
    figure.suptitle("Valence and arousal read from the expression (descriptive)")
    data = _save(figure, image_format)
    plt.close(figure)
    return data
