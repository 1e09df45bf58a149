"""Do the suite's video-call conditions cost more together than one at a time?

The robustness suite degrades each face one way at a time; on a real call a small face, sensor
noise and a low-bitrate codec come together (the smoothing experiment's webcam footage turned a
crying face neutral for a second). This script takes the FER+ PublicTest faces as the suite
makes them (enlarged with context, then re-detected and re-aligned by the pipeline) and applies
the suite's own degradations in the order a call applies them: a small face (``low_resolution``),
then sensor noise (``noise``), then one H.264 stream at the suite's bitrate (``h264``). It prints
the Live default's detection rate, accuracy and macro-recall with 95 % intervals (Keras, one
pass), for each condition alone and for the combinations.

    FER_DATA_DIR=/path/to/data python -m experiments.combined_conditions --write

``--write`` stores the table in ``experiments/results/combined_conditions.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "experiments" / "results" / "combined_conditions.json"
# Each row: the suite's degradations applied in this order.
COMBINATIONS = (
    ("clean",),
    ("low_resolution",),
    ("noise",),
    ("h264",),
    ("low_resolution", "noise"),
    ("noise", "h264"),
    ("low_resolution", "h264"),
    ("low_resolution", "noise", "h264"),
)


def degraded(faces: np.ndarray, steps: tuple[str, ...], seed: int = 0) -> list[np.ndarray]:
    """The suite's frames of ``faces`` with its degradations ``steps`` applied in order."""
    from fer.evaluation.robustness import PER_IMAGE, degraded_frames, through_codec

    frames = degraded_frames(faces, "clean")
    rng = np.random.default_rng(seed)
    for step in steps:
        if step == "h264":
            frames = through_codec(frames, "libx264")
        else:
            frames = [PER_IMAGE[step](frame, rng) for frame in frames]
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the table in {OUTPUT}")
    args = parser.parse_args()

    import keras

    import fer.data.preprocess  # noqa: F401  (registers the model's layers for loading)
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.evaluation.robustness import condition_scores, realigned_crops
    from fer.models.cards import KERAS_FILE
    from fer.realtime.pipeline import DEFAULT_MODEL

    data_dir = data_dir_from_env()
    model = keras.models.load_model(ROOT / "models" / DEFAULT_MODEL / KERAS_FILE, compile=False)
    test = load_dataset("ferplus", data_dir).split("PublicTest")
    results = {}
    for steps in COMBINATIONS:
        name = " + ".join(steps)
        found, crops = realigned_crops(degraded(test.images, steps),
                                       data_dir / "face_landmarker.task")
        predicted = model.predict(
            crops[..., None].astype(np.float32), batch_size=512, verbose=0
        ).argmax(axis=1)
        scores = condition_scores(test.labels[found], predicted, test.class_names, len(found),
                                  condition=name)
        results[name] = {key: scores[key] for key in (
            "detection_rate", "accuracy", "accuracy_95", "macro_recall", "macro_recall_95",
            "recall",
        )}
        print(f"{name}: found {scores['detection_rate']:.1%}, accuracy {scores['accuracy']:.2%} "
              f"{scores['accuracy_95']}, macro-recall {scores['macro_recall']:.3f} "
              f"{scores['macro_recall_95']}", flush=True)
    clean = results["clean"]["accuracy"]
    print(f"\n| degradations | faces found | accuracy | vs clean | macro-recall |  "
          f"({DEFAULT_MODEL}, Keras, one pass, FER+ PublicTest)")
    print("|---|---|---|---|---|")
    for name, row in results.items():
        low, high = row["accuracy_95"]
        print(f"| {name} | {100 * row['detection_rate']:.1f} % | {100 * row['accuracy']:.2f} % "
              f"({100 * low:.1f}-{100 * high:.1f}) | {100 * (row['accuracy'] - clean):+.1f} "
              f"| {row['macro_recall']:.3f} |")
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        record = {"model": DEFAULT_MODEL, "split": "PublicTest (FER+)",
                  "command": "python -m experiments.combined_conditions --write",
                  "results": results}
        OUTPUT.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
