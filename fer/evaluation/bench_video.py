"""Per-frame latency of the full pipeline on a video file.

    fer bench --video FILE [--model ferplus] [--landmarker PATH] [--stride 1]

Decoding is timed apart from the pipeline: a webcam delivers decoded frames, so the figure that
matters for the live view is ``recognizer.process`` alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fer.realtime.pipeline import EmotionRecognizer
from fer.realtime.video import iter_frames, probe_video

TARGET_P95_MS = 25.0
STRETCH_P95_MS = 16.0
TARGET_FACE_SHARE = 0.99


def benchmark_video(
    path: str | Path,
    recognizer: EmotionRecognizer,
    stride: int = 1,
    max_frames: int | None = None,
    warmup_frames: int = 3,
) -> dict:
    """Time ``recognizer.process`` on every ``stride``-th frame of a video.

    The model and detector are loaded before timing; the first ``warmup_frames`` frames (first
    inference allocates buffers) count for the face share but not for the latency figures.

    Returns
    -------
    dict
        ``n_frames``, ``face_share``, ``median_ms``, ``p95_ms``, ``mean_ms``, ``max_ms``,
        ``fps`` (1000 / mean), ``stage_median_ms`` (detect/align/predict/track),
        ``decode_median_ms``, ``detector``, ``video`` (size and frame rate), ``warmup_frames``.
    """
    info = probe_video(path)
    recognizer.reset()
    recognizer.load()
    totals, decodes, n_with_face = [], [], 0
    stages: dict[str, list[float]] = {}
    last = time.perf_counter()
    for _, t_s, frame in iter_frames(path, stride=stride, max_frames=max_frames):
        started = time.perf_counter()
        decodes.append((started - last) * 1e3)
        faces = recognizer.process(frame, t_s)
        last = time.perf_counter()
        totals.append((last - started) * 1e3)
        n_with_face += bool(faces)
        for stage, value in recognizer.last_timings_ms.items():
            stages.setdefault(stage, []).append(value)
    n_frames = len(totals)
    timed = np.array(totals[warmup_frames:] if n_frames > warmup_frames else totals)
    return {
        "video": {"name": info.path.name, "width": info.width, "height": info.height,
                  "fps": round(info.fps, 3)},
        "detector": recognizer.detector_kind,
        "classes": recognizer.classes,
        "tta": recognizer.tta,
        "n_frames": n_frames,
        "stride": stride,
        "warmup_frames": min(warmup_frames, n_frames),
        "face_share": n_with_face / n_frames if n_frames else 0.0,
        "median_ms": float(np.median(timed)),
        "p95_ms": float(np.percentile(timed, 95)),
        "mean_ms": float(timed.mean()),
        "max_ms": float(timed.max()),
        "fps": float(1000.0 / timed.mean()),
        "stage_median_ms": {
            stage: float(np.median(values[warmup_frames:] or values))
            for stage, values in stages.items()
            if stage != "total"
        },
        "decode_median_ms": float(np.median(decodes)),
    }


def format_report(report: dict) -> str:
    """Human-readable lines with the targets alongside."""
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report["stage_median_ms"].items())
    meets = "meets" if report["p95_ms"] <= TARGET_P95_MS else "misses"
    video = report["video"]
    return "\n".join(
        [
            f"video      {video['name']} {video['width']}x{video['height']} @ {video['fps']} fps",
            f"detector   {report['detector']}; classes {len(report['classes'])}; "
            f"test-time views {report['tta']}",
            f"frames     {report['n_frames']} (stride {report['stride']}, "
            f"{report['warmup_frames']} warm-up frames not timed)",
            f"face share {report['face_share']:.1%} (target >= {TARGET_FACE_SHARE:.0%})",
            f"per frame  median {report['median_ms']:.1f} ms, p95 {report['p95_ms']:.1f} ms, "
            f"max {report['max_ms']:.1f} ms -> {report['fps']:.0f} fps "
            f"({meets} p95 <= {TARGET_P95_MS:.0f} ms; stretch {STRETCH_P95_MS:.0f} ms)",
            f"stages     median ms: {stages}",
            f"decode     median {report['decode_median_ms']:.1f} ms (not in the figures above)",
        ]
    )
