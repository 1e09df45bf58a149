"""Measure how FER2013 frames a face, for ``fer.realtime.alignment.FER2013_FRAMING``.

Each sampled 48×48 Training face is upscaled to 192×192 (the landmarker's face detector does not
fire on 48-pixel faces), padded so the detector sees some context, and run through the MediaPipe
Face Landmarker (IMAGE mode) and the Haar cascade. Positions are mapped back to the 48×48 frame
and summarised by median and interquartile range.

    FER_DATA_DIR=/path/to/data python -m experiments.framing.measure_fer2013_framing --n 600
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from fer.config import data_dir_from_env, find_face_landmarker
from fer.data.datasets import FACE_SIZE, load_dataset
from fer.realtime.alignment import DATASET_FACE_UPSCALE as UPSCALE
from fer.realtime.alignment import enlarge_dataset_face
from fer.realtime.faces import HaarDetector, LandmarkerDetector


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m experiments.framing.measure_fer2013_framing",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--n", type=int, default=600, help="number of Training images to sample")
    parser.add_argument("--pad", type=int, default=96, help="padding (pixels) around 192×192")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data_dir = data_dir_from_env()
    landmarker_path = find_face_landmarker(data_dir)
    if landmarker_path is None:
        raise SystemExit(f"No face_landmarker.task in {data_dir}")
    images = load_dataset("fer2013", data_dir).split("Training").images
    rng = np.random.default_rng(args.seed)
    not_blank = np.flatnonzero(images.reshape(len(images), -1).std(1) > 5)
    sample = rng.choice(not_blank, size=min(args.n, len(not_blank)), replace=False)

    landmarker = LandmarkerDetector(landmarker_path, max_faces=1, mode="image", blendshapes=False)
    haar = HaarDetector(max_faces=1, detect_width=10_000)
    rows, boxes = [], []
    for index in sample:
        big = enlarge_dataset_face(images[index], args.pad)
        bgr = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)

        def to48(points: np.ndarray) -> np.ndarray:
            return (np.asarray(points, np.float64) - args.pad) / UPSCALE

        faces = landmarker.detect(bgr)
        if faces:
            eyes, mouth = to48(faces[0].eyes), to48(faces[0].mouth)
            eye_mid = eyes.mean(0)
            delta = eyes[1] - eyes[0]
            rows.append(
                (
                    *eye_mid,
                    np.hypot(*delta),
                    np.hypot(*(mouth - eye_mid)),
                    np.degrees(np.arctan2(delta[1], delta[0])),
                )
            )
        found = haar.detect(bgr)
        if found:
            x, y, width, height = found[0].bbox
            x48, y48 = to48([x, y])
            size = max(width, height) / UPSCALE
            boxes.append((x48 + width / UPSCALE / 2, y48 + height / UPSCALE / 2, size))
    landmarker.close()

    rows, boxes = np.array(rows), np.array(boxes)
    print(f"images: {len(sample)}  landmarks found: {len(rows)}  Haar boxes: {len(boxes)}")
    print(f"frame: {FACE_SIZE}x{FACE_SIZE}; values as median [25%, 75%]")
    names = ["eye_mid_x", "eye_mid_y", "eye_distance", "eye_mouth_distance", "roll_deg"]
    for name, column in zip(names, rows.T, strict=True):
        low, mid, high = np.percentile(column, [25, 50, 75])
        print(f"  {name:20s} {mid:6.2f}  [{low:6.2f}, {high:6.2f}]")
    for name, column in zip(["box_centre_x", "box_centre_y", "box_size"], boxes.T, strict=True):
        low, mid, high = np.percentile(column, [25, 50, 75])
        print(f"  {name:20s} {mid:6.2f}  [{low:6.2f}, {high:6.2f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
