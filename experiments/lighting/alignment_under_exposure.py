"""Is the over-exposure loss in where the pipeline crops the face, or in what the crop shows?

The robustness suite's over-exposed faces (brightness x1.8, clipped) cost the Live default about
5 points against clean ones. Over-exposure changes two things the model depends on: the
landmarks the pipeline aligns the face by (found on the bright frame) and the pixels of the crop.
This script takes the FER+ PublicTest faces as the suite makes them and crops each over-exposed
frame three ways, then prints the Live default's accuracy and macro-recall (Keras, one pass):

- ``as the suite does``: landmarks found on the over-exposed frame;
- ``clean landmarks``: landmarks found on the same face's clean frame (the alignment over-exposure
  cannot spoil; an upper bound of what better landmarks could give back);
- ``darkened for the landmarker``: landmarks found on the over-exposed frame darkened by
  ``LANDMARKER_GAMMA`` (what the pipeline could do without knowing the clean frame).

The crop is always cut from the over-exposed frame, so only the alignment differs. Faces enter
the table when the landmarker found them in both the clean and the over-exposed frame (and in
the darkened one for its row), so the rows compare the same faces.

    FER_DATA_DIR=/path/to/data python -m experiments.lighting.alignment_under_exposure --write

``--write`` stores the table in ``experiments/lighting/results/alignment_under_exposure.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.framing.bn_mixed_framing import MODEL, ROOT, write_record
from experiments.lighting.exposure_compensation import macro_recall
from experiments.lighting.overexposure_flag import write_option

LANDMARKER_GAMMA = 2.0
OUTPUT = Path(__file__).resolve().parent / "results" / "alignment_under_exposure.json"


def darkened_frame(frame: np.ndarray, gamma: float) -> np.ndarray:
    table = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return table[frame]


def detect_all(detector, frames) -> list:
    """The first face the landmarker finds in each frame, or None."""
    found = []
    for frame in frames:
        faces = detector.detect(np.ascontiguousarray(frame, dtype=np.uint8))
        found.append(faces[0] if faces else None)
    return found


def crops_from(frames, faces) -> np.ndarray:
    import cv2

    from fer.realtime.alignment import align_detected

    return np.stack([
        align_detected(np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), np.uint8), face)
        for frame, face in zip(frames, faces, strict=True)
    ])


def main() -> None:
    import keras

    import fer.data.preprocess  # noqa: F401  (registers the model's layers for loading)
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.evaluation.robustness import degraded_frames
    from fer.models.cards import KERAS_FILE
    from fer.realtime.faces import LandmarkerDetector

    write = write_option(__doc__.split("\n")[0], OUTPUT)
    data_dir = data_dir_from_env()
    model = keras.models.load_model(ROOT / "models" / MODEL / KERAS_FILE, compile=False)
    test = load_dataset("ferplus", data_dir).split("PublicTest")
    clean = degraded_frames(test.images, "clean")
    bright = degraded_frames(test.images, "overexposed")
    darkened = [darkened_frame(frame, LANDMARKER_GAMMA) for frame in bright]
    detector = LandmarkerDetector(
        data_dir / "face_landmarker.task", max_faces=1, mode="image", blendshapes=False
    )
    try:
        on_clean, on_bright, on_darkened = (
            detect_all(detector, frames) for frames in (clean, bright, darkened)
        )
    finally:
        detector.close()
    both = np.array([c is not None and b is not None for c, b in zip(on_clean, on_bright,
                                                                     strict=True)])
    print(f"faces found: clean {np.mean([f is not None for f in on_clean]):.1%}, over-exposed "
          f"{np.mean([f is not None for f in on_bright]):.1%}, darkened "
          f"{np.mean([f is not None for f in on_darkened]):.1%} of {len(clean)}", flush=True)

    def row(frames, faces, keep: np.ndarray) -> dict:
        index = np.flatnonzero(keep)
        crops = crops_from([frames[i] for i in index], [faces[i] for i in index])
        labels = test.labels[index]
        predicted = model.predict(
            crops[..., None].astype(np.float32), batch_size=512, verbose=0
        ).argmax(axis=1)
        return {
            "accuracy": round(float((predicted == labels).mean()), 4),
            "macro_recall": round(macro_recall(predicted, labels), 4),
            "n_faces": int(len(labels)),
        }

    with_darkened = both & np.array([f is not None for f in on_darkened])
    results = {
        "clean frame, clean landmarks": row(clean, on_clean, both),
        "over-exposed, as the suite does": row(bright, on_bright, both),
        "over-exposed, clean landmarks": row(bright, on_clean, both),
        "over-exposed, as the suite does (faces the darkened frame also gives)": row(
            bright, on_bright, with_darkened
        ),
        f"over-exposed, landmarks on the frame darkened by gamma {LANDMARKER_GAMMA}": row(
            bright, on_darkened, with_darkened
        ),
    }
    print(f"| crop | accuracy | macro-recall | faces |  ({MODEL}, Keras, one pass)")
    print("|---|---|---|---|")
    for name, scores in results.items():
        print(f"| {name} | {100 * scores['accuracy']:.2f} % | {scores['macro_recall']:.3f} "
              f"| {scores['n_faces']} |")
    if write:
        write_record(OUTPUT, "experiments.lighting.alignment_under_exposure",
                     {"landmarker_gamma": LANDMARKER_GAMMA, **results})


if __name__ == "__main__":
    main()
