"""Summaries of a recorded session's frames: predominant emotion per interval, time share,
transitions and episodes, per tracked face. Pure pandas/NumPy.

The input is the frame table a session store returns: one row per face per frame with
``t_seconds``, ``track_id``, ``label`` (the smoothed decision, possibly ``"uncertain"``) and
per-class ``prob_<class>`` / ``smoothed_<class>`` columns.

Time is attributed to frames: a frame lasts until the next frame of the same track, but never more
than ``max_gap_s`` (a face that left the picture does not keep its last expression). A track's last
frame lasts the track's median frame interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer.emotions import UNCERTAIN

SMOOTHED_PREFIX = "smoothed_"
PROBABILITY_PREFIX = "prob_"
DEFAULT_MAX_GAP_S = 1.0


def class_columns(frames: pd.DataFrame, prefix: str = SMOOTHED_PREFIX) -> list[str]:
    """Class names that have a ``<prefix><class>`` column, in column order."""
    return [column[len(prefix) :] for column in frames.columns if column.startswith(prefix)]


def _require(frames: pd.DataFrame, columns: list[str]) -> None:
    missing = [column for column in columns if column not in frames.columns]
    if missing:
        raise ValueError(f"frames lack column(s) {missing}; they have {list(frames.columns)}")


def _sorted(frames: pd.DataFrame) -> pd.DataFrame:
    _require(frames, ["t_seconds", "track_id"])
    return frames.sort_values(["track_id", "t_seconds"], kind="stable", ignore_index=True)


def frame_labels(frames: pd.DataFrame, prefix: str = SMOOTHED_PREFIX) -> pd.Series:
    """The ``label`` column if present, else the class with the highest ``<prefix>`` value."""
    if "label" in frames.columns:
        return frames["label"].astype(str)
    classes = class_columns(frames, prefix)
    if not classes:
        raise ValueError(f"frames have neither 'label' nor '{prefix}<class>' columns")
    values = frames[[prefix + name for name in classes]].to_numpy()
    return pd.Series(np.asarray(classes)[values.argmax(axis=1)], index=frames.index)


def frame_durations(frames: pd.DataFrame, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.Series:
    """Seconds attributed to each frame (see the module docstring), aligned with ``frames``."""
    _require(frames, ["t_seconds", "track_id"])
    if max_gap_s <= 0:
        raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
    order = frames.sort_values(["track_id", "t_seconds"], kind="stable").index
    ordered = frames.loc[order]
    following = ordered.groupby("track_id")["t_seconds"].shift(-1)
    durations = (following - ordered["t_seconds"]).clip(upper=max_gap_s)
    typical = durations.groupby(ordered["track_id"]).transform("median")
    durations = durations.fillna(typical).fillna(0.0)
    return durations.reindex(frames.index).astype(float)


def predominant_per_interval(
    frames: pd.DataFrame, interval_s: float, prefix: str = SMOOTHED_PREFIX
) -> pd.DataFrame:
    """The emotion with the highest mean ``<prefix>`` probability in each interval of each track.

    Intervals are aligned with the session clock: interval ``i`` covers
    ``[i * interval_s, (i + 1) * interval_s)``; intervals without frames are absent. A tie goes
    to the class whose column comes first.
    Columns: ``track_id``, ``interval``, ``start_s``, ``end_s``, ``n_frames``, ``emotion``,
    ``probability`` (its mean), then ``mean_<class>`` for every class.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    classes = class_columns(frames, prefix)
    if not classes:
        raise ValueError(f"frames have no '{prefix}<class>' columns")
    columns = ["track_id", "interval", "start_s", "end_s", "n_frames", "emotion", "probability"]
    columns += [f"mean_{name}" for name in classes]
    if frames.empty:
        return pd.DataFrame(columns=columns)
    ordered = _sorted(frames)
    interval = np.floor(ordered["t_seconds"].to_numpy() / interval_s).astype(np.int64)
    value_columns = [prefix + name for name in classes]
    grouped = ordered.assign(interval=interval).groupby(["track_id", "interval"], sort=True)
    means = grouped[value_columns].mean()
    values = means.to_numpy()
    best = values.argmax(axis=1)
    result = pd.DataFrame(
        {
            "track_id": means.index.get_level_values("track_id"),
            "interval": means.index.get_level_values("interval").astype(np.int64),
            "n_frames": grouped.size().to_numpy(),
            "emotion": np.asarray(classes)[best],
            "probability": values[np.arange(len(values)), best],
        }
    )
    result["start_s"] = result["interval"] * interval_s
    result["end_s"] = result["start_s"] + interval_s
    for index, name in enumerate(classes):
        result[f"mean_{name}"] = values[:, index]
    return result[columns]


def time_share(frames: pd.DataFrame, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Seconds and share of each track's time per label.

    Columns: ``track_id``, ``emotion``, ``seconds``, ``n_frames``, ``share``; sorted by track, then
    share descending. When a track's frames have no duration (a single frame), shares count frames.
    """
    columns = ["track_id", "emotion", "seconds", "n_frames", "share"]
    if frames.empty:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "track_id": frames["track_id"],
            "emotion": frame_labels(frames),
            "seconds": frame_durations(frames, max_gap_s),
        }
    )
    result = (
        table.groupby(["track_id", "emotion"])
        .agg(seconds=("seconds", "sum"), n_frames=("seconds", "size"))
        .reset_index()
    )
    track_seconds = result.groupby("track_id")["seconds"].transform("sum")
    track_frames = result.groupby("track_id")["n_frames"].transform("sum")
    result["share"] = np.where(
        track_seconds > 0,
        result["seconds"] / track_seconds.where(track_seconds > 0, 1.0),
        result["n_frames"] / track_frames,
    )
    result = result.sort_values(["track_id", "share", "emotion"], ascending=[True, False, True])
    return result[columns].reset_index(drop=True)


def episodes(frames: pd.DataFrame, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Runs of one label per track; a run ends when the label changes or the face is away for
    more than ``max_gap_s``.

    Columns: ``track_id``, ``episode``, ``emotion``, ``start_s``, ``end_s``, ``duration_s``,
    ``n_frames``. ``end_s`` includes the last frame's duration.
    """
    columns = ["track_id", "episode", "emotion", "start_s", "end_s", "duration_s", "n_frames"]
    if frames.empty:
        return pd.DataFrame(columns=columns)
    ordered = _sorted(frames)
    ordered = ordered.assign(
        emotion=frame_labels(ordered).to_numpy(),
        duration_s=frame_durations(ordered, max_gap_s).to_numpy(),
    )
    by_track = ordered.groupby("track_id")
    gap = by_track["t_seconds"].diff() > max_gap_s
    changed = ordered["emotion"] != by_track["emotion"].shift()
    ordered["episode"] = (changed | gap).astype(np.int64).groupby(ordered["track_id"]).cumsum() - 1
    grouped = ordered.groupby(["track_id", "episode"], sort=True)
    result = grouped.agg(
        emotion=("emotion", "first"),
        start_s=("t_seconds", "first"),
        last_s=("t_seconds", "last"),
        last_duration_s=("duration_s", "last"),
        n_frames=("t_seconds", "size"),
    ).reset_index()
    result["end_s"] = result["last_s"] + result["last_duration_s"]
    result["duration_s"] = result["end_s"] - result["start_s"]
    return result[columns]


def transitions(frames: pd.DataFrame, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Counts of changes from one expression to another, ``from_emotion`` → ``to_emotion``,
    between consecutive episodes of a track. "Uncertain" stretches are skipped: they are moments
    the software could not name, not an expression, so happy, uncertain, happy is no change and
    happy, uncertain, sad is one. A return after an absence with the same label is no change
    either.

    Columns: ``track_id``, ``from_emotion``, ``to_emotion``, ``count``; most frequent first.
    """
    columns = ["track_id", "from_emotion", "to_emotion", "count"]
    runs = episodes(frames, max_gap_s)
    runs = runs[runs["emotion"] != UNCERTAIN]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    runs = runs.assign(from_emotion=runs.groupby("track_id")["emotion"].shift())
    changes = runs[runs["from_emotion"].notna() & (runs["from_emotion"] != runs["emotion"])]
    result = (
        changes.rename(columns={"emotion": "to_emotion"})
        .groupby(["track_id", "from_emotion", "to_emotion"])
        .size()
        .rename("count")
        .reset_index()
    )
    result = result.sort_values(
        ["track_id", "count", "from_emotion", "to_emotion"], ascending=[True, False, True, True]
    )
    return result[columns].reset_index(drop=True)


def longest_episodes(
    frames: pd.DataFrame, n: int = 3, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> pd.DataFrame:
    """The ``n`` longest episodes of each track (ties: earlier first)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    runs = episodes(frames, max_gap_s)
    if runs.empty:
        return runs
    runs = runs.sort_values(["track_id", "duration_s", "start_s"], ascending=[True, False, True])
    return runs.groupby("track_id").head(n).reset_index(drop=True)


def track_summary(frames: pd.DataFrame, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """One row per track: time span, frames, predominant label and its share, number of
    changes between expressions (:func:`transitions`), longest episode.
    """
    columns = [
        "track_id",
        "start_s",
        "end_s",
        "n_frames",
        "predominant",
        "predominant_share",
        "n_transitions",
        "longest_emotion",
        "longest_s",
    ]
    if frames.empty:
        return pd.DataFrame(columns=columns)
    shares = time_share(frames, max_gap_s).groupby("track_id").head(1).set_index("track_id")
    runs = episodes(frames, max_gap_s)
    longest = longest_episodes(frames, 1, max_gap_s).set_index("track_id")
    changes = transitions(frames, max_gap_s).groupby("track_id")["count"].sum()
    spans = runs.groupby("track_id").agg(
        start_s=("start_s", "min"), end_s=("end_s", "max"), n_frames=("n_frames", "sum")
    )
    result = spans.assign(
        predominant=shares["emotion"],
        predominant_share=shares["share"],
        n_transitions=changes.reindex(spans.index, fill_value=0).astype(np.int64),
        longest_emotion=longest["emotion"],
        longest_s=longest["duration_s"],
    ).reset_index()
    return result[columns]


def frame_at(frames: pd.DataFrame, t_seconds: float, track_id=None) -> pd.Series:
    """The frame (of ``track_id``, if given) closest in time to ``t_seconds``."""
    _require(frames, ["t_seconds", "track_id"])
    candidates = frames if track_id is None else frames[frames["track_id"] == track_id]
    if candidates.empty:
        raise ValueError(f"no frames for track {track_id!r}")
    position = (candidates["t_seconds"] - t_seconds).abs().to_numpy().argmin()
    return candidates.iloc[position]
