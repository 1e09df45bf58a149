"""Session insights: what a face did over a session, measured against its own baseline.

Every figure here is descriptive. It summarises what the software read from the face (labels,
action units, valence and arousal) and says nothing about what the person felt or about any
condition; a clinician interprets it. Each figure in :func:`session_insights` carries a short
``about`` text saying what it is and is not, for pages and reports to show beside it.

Input is a frame table as the session store returns it (``t_seconds``, ``track_id``, ``label``,
``smoothed_<class>`` columns) with the signal columns ``valence``, ``arousal`` and one column per
action unit (``AU1`` ...); signal columns may be missing or empty (the Haar fallback records no
action units), and then the figures that need them are ``None``. An ``overexposed`` column
(true, false or missing per reading) gives ``lighting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer.data.lighting import OVEREXPOSED_SHARE
from fer.sessions.replay import (
    DEFAULT_MAX_GAP_S,
    episodes,
    frame_durations,
    time_share,
    transitions,
)

ABOUT = {
    "baseline": "The face's own reference: the first seconds of the session, or a stretch the "
    "clinician marked as neutral. Other figures are read against it.",
    "time_share": "Share of the face's time that each expression label was shown. A label is "
    "what the face looked like to the software, not what the person felt.",
    "episodes": "Uninterrupted stretches of one label, with onset, duration and the strongest "
    "smoothed probability reached.",
    "transitions": "How often the shown label changed from one expression to another. Stretches "
    "the software was uncertain about are skipped: happy, uncertain, happy is no change.",
    "expressivity": "How far the action units moved away from the baseline, on average, and how "
    "much they varied (0 = no movement). A description of facial movement, not of mood.",
    "flat_affect": "Whether facial movement stayed close to the baseline for the whole session. "
    "A reason to look again, never a finding: lighting, camera angle, glasses, medication and "
    "culture all change how much a face moves.",
    "notable_moments": "The moments that differed most from the baseline (action units, valence, "
    "arousal), with the clinician's markers nearby. Worth reviewing; not events in themselves.",
    "lighting": "Share of the face's readings taken while the face was too bright: at least "
    f"{OVEREXPOSED_SHARE:.0%} of the face picture the model reads was clipped to white. "
    "Expressions read from such a face are less reliable (the software's tests on "
    "over-exposed faces measured lower accuracy); better lighting helps more than any setting.",
}


@dataclass(frozen=True)
class InsightsConfig:
    """Settings of :func:`session_insights`, stated in the output so figures can be reproduced.

    ``flat_affect_below``: expressivity index under which, with valence spread under
    ``flat_valence_spread``, flat affect is indicated; both are screening heuristics. A face seen
    for less than ``flat_affect_min_s`` is not assessed: a still image or a few seconds say
    nothing about how much a face moves over a session.
    """

    baseline_s: float = 30.0
    max_gap_s: float = DEFAULT_MAX_GAP_S
    n_moments: int = 5
    moment_spacing_s: float = 5.0
    marker_window_s: float = 5.0
    flat_affect_below: float = 0.05
    flat_valence_spread: float = 0.1
    flat_affect_min_s: float = 60.0

    def __post_init__(self) -> None:
        for name in (
            "baseline_s", "max_gap_s", "moment_spacing_s", "marker_window_s", "flat_affect_min_s"
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.n_moments < 0:
            raise ValueError(f"n_moments must not be negative, got {self.n_moments}")


def au_columns(frames: pd.DataFrame) -> list[str]:
    """The action-unit columns (``AU<number>``) present in ``frames``, in column order."""
    return [c for c in frames.columns if c.startswith("AU") and c[2:].isdigit()]


def baseline_rows(
    frames: pd.DataFrame, config: InsightsConfig, segment: tuple[float, float] | None
) -> tuple[pd.Series, dict[str, Any]]:
    """A mask of the baseline frames of one face and the record describing how it was chosen."""
    if segment is not None:
        start, end = float(segment[0]), float(segment[1])
        if not end > start:
            raise ValueError(f"a baseline segment must end after it starts, got {segment}")
        source = "marked by the clinician"
    else:
        start = float(frames["t_seconds"].min())
        end, source = start + config.baseline_s, f"the first {config.baseline_s:g} s"
        seen_until = float(frames["t_seconds"].max())
        if seen_until < end:
            end = seen_until + float(frame_durations(frames, config.max_gap_s).iloc[-1])
            source = (
                f"the whole time the face was seen ({end - start:.1f} s, less than the "
                f"{config.baseline_s:g} s a baseline takes)"
                if end > start
                else "the one moment the face was seen (a single picture has no first seconds)"
            )
    mask = (frames["t_seconds"] >= start) & (frames["t_seconds"] < end)
    if segment is None and end == start:  # a single moment lasts no time, yet it is the baseline
        mask = frames["t_seconds"] == start
    if not mask.any():  # a segment the face was absent from: fall back to its first frames
        mask = frames["t_seconds"] < frames["t_seconds"].min() + config.baseline_s
        source += " (the face was not seen then; its first seconds were used instead)"
    record = {"start_s": start, "end_s": end, "source": source, "n_frames": int(mask.sum())}
    return mask, record


def _signal_means(frames: pd.DataFrame, columns: list[str]) -> dict[str, float | None]:
    means = frames[columns].mean(numeric_only=True) if columns else pd.Series(dtype=float)
    return {c: (None if pd.isna(means.get(c)) else round(float(means[c]), 4)) for c in columns}


def expressivity(frames: pd.DataFrame, baseline: pd.Series) -> dict[str, float] | None:
    """Mean absolute AU deviation from the baseline mean and mean AU spread, and their sum;
    over the action units the baseline has values for, None when it has none (a baseline
    read without landmarks gives nothing to measure movement against)."""
    columns = au_columns(frames)
    values = frames[columns].astype(float) if columns else pd.DataFrame()
    if values.empty or values.isna().all().all():
        return None
    reference = values[baseline].mean().dropna()
    if reference.empty:
        return None
    values = values[reference.index]
    activation = float((values - reference).abs().mean().mean())
    variability = float(values.std(ddof=0).mean())
    if not (np.isfinite(activation) and np.isfinite(variability)):
        return None
    return {
        "index": round(activation + variability, 4),
        "activation_vs_baseline": round(activation, 4),
        "variability": round(variability, 4),
    }


def deviation_from_baseline(frames: pd.DataFrame, baseline: pd.Series) -> pd.Series:
    """Per frame: mean absolute difference from the baseline over AUs, valence and arousal."""
    columns = [c for c in ("valence", "arousal", *au_columns(frames)) if c in frames]
    values = frames[columns].astype(float)
    return (values - values[baseline].mean()).abs().mean(axis=1, skipna=True).fillna(0.0)


def notable_moments(
    frames: pd.DataFrame,
    baseline: pd.Series,
    markers: pd.DataFrame,
    config: InsightsConfig,
) -> list[dict[str, Any]]:
    """Up to ``n_moments`` frames most unlike the baseline, at least ``moment_spacing_s`` apart."""
    deviation = deviation_from_baseline(frames, baseline)
    moments: list[dict[str, Any]] = []
    aus = au_columns(frames)
    for index in deviation.sort_values(ascending=False, kind="stable").index:
        if len(moments) >= config.n_moments or deviation[index] <= 0:
            break
        t_s = float(frames.at[index, "t_seconds"])
        if any(abs(t_s - moment["t_s"]) < config.moment_spacing_s for moment in moments):
            continue
        row = frames.loc[index]
        active = (
            row[aus].astype(float).dropna().sort_values(ascending=False)
            if aus
            else pd.Series(dtype=float)
        )
        near = markers[(markers["t_seconds"] - t_s).abs() <= config.marker_window_s]
        moments.append(
            {
                "t_s": round(t_s, 3),
                "deviation": round(float(deviation[index]), 4),
                "label": str(row.get("label", "")),
                "valence": _rounded(row.get("valence")),
                "arousal": _rounded(row.get("arousal")),
                "top_action_units": {k: round(float(v), 3) for k, v in list(active.items())[:3]},
                "markers_nearby": [
                    {"t_s": round(float(m.t_seconds), 3), "note": str(m.note)}
                    for m in near.itertuples()
                ],
            }
        )
    return moments


def lighting(frames: pd.DataFrame) -> dict[str, Any] | None:
    """How many of the face's readings came from an over-exposed face (the ``overexposed``
    column); None when no reading measured it (recorded before revision r0005, or no crop)."""
    if "overexposed" not in frames:
        return None
    flags = frames["overexposed"].dropna()
    if flags.empty:
        return None
    n_overexposed = int(flags.astype(bool).sum())
    return {
        "n_measured": len(flags),
        "n_overexposed": n_overexposed,
        "overexposed_share": round(n_overexposed / len(flags), 4),
        "threshold": OVEREXPOSED_SHARE,
    }


def _rounded(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def face_insights(
    frames: pd.DataFrame,
    markers: pd.DataFrame,
    config: InsightsConfig,
    baseline_segment: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The insights of one tracked face (``frames`` holds that face's rows only)."""
    frames = frames.sort_values("t_seconds", kind="stable", ignore_index=True)
    baseline, baseline_record = baseline_rows(frames, config, baseline_segment)
    signal_columns = [c for c in ("valence", "arousal", *au_columns(frames)) if c in frames]
    baseline_record["means"] = _signal_means(frames[baseline], signal_columns)
    shares = time_share(frames, config.max_gap_s)
    runs = episodes(frames, config.max_gap_s)
    peaks = []
    for run in runs.itertuples():
        column = f"smoothed_{run.emotion}"
        # A one-frame run of a one-frame face lasts 0 s: its frame still belongs to it.
        inside = (
            (frames["t_seconds"] >= run.start_s) & (frames["t_seconds"] < run.end_s)
        ) | (frames["t_seconds"] == run.start_s)
        peaks.append(float(frames.loc[inside, column].max()) if column in frames else None)
    runs = runs.assign(peak=peaks)
    changes = transitions(frames, config.max_gap_s)
    spread = frames["valence"].astype(float).std(ddof=0) if "valence" in frames else np.nan
    movement = expressivity(frames, baseline)
    seen_s = float(frame_durations(frames, config.max_gap_s).sum())
    flat: dict[str, Any] | None = None
    if movement is not None and not pd.isna(spread):
        flat = {
            "indicated": bool(
                movement["index"] < config.flat_affect_below
                and spread < config.flat_valence_spread
            ),
            "expressivity_index": movement["index"],
            "valence_spread": round(float(spread), 4),
            "rule": f"expressivity index < {config.flat_affect_below} and valence spread "
            f"< {config.flat_valence_spread}, over at least {config.flat_affect_min_s:g} s of "
            "the face",
        }
        if seen_s < config.flat_affect_min_s:
            flat["indicated"] = None
            flat["not_assessed"] = (
                f"the face was seen for {seen_s:.1f} s; the rule needs at least "
                f"{config.flat_affect_min_s:g} s"
            )
    return {
        "track_id": int(frames["track_id"].iloc[0]),
        "duration_s": round(seen_s, 3),
        "n_frames": len(frames),
        "baseline": baseline_record,
        "time_share": {r.emotion: round(float(r.share), 4) for r in shares.itertuples()},
        "most_frequent": None if shares.empty else str(shares["emotion"].iloc[0]),
        "episodes": [
            {
                "emotion": r.emotion,
                "onset_s": round(float(r.start_s), 3),
                "duration_s": round(float(r.duration_s), 3),
                "peak": None if r.peak is None or pd.isna(r.peak) else round(float(r.peak), 4),
            }
            for r in runs.sort_values("duration_s", ascending=False).head(10).itertuples()
        ],
        "transitions": [
            {"from": r.from_emotion, "to": r.to_emotion, "count": int(r.count)}
            for r in changes.itertuples()
        ],
        "n_transitions": int(changes["count"].sum()) if not changes.empty else 0,
        "expressivity": movement,
        "flat_affect": flat,
        "notable_moments": notable_moments(frames, baseline, markers, config),
        "lighting": lighting(frames),
    }


def client_face(faces: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The face taken as the client's among a session's ``faces`` (from
    :func:`session_insights`): the one seen longest, then the one read most often, then the
    first. Another face in the picture (a relative, a visitor) is seen for less of a session."""
    if not faces:
        return None
    return max(faces, key=lambda face: (face["duration_s"], face["n_frames"]))


def session_insights(
    frames: pd.DataFrame,
    markers: pd.DataFrame | None = None,
    config: InsightsConfig | None = None,
    baseline_segment: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Insights of every face in a session, as a JSON-ready dict (see the module docstring).

    ``markers`` has ``t_seconds`` and ``note`` columns (clinician markers); ``baseline_segment``
    is ``(start_s, end_s)`` of a stretch marked as neutral, else the first ``baseline_s``.
    """
    config = config or InsightsConfig()
    for column in ("t_seconds", "track_id"):
        if column not in frames:
            raise ValueError(f"frames lack the column {column!r}")
    if markers is None:
        markers = pd.DataFrame({"t_seconds": [], "note": []})
    faces = [
        face_insights(group, markers, config, baseline_segment)
        for _, group in frames.groupby("track_id", sort=True)
    ]
    return {
        "about": "Descriptive summaries of what the software read from the face; not a "
        "diagnosis and not a measure of felt emotion.",
        "explanations": ABOUT,
        "settings": {
            "baseline_s": config.baseline_s,
            "max_gap_s": config.max_gap_s,
            "n_moments": config.n_moments,
            "flat_affect_below": config.flat_affect_below,
            "flat_valence_spread": config.flat_valence_spread,
            "flat_affect_min_s": config.flat_affect_min_s,
        },
        "faces": faces,
        "markers": [
            {"t_s": round(float(m.t_seconds), 3), "note": str(m.note)}
            for m in markers.itertuples()
        ],
    }
