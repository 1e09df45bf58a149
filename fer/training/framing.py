"""Training faces framed by the serving pipeline, so training and serving framing match.

At serving time a face is found by MediaPipe and re-aligned (:mod:`fer.realtime.alignment`);
FER2013's own crops come from another detector and differ slightly in scale, position and
sharpness. Each training face is therefore also run through the robustness suite's ``clean``
recipe (enlarged with context, re-detected, re-aligned). Training then sees either framing of a
face, chosen afresh for every face in every epoch (:func:`fer.training.loop.training_dataset`).

Where the landmarker finds no face the dataset crop stands in, so both arrays keep one row per
training face. The result is cached beside the parsed dataset, keyed by the images' digest and
the landmarker bundle's, because re-aligning the Training split takes minutes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import save_npz_atomically

# Bumped when the recipe changes, so that an old cache is not taken for a new one.
FRAMING_VERSION = 1
CHUNK = 1024


def _digest(images: NDArray[np.uint8], landmarker_path: Path) -> str:
    hasher = hashlib.sha256()
    hasher.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    hasher.update(Path(landmarker_path).read_bytes())
    hasher.update(str(FRAMING_VERSION).encode())
    return hasher.hexdigest()[:16]


def pipeline_framed(
    images: NDArray[np.uint8], landmarker_path: Path, cache_dir: Path | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """``images`` (N, 48, 48) re-aligned by the pipeline, and which of them it found a face in.

    Rows where no face was found hold the original crop.
    """
    from tqdm.auto import tqdm

    from fer.evaluation.robustness import degraded_frames, realigned_crops

    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3 or images.shape[1:] != (48, 48):
        raise ValueError(f"expected faces of shape (N, 48, 48), got {images.shape}")
    cache_path = None
    if cache_dir is not None:
        cache_path = Path(cache_dir) / f"framed-{_digest(images, landmarker_path)}.npz"
        if cache_path.is_file():
            try:
                with np.load(cache_path) as cached:
                    framed, found = cached["framed"], cached["found"]
                if framed.shape == images.shape and found.shape == (len(images),):
                    return framed, found
            except (OSError, ValueError, KeyError):
                pass
            cache_path.unlink(missing_ok=True)
    framed = images.copy()
    found = np.zeros(len(images), bool)
    # In chunks: the enlarged colour frames of a whole split would take gigabytes.
    with tqdm(total=len(images), desc="framing training faces", unit="face") as progress:
        for start in range(0, len(images), CHUNK):
            chunk = slice(start, start + CHUNK)
            found[chunk], crops = realigned_crops(
                degraded_frames(images[chunk], "clean"), landmarker_path
            )
            framed[chunk][found[chunk]] = crops
            progress.update(len(images[chunk]))
    if cache_path is not None:
        save_npz_atomically(cache_path, compressed=True, framed=framed, found=found)
    return framed, found
