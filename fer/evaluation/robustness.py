"""The robustness suite: test faces as the pipeline sees them, clean and under video-call
conditions made reproducibly from them.

Every face is enlarged with some context (as a webcam frame would hold it), then degraded,
then re-detected and re-aligned by the pipeline's own landmarker and alignment before the model
sees it. Conditions:

- ``clean``: re-detected and re-aligned only (the reference for the others);
- ``low_resolution``: the frame shrunk so the face is about 48 pixels wide, then upscaled back;
- ``h264``: all frames encoded as one H.264 stream at a low bitrate (PyAV) and decoded; each
  frame holds another face, so motion prediction helps little: harsher than a steady call;
- ``vp8``: the same with VP8, WebRTC's other common codec;
- ``motion_blur``: a horizontal blur of 9 pixels (a face moving during the exposure);
- ``underexposed`` / ``overexposed``: brightness scaled by 0.35 / 1.8 (clipped);
- ``noise``: Gaussian sensor noise, sigma 12 grey levels;
- ``occluded``: a skin-grey ellipse over one mouth corner and cheek, as a hand resting there;
- ``head_tilted``: the frame rotated by 20 degrees (roll). A turned head (yaw) cannot be made
  from a 2-D photograph without a 3-D face model, so yaw is not part of the suite.

Per condition: detection rate, accuracy and macro-recall on the faces found (with 95 %
intervals: Wilson for accuracy, a seeded bootstrap for macro-recall) and per-class recall with its
faces and its Wilson interval.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FaceDataset

PAD = 48  # context around the 48-pixel face, before the 4x enlargement
CONDITIONS = (
    "clean", "low_resolution", "h264", "vp8", "motion_blur", "underexposed", "overexposed",
    "noise", "occluded", "head_tilted",
)
VIDEO_BITRATE = 100_000  # bits per second at 15 frames per second for a ~290-pixel frame
N_BOOTSTRAP = 200

# Frames are uint8 BGR; OpenCV returns loosely typed arrays, so the alias stays generic.
Image = NDArray


def _low_resolution(image: Image, rng: np.random.Generator) -> Image:
    # The enlarged face is about 4 x 48 pixels wide: a quarter puts it at about 48.
    height, width = image.shape[:2]
    small = cv2.resize(image, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _motion_blur(image: Image, rng: np.random.Generator) -> Image:
    kernel = np.zeros((9, 9), np.float32)
    kernel[4, :] = 1 / 9
    return cv2.filter2D(image, -1, kernel)


def _exposure(scale: float) -> Callable[[Image, np.random.Generator], Image]:
    def apply(image: Image, rng: np.random.Generator) -> Image:
        return np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)

    return apply


def _noise(image: Image, rng: np.random.Generator) -> Image:
    noisy = image.astype(np.float32) + rng.normal(0, 12, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _occluded(image: Image, rng: np.random.Generator) -> Image:
    height, width = image.shape[:2]
    covered = image.copy()
    # Over the image-left mouth corner and lower cheek of a FER2013-framed face.
    centre = (int(width * 0.38), int(height * 0.72))
    cv2.ellipse(covered, centre, (width // 7, height // 9), -20, 0, 360, (150, 150, 150), -1)
    return covered


def _head_tilted(image: Image, rng: np.random.Generator) -> Image:
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    return cv2.warpAffine(image, turn, (width, height), borderMode=cv2.BORDER_REPLICATE)


PER_IMAGE: dict[str, Callable[[Image, np.random.Generator], Image]] = {
    "clean": lambda image, rng: image,
    "low_resolution": _low_resolution,
    "motion_blur": _motion_blur,
    "underexposed": _exposure(0.35),
    "overexposed": _exposure(1.8),
    "noise": _noise,
    "occluded": _occluded,
    "head_tilted": _head_tilted,
}


def through_codec(
    images: Sequence[Image], codec: str, bitrate: int = VIDEO_BITRATE
) -> list[Image]:
    """BGR frames encoded as one stream with ``codec`` (``libx264`` or ``libvpx``) and decoded."""
    import av

    height, width = images[0].shape[:2]
    buffer = io.BytesIO()
    container_format = "mp4" if codec == "libx264" else "webm"
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=15)
        if not isinstance(stream, av.VideoStream):
            raise RuntimeError(f"{codec} did not give a video stream")
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bitrate
        for image in images:
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(image[: stream.height, : stream.width]), format="bgr24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer, "r") as container:
        decoded = [frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)]
    if len(decoded) != len(images):
        raise RuntimeError(f"{codec} returned {len(decoded)} frames for {len(images)}")
    return decoded


def degraded_frames(faces: NDArray[np.uint8], condition: str, seed: int = 0) -> list[Image]:
    """The suite's BGR frames of ``faces`` (N, 48, 48) under ``condition``."""
    from fer.realtime.alignment import enlarge_dataset_face

    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {CONDITIONS}")
    rng = np.random.default_rng(seed)
    frames = [cv2.cvtColor(enlarge_dataset_face(face, PAD), cv2.COLOR_GRAY2BGR) for face in faces]
    if condition in ("h264", "vp8"):
        return through_codec(frames, "libx264" if condition == "h264" else "libvpx")
    return [PER_IMAGE[condition](frame, rng) for frame in frames]


def realigned_crops(
    frames: Sequence[Image], landmarker_path: Path, progress=None
) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]:
    """Which frames the landmarker found a face in, and the 48x48 crops of those faces."""
    from fer.realtime.alignment import align_detected
    from fer.realtime.faces import LandmarkerDetector

    detector = LandmarkerDetector(landmarker_path, max_faces=1, mode="image", blendshapes=False)
    found, crops = [], []
    try:
        for frame in progress(frames) if progress else frames:
            faces = detector.detect(np.ascontiguousarray(frame, dtype=np.uint8))
            found.append(bool(faces))
            if faces:
                gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                crops.append(align_detected(np.asarray(gray, np.uint8), faces[0]))
    finally:
        detector.close()
    empty = np.zeros((0, 48, 48), np.uint8)
    return np.array(found, bool), (np.stack(crops) if crops else empty)


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion."""
    if total == 0:
        return (math.nan, math.nan)
    share = successes / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    spread = half / (1 + z * z / total)
    return (max(0.0, centre - spread), min(1.0, centre + spread))


def recall_per_class(labels: NDArray, predicted: NDArray, n_classes: int) -> NDArray[np.float64]:
    recalls = np.full(n_classes, np.nan)
    for index in range(n_classes):
        mask = labels == index
        if mask.any():
            recalls[index] = float((predicted[mask] == index).mean())
    return recalls


def condition_scores(
    labels: NDArray, predicted: NDArray, class_names: Sequence[str], n_faces: int, seed: int = 0,
    condition: str = "",
) -> dict:
    """Detection rate, accuracy and macro-recall with 95 % intervals, and per-class recall.
    ``ValueError`` naming ``condition`` when no face was found: nothing can be scored."""
    n_found = len(labels)
    if n_found == 0:
        raise ValueError(
            f"Under the condition {condition!r} the landmarker found none of the {n_faces} "
            "faces, so accuracy and recall cannot be measured (too few faces, or a damaged "
            "landmarker?)"
        )
    correct = int((labels == predicted).sum())
    recalls = recall_per_class(labels, predicted, len(class_names))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(N_BOOTSTRAP):
        sample = rng.integers(0, n_found, n_found)
        resampled = recall_per_class(labels[sample], predicted[sample], len(class_names))
        boot.append(np.nanmean(resampled))
    low, high = wilson_interval(correct, n_found)
    return {
        "n_faces": n_faces,
        "n_found": n_found,
        "detection_rate": round(n_found / n_faces, 4),
        "accuracy": round(correct / n_found, 4),
        "accuracy_95": [round(low, 4), round(high, 4)],
        "macro_recall": round(float(np.nanmean(recalls)), 4),
        "macro_recall_95": [round(float(np.percentile(boot, 2.5)), 4),
                            round(float(np.percentile(boot, 97.5)), 4)],
        "recall": {name: (None if math.isnan(value) else round(float(value), 4))
                   for name, value in zip(class_names, recalls, strict=True)},
        "support": {name: int((labels == index).sum()) for index, name in enumerate(class_names)},
        "recall_95": {name: _recall_interval(labels, predicted, index)
                      for index, name in enumerate(class_names)},
    }


def _recall_interval(labels: NDArray, predicted: NDArray, index: int) -> list[float] | None:
    """The 95 % Wilson interval of one class's recall; ``None`` without faces of the class."""
    mask = labels == index
    if not mask.any():
        return None
    low, high = wilson_interval(int((predicted[mask] == index).sum()), int(mask.sum()))
    return [round(low, 4), round(high, 4)]


def run_suite(
    models: Sequence,
    dataset_by_label_set: dict[str, FaceDataset],
    landmarker_path: Path,
    split: str = "PrivateTest",
    conditions: Sequence[str] = CONDITIONS,
    seed: int = 0,
    progress=None,
) -> dict[str, dict]:
    """Scores of every model under every condition, ``{model name: {condition: scores}}``.

    Models of one label set share the degraded frames and their detections (the expensive part);
    each model predicts one pass (no test-time views) on the crops.
    """
    results: dict[str, dict] = {model.name: {} for model in models}
    for label_set, dataset in dataset_by_label_set.items():
        part = dataset.split(split)
        members = [m for m in models if m.card["label_set"] == label_set]
        for model in members:  # the labels index the dataset's classes, the outputs the model's
            if list(model.classes) != list(dataset.class_names):
                raise ValueError(
                    f"{model.name}'s classes {list(model.classes)} are not those of the "
                    f"{label_set!r} faces it would be scored on: {list(dataset.class_names)}"
                )
        for condition in conditions:
            frames = degraded_frames(part.images, condition, seed)
            found, crops = realigned_crops(frames, landmarker_path, progress)
            for model in members:
                predicted = model.predict(crops).argmax(axis=1) if len(crops) else np.zeros(0)
                results[model.name][condition] = condition_scores(
                    part.labels[found], predicted, list(model.classes), len(part), seed,
                    condition,
                )
    return results



def compare_on_common_classes(
    models: Sequence,
    dataset: FaceDataset,
    landmarker_path: Path,
    split: str = "PrivateTest",
    conditions: Sequence[str] = CONDITIONS,
    seed: int = 0,
    progress=None,
) -> dict[str, dict]:
    """Models of different label sets on the same faces: ``dataset``'s ``split``, keeping only
    the classes every model has, each model's prediction taken among those classes.

    Returns ``{model name: {condition: scores}}`` like :func:`run_suite`.
    """
    common = [name for name in dataset.class_names if all(name in m.classes for m in models)]
    if len(common) < 2:
        raise ValueError(f"the models share fewer than two classes: {common}")
    part = dataset.split(split)
    keep = np.isin(part.labels, [dataset.class_names.index(name) for name in common])
    faces = part.images[keep]
    labels = np.array([common.index(dataset.class_names[label]) for label in part.labels[keep]])
    results: dict[str, dict] = {model.name: {} for model in models}
    for condition in conditions:
        found, crops = realigned_crops(degraded_frames(faces, condition, seed), landmarker_path,
                                       progress)
        for model in models:
            columns = [list(model.classes).index(name) for name in common]
            probabilities = model.predict(crops)[:, columns] if len(crops) else np.zeros((0, 1))
            results[model.name][condition] = condition_scores(
                labels[found], probabilities.argmax(axis=1), common, len(faces), seed, condition
            )
    return results
