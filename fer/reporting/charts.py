"""The report's figures, drawn with matplotlib (no browser, no network) as PNG or SVG bytes."""

from __future__ import annotations

import io

import pandas as pd

from fer.emotions import UNCERTAIN, emotion_style
from fer.realtime.tracking import face_name
from fer.sessions.replay import DEFAULT_MAX_GAP_S


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


def broken_at_absences(face: pd.DataFrame, max_gap_s: float) -> pd.DataFrame:
    """One face's rows in time order, with an empty row (NaN) inside every pause between readings
    longer than ``max_gap_s``: matplotlib breaks a line at NaN, so a chart draws no reading
    where the face was away, as the insights count no time there."""
    face = face.sort_values("t_seconds", kind="stable")
    times = face["t_seconds"].astype(float)
    after_absence = times.diff() > max_gap_s
    if not after_absence.any():
        return face
    breaks = pd.DataFrame(
        {"t_seconds": (times.shift()[after_absence] + times[after_absence]) / 2}
    ).reindex(columns=face.columns)
    return pd.concat([face, breaks]).sort_values("t_seconds", kind="stable")


def timeline_chart(
    frames: pd.DataFrame,
    classes: list[str],
    image_format: str = "png",
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> bytes:
    """Smoothed probability of each expression over time, one panel per face; a line breaks where
    the face was away for more than ``max_gap_s``."""
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
        face = broken_at_absences(frames[frames["track_id"] == track], max_gap_s)
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


def signals_chart(
    frames: pd.DataFrame, image_format: str = "png", max_gap_s: float = DEFAULT_MAX_GAP_S
) -> bytes | None:
    """Valence and arousal over time per face, lines broken where the face was away for more
    than ``max_gap_s``; ``None`` when the session has neither."""
    if frames.empty or "valence" not in frames or frames["valence"].isna().all():
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 2.4))
    for track, readings in frames.groupby("track_id"):
        face = broken_at_absences(readings, max_gap_s)
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
