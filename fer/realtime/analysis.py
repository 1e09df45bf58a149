"""Offline analysis of images, videos and folders: one row per face per analysed frame, and the
session insights of each source (what ``fer analyze`` writes).

A video that ends early or is partly damaged is analysed as far as it decodes, and the analysis
says so in its notes; nothing is dropped silently. With a consent on record, each analysed
source can be stored as a session (:func:`record_analysis`), as the Upload page stores a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.files import replacing
from fer.realtime.signals import ACTION_UNITS, HEAD_POSE_AXES
from fer.realtime.upload import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    decode_image,
    faces_left_out_note,
    largest_faces,
    video_faces_left_out_note,
)
from fer.sessions.insights import session_insights
from fer.sessions.records import FrameRecord

FRAMES_FILE = "frames.csv"
SUMMARY_FILE = "summary.json"


@dataclass
class SourceAnalysis:
    """What one image or video gave: a frame table in the session store's column names, notes
    for the user, and the insights of its faces."""

    source: str
    kind: str  # "image" or "video"
    frames: pd.DataFrame
    n_frames_analysed: int
    notes: list[str] = field(default_factory=list)
    insights: dict[str, Any] = field(default_factory=dict)
    # The faces as the session store takes them (kept only when asked, for recording).
    records: list[FrameRecord] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    session_id: int | None = None  # set once the analysis is stored as a session


def expand_sources(paths: Iterable[str | Path]) -> list[Path]:
    """Image and video files named by ``paths``; a folder contributes its supported files
    (recursively, sorted). Missing paths and unsupported files are a ``ValueError`` naming them.

    A file named more than once (``clips/ clips/a.mp4``, or ``a.mp4 ./a.mp4``) is listed once,
    where it is first named: with ``--record`` each listed file becomes a session, and one
    recording stored twice would count twice in the person's history.
    """
    suffixes = {f".{suffix}" for suffix in (*IMAGE_TYPES, *VIDEO_TYPES)}
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in suffixes and p.is_file()
            )
            if not found:
                raise ValueError(f"{path} holds no image or video file ({', '.join(suffixes)})")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise ValueError(
                    f"{path} is neither an image ({', '.join(IMAGE_TYPES)}) nor a video "
                    f"({', '.join(VIDEO_TYPES)})"
                )
            files.append(path)
        else:
            raise ValueError(f"{path} does not exist")
    seen: set[Path] = set()
    unique = []
    for file in files:
        resolved = file.resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(file)
    return unique


def result_row(t_s: float, result: Any, classes: Sequence[str]) -> dict[str, Any]:
    """One face of one frame in the session store's column names (plus the signals)."""
    row: dict[str, Any] = {
        "t_seconds": float(t_s),
        "track_id": int(result.track_id),
        "label": result.label,
        "confidence": float(result.confidence),
        "overexposed": bool(getattr(result, "overexposed", False)),
    }
    for index, name in enumerate(classes):
        row[f"prob_{name}"] = float(result.probs[index])
        row[f"smoothed_{name}"] = float(result.smoothed[index])
    row["valence"], row["arousal"] = result.valence, result.arousal
    for au in ACTION_UNITS:
        row[au] = None if result.action_units is None else result.action_units.get(au)
    for axis in HEAD_POSE_AXES:
        row[axis] = None if result.head_pose is None else result.head_pose.get(axis)
    return row


def analyse_source(
    path: Path,
    make_recognizer: Callable[[str, int], Any],
    stride: int = 1,
    on_frame: Callable[[], None] | None = None,
    keep_records: bool = False,
    max_faces: int = 4,
) -> SourceAnalysis:
    """Analyse one image or video; ``make_recognizer(kind, max_faces)`` gives a fresh
    recognizer that finds up to ``max_faces`` faces per frame.

    Each frame is searched for one face more than ``max_faces``, so that faces left out are
    named in a note (as the Upload page does) and the largest ``max_faces`` are kept.

    With ``keep_records`` the result also holds every face as a ``FrameRecord`` (landmarks and
    signals included), for :func:`record_analysis`. ``ValueError`` for a file that cannot be
    analysed at all (unreadable, no decodable frame).
    """
    from fer.realtime.video import check_frame_size, iter_frames, probe_video, truncation_note

    kind = "image" if path.suffix.lower().lstrip(".") in IMAGE_TYPES else "video"
    started_at = datetime.now(UTC)
    recognizer = make_recognizer(kind, max_faces + 1)
    rows: list[dict[str, Any]] = []
    records: list[FrameRecord] = []
    notes: list[str] = []
    try:
        classes = recognizer.classes
        frames: Iterable[tuple[int, float, NDArray[np.uint8]]]
        if kind == "image":
            frames = [(0, 0.0, decode_image(path.read_bytes()))]
            expected, duration_s = 1, 0.0
        else:
            info = probe_video(path)
            check_frame_size(info)  # as the Upload page does, before any frame is decoded
            frames = iter_frames(path, stride=stride)
            expected = info.frames_at_stride(stride)
            duration_s = info.duration_s
        n_analysed, last_index, last_t_s, n_over = 0, -1, 0.0, 0
        for frame_index, t_s, frame_bgr in frames:
            results = recognizer.process(frame_bgr, t_s)
            if len(results) > max_faces:
                results = largest_faces(results, max_faces)
                n_over += 1
            for result in results:
                rows.append(result_row(t_s, result, classes))
                if keep_records:
                    records.append(FrameRecord.from_result(t_s, result))
            n_analysed, last_index, last_t_s = n_analysed + 1, frame_index, t_s
            if on_frame is not None:
                on_frame()
        if recognizer.detector_warning:
            notes.append(recognizer.detector_warning)
    finally:
        recognizer.close()
    if n_over and kind == "image":
        notes.append(f"{path.name}: {faces_left_out_note(max_faces)}")
    elif n_over:
        notes.append(video_faces_left_out_note(path.name, max_faces, n_over, n_analysed))
    truncated = truncation_note(
        path.name, n_analysed, expected, last_index, last_t_s, duration_s
    )
    if kind == "video" and truncated:
        notes.append(truncated)
    if not rows:
        notes.append(f"{path.name}: no face was found in any analysed frame.")
    table = pd.DataFrame(rows)
    insights = session_insights(table) if rows else {}
    return SourceAnalysis(
        str(path), kind, table, n_analysed, notes, insights, records, started_at,
        datetime.now(UTC),
    )


def record_analysis(
    store: Any,
    consent_id: int | None,
    analysis: SourceAnalysis,
    model_label: str,
    classes: Sequence[str],
    owner_id: int | None = None,
    actor: str | None = None,
) -> int | None:
    """Store one analysed source as an ended session under a recorded consent (source
    ``"image"`` or ``"video"``, its faces with their signals) and return the session's id;
    with ``actor``, its ``record_session`` audit entry in the same transaction.

    A source without any face is not stored (None, and a note says so). The records are
    released once stored. Raises what ``SessionStore.create_session`` raises (``ConsentError``,
    ``ValueError``), leaving nothing stored for this source.
    """
    if not analysis.records:
        if not analysis.frames.empty:
            raise ValueError(f"{analysis.source} was analysed without keep_records")
        analysis.notes.append(f"{Path(analysis.source).name}: not stored, no face to record.")
        return None
    if consent_id is None:
        raise ValueError("a session with faces needs the consent it is stored under")
    session_id = store.create_session(
        consent_id, model_label, classes, analysis.kind,
        notes=f"Analysed file: {Path(analysis.source).name}",
        started_at=analysis.started_at, frames=analysis.records,
        ended_at=analysis.ended_at, owner_id=owner_id, actor=actor,
    )
    analysis.session_id, analysis.records = int(session_id), []
    return analysis.session_id



def frames_csv_table(analyses: Sequence[SourceAnalysis], classes: Sequence[str]) -> pd.DataFrame:
    """All sources' frames in ``frames.csv``'s columns: ``source, time_s, track_id, label,
    confidence, overexposed`` (the face too bright to be read reliably), ``p_<class>`` per
    class, ``valence, arousal``, one column per AU, ``yaw, pitch, roll``."""
    columns = [
        "source", "time_s", "track_id", "label", "confidence", "overexposed",
        *(f"p_{name}" for name in classes), "valence", "arousal", *ACTION_UNITS, *HEAD_POSE_AXES,
    ]
    parts = []
    for analysis in analyses:
        if analysis.frames.empty:
            continue
        frame = analysis.frames.rename(
            columns={"t_seconds": "time_s", **{f"prob_{name}": f"p_{name}" for name in classes}}
        )
        frame.insert(0, "source", analysis.source)
        parts.append(frame.reindex(columns=columns))
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def output_paths(out_dir: Path) -> tuple[Path, Path]:
    """Where a run into ``out_dir`` writes ``frames.csv`` and ``summary.json``."""
    return out_dir / FRAMES_FILE, out_dir / SUMMARY_FILE


def summary_text(
    analyses: Sequence[SourceAnalysis], classes: Sequence[str], extra: dict[str, Any]
) -> str:
    """``summary.json``: ``extra``, the classes and, per source, what was analysed and found."""
    summary = {
        **extra,
        "classes": list(classes),
        "sources": [
            {
                "source": analysis.source,
                "kind": analysis.kind,
                "n_frames_analysed": analysis.n_frames_analysed,
                "n_face_rows": len(analysis.frames),
                "n_face_rows_overexposed": int(
                    analysis.frames.get("overexposed", pd.Series(dtype=bool)).sum()
                ),
                "notes": analysis.notes,
                "session_id": analysis.session_id,
                "insights": analysis.insights,
            }
            for analysis in analyses
        ],
    }
    return json.dumps(summary, indent=1, allow_nan=False, default=_plain)


def write_outputs(
    analyses: Sequence[SourceAnalysis],
    classes: Sequence[str],
    out_dir: Path,
    extra: dict[str, Any],
    before_replacing: Callable[[], None] | None = None,
) -> tuple[Path, Path]:
    """Write ``frames.csv`` and ``summary.json`` into ``out_dir``; returns both paths.

    Both files describe people's faces, so new ones are readable by their owner only. Each is
    written whole beside its final name first; only when both are complete do they replace
    what ``out_dir`` held, and on any error (``OSError`` for a full disk) neither does.

    ``before_replacing``, when given, is called at that point (``fer analyze --record`` stores
    the sessions there, so a file that cannot be written stores nothing); it may change the
    analyses and ``extra`` (session ids, refusals), and ``summary.json`` is written again with
    them. When it raises, nothing is replaced.
    """
    frames_path, summary_path = output_paths(out_dir)
    with (
        replacing(frames_path, private=True) as frames_temporary,
        replacing(summary_path, private=True) as summary_temporary,
    ):
        frames_csv_table(analyses, classes).to_csv(frames_temporary, index=False)
        summary_temporary.write_text(summary_text(analyses, classes, extra))
        if before_replacing is not None:
            before_replacing()
            summary_temporary.write_text(summary_text(analyses, classes, extra))
    return frames_path, summary_path


def _plain(value: Any) -> Any:
    """JSON for NumPy scalars that slipped into a summary."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
