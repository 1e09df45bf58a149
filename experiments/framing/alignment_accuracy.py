"""Does accuracy hold after our detection + alignment? A benchmark on FER2013 PrivateTest.

Each sampled 48×48 test face is upscaled to 192×192 and padded (as in
``experiments.framing.measure_fer2013_framing``), run through the MediaPipe landmarker (IMAGE mode)
and re-cropped by ``fer.realtime.alignment.align_detected``, the same path live frames take. The
model is scored on the original crops and on the re-aligned ones for the faces the landmarker
found; a large drop would mean our framing differs from FER2013's. A control crop takes the
original 48×48 window back out of the same upscaled image through the same warp, so the cost of
resampling alone is visible. Differences are paired (same faces), with a 95 % interval; a sample of
a few hundred faces moves by a couple of points from seed to seed, hence the default of 2,000.
``--tta mirror+zoom`` scores predictions averaged over test-time views, as the frame pipeline makes
them (its default).

    FER_DATA_DIR=/path/to/data python -m experiments.framing.alignment_accuracy \\
        --model fer2013 --n 2000 [--tta mirror|mirror+zoom]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

PAD = 96


def realign_faces(images, indices, landmarker_path):
    """Re-detect and re-align the dataset faces ``images[indices]`` as live frames are.

    Returns ``(found, realigned, control)``: the indices the landmarker found a face for, in
    order, their re-aligned 48×48 crops, and the control crops (the original window taken back
    out of the same upscaled image through the same warp).
    """
    import cv2

    from fer.data.datasets import FACE_SIZE
    from fer.realtime.alignment import (
        DATASET_FACE_UPSCALE,
        align_detected,
        enlarge_dataset_face,
        warp_to_face,
    )
    from fer.realtime.faces import LandmarkerDetector

    detector = LandmarkerDetector(landmarker_path, max_faces=1, mode="image", blendshapes=False)
    found, realigned, control = [], [], []
    # The original window inside the upscaled, padded image.
    shrink, shift = 1 / DATASET_FACE_UPSCALE, -PAD / DATASET_FACE_UPSCALE
    back_to_original = np.array([[shrink, 0, shift], [0, shrink, shift]])
    try:
        for index in indices:
            big = enlarge_dataset_face(images[index], PAD)
            faces = detector.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
            if faces:
                found.append(index)
                realigned.append(align_detected(big, faces[0]))
                control.append(warp_to_face(big, back_to_original, shrink, FACE_SIZE))
    finally:
        detector.close()
    return np.array(found), np.stack(realigned), np.stack(control)


def main() -> int:
    from fer import load_model
    from fer.config import data_dir_from_env, find_face_landmarker
    from fer.data.datasets import load_dataset
    from fer.models.inference import TTA_CHOICES

    parser = argparse.ArgumentParser(
        prog="python -m experiments.framing.alignment_accuracy",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--split", default="PrivateTest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tta",
        default="none",
        choices=TTA_CHOICES,
        help="test-time views to average (mirror+zoom: the pipeline's)",
    )
    args = parser.parse_args()

    data_dir = data_dir_from_env()
    landmarker_path = find_face_landmarker(data_dir)
    if landmarker_path is None:
        raise SystemExit(f"No face_landmarker.task in {data_dir}")
    model = load_model(args.model)
    test = load_dataset(model.card["label_set"], data_dir).split(args.split)
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(test), size=min(args.n, len(test)), replace=False)
    found, realigned, control = realign_faces(test.images, sample, landmarker_path)
    labels = test.labels[found]
    crops = {
        "original FER2013 crops": test.images[found],
        "control: original window, resampled": control,
        "our detection + alignment": realigned,
    }
    predicted = {
        name: model.predict(images, tta=args.tta).argmax(1) for name, images in crops.items()
    }
    correct = {name: (classes == labels).astype(float) for name, classes in predicted.items()}
    print(
        f"model {model.name}"
        f"{f' (test-time views: {args.tta})' if args.tta != 'none' else ''}; "
        f"{len(found)}/{len(sample)} {args.split} faces found by the landmarker"
    )
    for name, hits in correct.items():
        print(f"accuracy on {name:38s}: {hits.mean() * 100:.2f} %")
    original = correct["original FER2013 crops"]
    for name in list(crops)[1:]:
        difference = correct[name] - original
        half_width = 1.96 * difference.std(ddof=1) / np.sqrt(len(difference))
        same = (predicted[name] == predicted["original FER2013 crops"]).mean()
        print(
            f"{name}: {difference.mean() * 100:+.2f} points (95 % CI ±{half_width * 100:.2f}) "
            f"against the original crops; same predicted class {same * 100:.1f} %"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
