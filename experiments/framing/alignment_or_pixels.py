"""Does a video-call condition cost accuracy through where the pipeline crops the face, or
through what the crop shows?

Each condition of the robustness suite changes two things the model depends on: the landmarks
the pipeline aligns the face by (found on the degraded frame) and the pixels of the crop. For
every condition that keeps the face where it was (all but ``head_tilted``), this script takes
the FER+ PublicTest faces as the suite makes them and crops each degraded frame twice: with the
landmarks found on it (as the suite does) and with the landmarks found on the same face's clean
frame (an alignment the condition cannot spoil: the most better landmarks could give back). For
over-exposure it adds landmarks found on the frame darkened by ``LANDMARKER_GAMMA``, which the
pipeline could do without the clean frame. It prints the Live default's accuracy and
macro-recall (Keras, one pass). The crop is always cut from the degraded frame, and each
comparison counts only faces the landmarker found in every frame it uses.

    FER_DATA_DIR=/path/to/data python -m experiments.framing.alignment_or_pixels --write

``--write`` stores the table in ``experiments/framing/results/alignment_or_pixels.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.framing.bn_mixed_framing import MODEL, ROOT, write_record
from experiments.lighting.exposure_compensation import gamma_table, macro_recall
from experiments.lighting.overexposure_flag import write_option

# The suite's conditions that move pixels but not the face (head_tilted rotates the frame).
CONDITIONS = (
    "low_resolution", "h264", "vp8", "motion_blur", "underexposed", "overexposed", "noise",
    "occluded",
)
LANDMARKER_GAMMA = 2.0
OUTPUT = Path(__file__).resolve().parent / "results" / "alignment_or_pixels.json"


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


def found(faces: list) -> np.ndarray:
    return np.array([face is not None for face in faces])


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
    detector = LandmarkerDetector(
        data_dir / "face_landmarker.task", max_faces=1, mode="image", blendshapes=False
    )

    def score(frames, faces, keep: np.ndarray) -> dict:
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

    results: dict[str, dict] = {}
    try:
        clean = degraded_frames(test.images, "clean")
        on_clean = detect_all(detector, clean)
        for condition in CONDITIONS:
            frames = degraded_frames(test.images, condition)
            on_degraded = detect_all(detector, frames)
            both = found(on_clean) & found(on_degraded)
            rows = {
                "faces found": round(float(found(on_degraded).mean()), 4),
                "clean frame": score(clean, on_clean, both),
                "landmarks on it (the suite)": score(frames, on_degraded, both),
                "landmarks from the clean frame": score(frames, on_clean, both),
            }
            if condition == "overexposed":
                table = gamma_table(LANDMARKER_GAMMA)
                darkened = [table[frame] for frame in frames]
                on_darkened = detect_all(detector, darkened)
                all_three = both & found(on_darkened)
                rows["faces found darkened"] = round(float(found(on_darkened).mean()), 4)
                rows["landmarks on it, faces also found darkened"] = score(
                    frames, on_degraded, all_three
                )
                rows[f"landmarks on it darkened by gamma {LANDMARKER_GAMMA}"] = score(
                    frames, on_darkened, all_three
                )
            results[condition] = rows
            print(f"{condition}: {rows}", flush=True)
    finally:
        detector.close()

    print(f"\nclean frames: faces found {found(on_clean).mean():.1%} of {len(clean)}")
    print(f"| condition | faces found | crop | accuracy | macro-recall | faces |  ({MODEL}, "
          "Keras, one pass)")
    print("|---|---|---|---|---|---|")
    for condition, rows in results.items():
        for name, value in rows.items():
            if isinstance(value, dict):
                print(f"| {condition} | {100 * rows['faces found']:.1f} % | {name} "
                      f"| {100 * value['accuracy']:.2f} % | {value['macro_recall']:.3f} "
                      f"| {value['n_faces']} |")
    if write:
        write_record(OUTPUT, "experiments.framing.alignment_or_pixels",
                     {"landmarker_gamma": LANDMARKER_GAMMA, **results})


if __name__ == "__main__":
    main()
