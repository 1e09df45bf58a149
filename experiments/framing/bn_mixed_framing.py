"""Should the Live default's batch-norm statistics come from the framing it was trained on?

``ferplus_videocall_balanced`` was trained on mixed framing (each face as FER2013 crops it or as
the pipeline re-aligns it, ``fer train --framing mixed``), but publishing recomputed its
batch-norm statistics on FER2013's crops only. This script recomputes them three ways on the FER+
Training faces and scores each variant on FER+ PublicTest (the selection split) as the robustness
suite makes it: FER2013's crops, and the suite's ``clean``, ``overexposed`` and ``occluded``
faces (re-detected and re-aligned). Keras, one pass, accuracy and macro-recall.

- ``dataset crops`` (what ships): the plain Training crops;
- ``mixed framing``: each face its crop or, where the landmarker found it, its re-aligned crop,
  with equal chance (seed 0), as training drew them;
- ``re-aligned``: the re-aligned crop wherever one exists.

    FER_DATA_DIR=/path/to/data python -m experiments.framing.bn_mixed_framing --write

The re-aligned Training crops come from the cache ``fer train --framing mixed`` builds in
``data/cache`` (5.5 min to build when missing). ``--write`` stores the table in
``experiments/framing/results/bn_mixed_framing.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MODEL = "ferplus_videocall_balanced"
CONDITIONS = ("clean", "overexposed", "occluded")
OUTPUT = Path(__file__).resolve().parent / "results" / "bn_mixed_framing.json"


def _landmarker(data_dir: Path) -> Path:
    from fer.config import find_face_landmarker

    path = find_face_landmarker(data_dir)
    if path is None:
        raise FileNotFoundError(f"face_landmarker.task is not in {data_dir}")
    return path


def training_variants(seed: int = 0) -> dict[str, np.ndarray]:
    """FER+ Training faces (N, 48, 48) for each way of recomputing the statistics."""
    from fer.config import CACHE_DIR, data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.training.framing import pipeline_framed

    data_dir = data_dir_from_env()
    fer2013 = load_dataset("fer2013", data_dir)
    ferplus = load_dataset("ferplus", data_dir)
    rows = np.flatnonzero(fer2013.splits == "Training")
    crops = fer2013.images[rows]
    # The cache is keyed by all FER2013 Training faces, as training builds it.
    framed, found = pipeline_framed(crops, _landmarker(data_dir), CACHE_DIR)
    training_ids = ferplus.row_ids[ferplus.splits == "Training"]
    keep = np.isin(fer2013.row_ids[rows], training_ids)
    draw = np.random.default_rng(seed).random(len(rows)) < 0.5
    return {
        "dataset crops": crops[keep],
        "mixed framing": np.where((found & draw)[:, None, None], framed, crops)[keep],
        "re-aligned": np.where(found[:, None, None], framed, crops)[keep],
    }


def evaluation_sets(conditions=CONDITIONS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """FER+ PublicTest faces and labels: FER2013's crops and the suite's ``conditions``."""
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.evaluation.robustness import degraded_frames, realigned_crops

    data_dir = data_dir_from_env()
    test = load_dataset("ferplus", data_dir).split("PublicTest")
    sets = {"FER2013's crops": (test.images, test.labels)}
    for condition in conditions:
        frames = degraded_frames(test.images, condition)
        found, crops = realigned_crops(frames, _landmarker(data_dir))
        sets[condition] = (crops, test.labels[found])
        print(f"{condition}: {found.mean():.1%} of {len(found)} faces found", flush=True)
    return sets


def scores(model, faces: np.ndarray, labels: np.ndarray, n_classes: int) -> dict:
    from fer.evaluation.robustness import recall_per_class

    probabilities = model.predict(faces[..., None].astype(np.float32), batch_size=512, verbose=0)
    predicted = probabilities.argmax(axis=1)
    recalls = recall_per_class(labels, predicted, n_classes)
    return {
        "accuracy": round(float((predicted == labels).mean()), 4),
        "macro_recall": round(float(np.nanmean(recalls)), 4),
        "n_faces": int(len(labels)),
    }


def main() -> None:
    import keras

    from fer.models.cards import KERAS_FILE
    from fer.models.zoo import recalibrate_batch_norm

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the table in {OUTPUT}")
    args = parser.parse_args()
    model_path = ROOT / "models" / MODEL / KERAS_FILE
    sets = evaluation_sets()
    table: dict[str, dict] = {}
    for variant, faces in training_variants().items():
        model = keras.models.load_model(model_path, compile=False)
        recalibrate_batch_norm(model, faces)
        n_classes = int(model.output_shape[-1])
        table[variant] = {name: scores(model, *pair, n_classes) for name, pair in sets.items()}
        row = "  ".join(
            f"{name} {100 * result['accuracy']:.2f} % / {result['macro_recall']:.3f}"
            for name, result in table[variant].items()
        )
        print(f"{variant}: {row}", flush=True)
    if args.write:
        write_record(OUTPUT, "experiments.framing.bn_mixed_framing", table)


def write_record(output: Path, script: str, results: dict) -> None:
    """Store ``results`` of the PublicTest check ``script`` (a module name) in ``output``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "model": MODEL,
        "split": "PublicTest (FER+)",
        "command": f"python -m {script} --write",
        "results": results,
    }
    output.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
