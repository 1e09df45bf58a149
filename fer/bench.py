"""Benchmark CLI.

``python -m fer.bench MODEL``: model load time and ``predict`` latency, single face and batched
(median over repeated runs, ms per face), on real FER2013 faces when ``FER_DATA_DIR`` is set.
``python -m fer.bench --video FILE``: the whole frame pipeline on a video (see fer.bench_video).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from numpy.typing import NDArray

from fer.inference import TTA_CHOICES


def _benchmark_faces(n_faces: int, seed: int) -> NDArray[np.uint8]:
    from fer.config import data_dir_from_env

    data_dir = data_dir_from_env(required=False)
    if data_dir is not None:
        from fer.data import load_dataset

        faces = load_dataset("fer2013", data_dir).split("PrivateTest").images
        return faces[np.random.default_rng(seed).choice(len(faces), n_faces, replace=False)]
    # Latency does not depend on pixel values; random faces keep the benchmark usable without data.
    return np.random.default_rng(seed).integers(0, 256, (n_faces, 48, 48), dtype=np.uint8)


def benchmark_model(
    name: str,
    backend: str = "auto",
    repeats: int = 200,
    batch_size: int = 64,
    seed: int = 0,
    num_threads: int | None = None,
    tta: str = "none",
) -> dict:
    """Load time and median ms/face for one face per call and for batches of ``batch_size``.

    ``tta`` times predictions averaged over test-time views (``predict(..., tta=...)``), e.g.
    ``"mirror+zoom"`` as the frame pipeline makes them.
    """
    faces = _benchmark_faces(max(batch_size, 64), seed)
    started = time.perf_counter()
    from fer.inference import load_model

    model = load_model(name, backend=backend, num_threads=num_threads)
    model.predict(faces[0])  # the first call allocates; it is load cost, not per-face cost
    load_ms = (time.perf_counter() - started) * 1e3
    return {
        "model": model.name,
        "backend": model.backend,
        # Single faces always run on one thread; batches on ``batch_threads`` (fer.inference).
        "batch_threads": model.num_threads,
        "load_ms_incl_first_call": round(load_ms, 1),
        "tta": tta,
        **time_predict(model, faces, repeats, batch_size, tta),
        "repeats": repeats,
        "faces": "FER2013 PrivateTest" if len(faces) and _has_data() else "random uint8",
    }


def time_predict(
    model, faces: NDArray[np.uint8], repeats: int, batch_size: int, tta: str = "none"
) -> dict:
    """Median (and p95) ms of ``model.predict`` on one face, and ms per face on batches."""
    model.predict(faces[0], tta=tta)
    single = []
    for index in range(repeats):
        face = faces[index % len(faces)]
        tick = time.perf_counter()
        model.predict(face, tta=tta)
        single.append(time.perf_counter() - tick)
    batch = faces[:batch_size]
    model.predict(batch, tta=tta)
    batched = []
    for _ in range(max(10, repeats // 10)):
        tick = time.perf_counter()
        model.predict(batch, tta=tta)
        batched.append((time.perf_counter() - tick) / batch_size)
    return {
        "single_face_ms_median": round(float(np.median(single)) * 1e3, 4),
        "single_face_ms_p95": round(float(np.percentile(single, 95)) * 1e3, 4),
        f"batched_{batch_size}_ms_per_face_median": round(float(np.median(batched)) * 1e3, 4),
    }


def _has_data() -> bool:
    from fer.config import data_dir_from_env

    return data_dir_from_env(required=False) is not None


def benchmark_key(backend: str, threads: int, vector_extension: str) -> str:
    """The card's ``benchmark`` entry for one backend, thread count and CPU class.

    One entry per CPU class (``fer.config.cpu_vector_extension``): an AVX2-only machine runs the
    same file ~6x slower than an AVX-512 one, and its figures must not replace the other's.
    """
    key = backend + (f"_{threads}_threads" if threads else "")
    vector = vector_extension.replace(" ", "_")
    return key + (f"_{vector}" if vector else "")


def _record_in_card(model_name: str, result: dict, argv: list[str] | None) -> None:
    from fer.config import cpu_vector_extension, machine_description
    from fer.inference import CARD_FILE, resolve_model_dir

    card_path = resolve_model_dir(model_name) / CARD_FILE
    card = json.loads(card_path.read_text())
    arguments = [arg for arg in (argv if argv is not None else sys.argv[1:]) if arg != "--record"]
    key = benchmark_key(result["backend"], result["batch_threads"], cpu_vector_extension())
    card.setdefault("benchmark", {})[key] = {
        **result,
        "command": "python -m fer.bench " + " ".join(arguments),
        "machine": machine_description(),
    }
    card_path.write_text(json.dumps(card, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fer.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("model", nargs="?", help="model name under models/ or a model directory")
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "keras"))
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, help="TFLite interpreter threads (default: $FER_THREADS or 2)"
    )
    parser.add_argument("--video", help="benchmark the full frame pipeline on this video file")
    parser.add_argument(
        "--tta", nargs="?", const="mirror", default=None,
        choices=TTA_CHOICES,
        help="time predictions averaged over test-time views (mirror+zoom: the pipeline's; "
        "default none, with --video mirror+zoom)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--record", action="store_true", help="also write the figures into the model's card.json"
    )
    args, rest = parser.parse_known_args(argv)
    if args.video:
        from fer.bench_video import main as video_main

        # The model goes straight after the file: argparse cannot take a positional after flags.
        views = ["--tta", args.tta] if args.tta else []
        return video_main([args.video, *([args.model] if args.model else []), *views, *rest])
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    if not args.model:
        parser.error("give a MODEL or --video FILE")
    args.tta = args.tta or "none"
    if args.record and args.tta != "none":
        parser.error("--record keeps the cards' plain predict figures; drop --tta to record")
    from fer.inference import ModelNotFoundError

    try:
        result = benchmark_model(
            args.model, args.backend, args.repeats, args.batch_size, num_threads=args.threads,
            tta=args.tta,
        )
    except (ModelNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.record:
        _record_in_card(args.model, result, argv)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<36} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
