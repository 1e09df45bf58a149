"""Analyse images, videos and folders offline: expressions, action units, valence/arousal and
head pose for every face in every analysed frame.

Writes OUT/frames.csv (one row per face per frame: source, time_s, track_id, label, confidence,
p_<class> per class, valence, arousal, one column per action unit, yaw, pitch, roll) and
OUT/summary.json (per source: frames analysed, notes such as a video that ends early, and the
session insights of each face). The figures describe faces; they are not diagnoses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.models.inference import PIPELINE_TTA, TTA_CHOICES

EXAMPLE = """\
fer analyze interview.mp4 photos/ --out results/
fer analyze session.mp4 --out results/ --stride 3 --model fer2013"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="image or video files, or folders")
    parser.add_argument("--out", type=Path, required=True, help="folder for the two files")
    parser.add_argument("--model", default=None, help="model name or directory (default: the "
                        "Live page's)")
    parser.add_argument("--stride", type=int, default=1, help="analyse every N-th video frame")
    parser.add_argument("--max-faces", type=int, default=4, help="faces per frame")
    parser.add_argument("--tta", choices=TTA_CHOICES, default=PIPELINE_TTA,
                        help="test-time views averaged per face")
    parser.add_argument("--landmarker", type=Path,
                        help="face_landmarker.task (default: $FER_DATA_DIR, then data/)")


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from fer.realtime.analysis import analyse_source, expand_sources, write_outputs
    from fer.realtime.pipeline import DEFAULT_MODEL, EmotionRecognizer
    from fer.realtime.smoothing import SmoothingConfig

    if args.stride < 1 or args.max_faces < 1:
        print("error: --stride and --max-faces must be at least 1", file=sys.stderr)
        return 2
    try:
        sources = expand_sources(args.paths)
        from fer.models.inference import load_model

        model = load_model(args.model or DEFAULT_MODEL)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    def make_recognizer(kind: str) -> EmotionRecognizer:
        # A still image has no history to smooth; the uncertain threshold still applies.
        smoothing = SmoothingConfig(method="none", min_dwell_s=0) if kind == "image" else None
        return EmotionRecognizer(
            model=model, smoothing=smoothing, max_faces=args.max_faces,
            landmarker_path=args.landmarker, tta=args.tta,
        )

    analyses, failures = [], []
    with tqdm(desc="frames", unit="frame") as progress:
        for path in tqdm(sources, desc="files", unit="file"):
            try:
                analyses.append(
                    analyse_source(path, make_recognizer, args.stride, lambda: progress.update())
                )
            except (ValueError, FileNotFoundError) as error:
                failures.append(f"{path}: {error}")
    for analysis in analyses:
        for note in analysis.notes:
            print(f"note: {note}", file=sys.stderr)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    extra = {"model": model.name, "tta": args.tta, "stride": args.stride,
             "command": args.command_line, "failed": failures}
    frames_path, summary_path = write_outputs(analyses, list(model.classes), args.out, extra)
    print(f"{frames_path}\n{summary_path}")
    return 2 if failures and not analyses else (1 if failures else 0)
