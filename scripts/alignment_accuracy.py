"""Does accuracy hold after our detection + alignment? A benchmark on FER2013 PrivateTest.

Each sampled 48×48 test face is upscaled to 192×192 and padded (as in
``measure_fer2013_framing.py``), run through the MediaPipe landmarker (IMAGE mode) and re-cropped
by ``fer.faces.align_detected`` — the same path live frames take. The model is scored on the
original crops and on the re-aligned ones for the faces the landmarker found; a large drop would
mean our framing differs from FER2013's.

    FER_DATA_DIR=/path/to/data python scripts/alignment_accuracy.py --model fer2013 --n 600
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

UPSCALE = 4
PAD = 96


def main() -> int:
    import cv2

    from fer import load_model
    from fer.config import data_dir_from_env, find_face_landmarker
    from fer.data import load_dataset
    from fer.faces import LandmarkerDetector, align_detected

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data_dir = data_dir_from_env()
    landmarker_path = find_face_landmarker(data_dir)
    if landmarker_path is None:
        raise SystemExit(f"No face_landmarker.task in {data_dir}")
    model = load_model(args.model)
    test = load_dataset(model.card["label_set"], data_dir).split("PrivateTest")
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(test), size=min(args.n, len(test)), replace=False)
    detector = LandmarkerDetector(landmarker_path, max_faces=1, mode="image", blendshapes=False)
    found, realigned = [], []
    for index in sample:
        big = cv2.resize(
            test.images[index], None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC
        )
        big = cv2.copyMakeBorder(big, *[PAD] * 4, cv2.BORDER_REPLICATE)
        faces = detector.detect(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))
        if faces:
            found.append(index)
            realigned.append(align_detected(big, faces[0]))
    detector.close()
    found = np.array(found)
    labels = test.labels[found]
    original = (model.predict(test.images[found]).argmax(1) == labels).mean()
    aligned = (model.predict(np.stack(realigned)).argmax(1) == labels).mean()
    agreement = (
        model.predict(test.images[found]).argmax(1) == model.predict(np.stack(realigned)).argmax(1)
    ).mean()
    print(
        f"model {model.name}; {len(found)}/{len(sample)} PrivateTest faces found by the landmarker"
    )
    print(f"accuracy on original FER2013 crops : {original * 100:.2f} %")
    print(f"accuracy on our re-aligned crops   : {aligned * 100:.2f} %")
    print(f"same predicted class               : {agreement * 100:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
