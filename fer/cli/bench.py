"""Time a model per face (load time, one face per call, batches), or with --video the whole
frame pipeline (detection, alignment, model, smoothing) on every frame of a video.

Stop other heavy work while it runs: latency on a shared 2-core machine means little. Compare
figures only within one run, against a reference run beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer.cli import positive_int
from fer.models.inference import PIPELINE_TTA, TTA_CHOICES

EXAMPLE = """\
fer bench ferplus --repeats 1000 --record
fer bench --video $FER_DATA_DIR/videos/WolfgangLanger_Pexels.mp4 --model ferplus"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model name under models/ or a model directory")
    parser.add_argument(
        "--tta", nargs="?", const="mirror", choices=TTA_CHOICES, default=None,
        help="test-time views averaged per face (--tta alone: the mirror image; default: none, "
        f"with --video {PIPELINE_TTA})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    per_face = parser.add_argument_group("per face")
    per_face.add_argument("--backend", default="auto", choices=("auto", "tflite", "keras"))
    per_face.add_argument("--repeats", type=positive_int, default=300)
    per_face.add_argument("--batch-size", type=positive_int, default=64)
    per_face.add_argument(
        "--threads",
        type=positive_int,
        help="TFLite interpreter threads (default: $FER_THREADS or 2)",
    )
    per_face.add_argument(
        "--record",
        action="store_true",
        help="also write the figures into the model's card.json (with the default --batch-size "
        "64, the one the results table shows)",
    )
    video = parser.add_argument_group("whole pipeline on a video")
    video.add_argument("--video", type=Path, help="benchmark the frame pipeline on this file")
    video.add_argument("--model", dest="video_model", help="same as MODEL, for --video")
    video.add_argument(
        "--landmarker", type=Path, help="face_landmarker.task (default: $FER_DATA_DIR, data/)"
    )
    video.add_argument("--stride", type=positive_int, default=1, help="time every N-th frame")
    video.add_argument("--max-frames", type=positive_int, default=None)
    video.add_argument("--max-faces", type=positive_int, default=4)


def _run_video(args: argparse.Namespace) -> int:
    from fer.evaluation.bench_video import benchmark_video, format_report
    from fer.realtime.pipeline import DEFAULT_MODEL, EmotionRecognizer

    recognizer = EmotionRecognizer(
        model=args.video_model or args.model or DEFAULT_MODEL,
        max_faces=args.max_faces,
        landmarker_path=args.landmarker,  # None: where the README tells users to put it
        tta=args.tta or PIPELINE_TTA,
    )
    try:
        report = benchmark_video(
            args.video, recognizer, stride=args.stride, max_frames=args.max_frames
        )
    finally:
        recognizer.close()
    if recognizer.detector_warning:
        print(f"warning: {recognizer.detector_warning}", file=sys.stderr)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def run(args: argparse.Namespace) -> int:
    from fer.cli.landmarker_option import check_landmarker
    from fer.models.cards import ModelNotFoundError

    try:
        if args.video:
            if args.record:
                raise ValueError("--record keeps per-face figures; it does not apply to --video")
            if args.landmarker is not None:
                check_landmarker(args.landmarker)
            return _run_video(args)
        if not args.model:
            raise ValueError("give a MODEL or --video FILE")
        tta = args.tta or "none"
        if args.record and tta != "none":
            raise ValueError("--record keeps the cards' plain predict figures; drop --tta")
        from fer.evaluation.bench import benchmark_model, check_recordable, record_in_card

        if args.record:
            check_recordable(args.model, args.batch_size)
        result = benchmark_model(
            args.model, args.backend, args.repeats, args.batch_size, num_threads=args.threads,
            tta=tta,
        )
        if args.record:
            record_in_card(args.model, result, args.command_line.replace(" --record", ""))
    except (ModelNotFoundError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<36} {value}")
    return 0
