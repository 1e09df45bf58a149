"""How strongly should the pipeline darken an over-exposed face before the model reads it?

A candidate for the frame pipeline (tried, not shipped: experiments/README.md): map each pixel
``p`` of a crop ``fer.data.lighting`` flags as over-exposed to ``255 * (p / 255) ** gamma``.
This script takes the FER+ PublicTest faces as the robustness suite makes them (``clean``,
``overexposed``: brightness x1.8 and ``underexposed``: x0.35, re-detected and re-aligned),
darkens the flagged crops with each gamma of ``GAMMAS`` (1.0: unchanged) and prints the Live
default's accuracy and macro-recall (Keras, one pass). Only flagged crops change, so clean and
under-exposed faces show what it costs elsewhere.

    FER_DATA_DIR=/path/to/data python -m experiments.lighting.exposure_compensation --write

``--write`` stores the table in ``experiments/lighting/results/exposure_compensation.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.framing.bn_mixed_framing import write_record
from experiments.lighting.overexposure_flag import (
    live_default_and_suite_faces,
    write_option,
)

GAMMAS = (1.0, 1.3, 1.6, 1.8, 2.0, 2.5, 3.0)
OUTPUT = Path(__file__).resolve().parent / "results" / "exposure_compensation.json"


def gamma_table(gamma: float) -> np.ndarray:
    """The lookup table of ``255 * (p / 255) ** gamma`` for each grey level ``p``, rounded to
    whole grey levels (uint8)."""
    return np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)


def darkened(crops: np.ndarray, flagged: np.ndarray, gamma: float) -> np.ndarray:
    """``crops`` as float32 with the ``flagged`` ones mapped through ``gamma``, as the shipped
    lookup table does (rounded to whole grey levels)."""
    table = gamma_table(gamma).astype(np.float32)
    images = crops.astype(np.float32)
    images[flagged] = table[crops[flagged]]
    return images


def macro_recall(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean([(predicted[labels == c] == c).mean() for c in np.unique(labels)]))


def main() -> None:
    from fer.data.lighting import clipped_share, is_overexposed

    write = write_option(__doc__.split("\n")[0], OUTPUT)
    model, sets = live_default_and_suite_faces()
    results = {}
    for condition, (crops, labels) in sets.items():
        flagged = np.array([is_overexposed(clipped_share(crop)) for crop in crops])
        rows = {}
        for gamma in GAMMAS:
            images = darkened(crops, flagged, gamma)[..., None]
            predicted = model.predict(images, verbose=0).argmax(axis=1)
            rows[f"{gamma:.1f}"] = {
                "accuracy": round(float((predicted == labels).mean()), 4),
                "macro_recall": round(macro_recall(predicted, labels), 4),
            }
            print(f"{condition} gamma {gamma:.1f}: {rows[f'{gamma:.1f}']}", flush=True)
        results[condition] = {
            "n_faces": int(len(crops)),
            "flagged": round(float(flagged.mean()), 4),
            "gammas": rows,
        }
    if write:
        write_record(OUTPUT, "experiments.lighting.exposure_compensation", results)


if __name__ == "__main__":
    main()
