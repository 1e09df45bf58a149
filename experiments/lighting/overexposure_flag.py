"""Where should the Live page start saying a face is too bright to read? A check on PublicTest.

``fer.data.lighting`` flags a face crop as over-exposed when a share of its pixels is clipped
to white. This script takes the FER+ PublicTest faces as the robustness suite makes them
(``clean``, ``overexposed``: brightness x1.8 and ``underexposed``: x0.35, re-detected and
re-aligned), reads them with the Live default (Keras, one pass) and prints, for several
thresholds, the share of faces flagged and the accuracy on flagged and unflagged faces. A good
threshold flags most over-exposed faces, almost no clean ones, and picks out faces read worse.

    FER_DATA_DIR=/path/to/data python -m experiments.lighting.overexposure_flag --write

``--write`` stores the table in ``experiments/lighting/results/overexposure_flag.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from experiments.framing.bn_mixed_framing import MODEL, ROOT, evaluation_sets, write_record

CONDITIONS = ("clean", "overexposed", "underexposed")
THRESHOLDS = (0.10, 0.15, 0.20, 0.25, 0.30)
OUTPUT = Path(__file__).resolve().parent / "results" / "overexposure_flag.json"


def _accuracy(correct: np.ndarray) -> float | None:
    return round(float(correct.mean()), 4) if len(correct) else None


def flag_table(shares: np.ndarray, correct: np.ndarray) -> dict[str, dict]:
    """Per threshold: the share of faces flagged and the accuracy on flagged / unflagged ones."""
    table = {}
    for threshold in THRESHOLDS:
        flagged = shares >= threshold
        table[f"{threshold:.2f}"] = {
            "flagged": round(float(flagged.mean()), 4),
            "accuracy_flagged": _accuracy(correct[flagged]),
            "accuracy_unflagged": _accuracy(correct[~flagged]),
        }
    return table


def write_option(description: str, output: Path) -> bool:
    """Whether the command line asked for ``--write`` (store the table in ``output``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--write", action="store_true", help=f"store the table in {output}")
    return parser.parse_args().write


def live_default_and_suite_faces():
    """The Live default's Keras model, and ``{condition: (crops, labels)}`` for ``CONDITIONS``
    (FER+ PublicTest faces as the robustness suite makes them; FER2013's own crops left out,
    they are not what the pipeline sees)."""
    import keras

    import fer.data.preprocess  # noqa: F401  (registers the model's layers for loading)
    from fer.models.cards import KERAS_FILE

    model = keras.models.load_model(ROOT / "models" / MODEL / KERAS_FILE, compile=False)
    sets = evaluation_sets(CONDITIONS)
    return model, {condition: sets[condition] for condition in CONDITIONS}


def main() -> None:
    from fer.data.lighting import clipped_share

    write = write_option(__doc__.split("\n")[0], OUTPUT)
    model, sets = live_default_and_suite_faces()
    results = {}
    for condition, (crops, labels) in sets.items():
        probabilities = model.predict(crops[..., None].astype(np.float32), verbose=0)
        correct = probabilities.argmax(axis=1) == labels
        shares = np.array([clipped_share(crop) for crop in crops])
        results[condition] = {
            "n_faces": int(len(crops)),
            "accuracy": round(float(correct.mean()), 4),
            "thresholds": flag_table(shares, correct),
        }
        for threshold, row in results[condition]["thresholds"].items():
            print(f"{condition} >= {threshold}: {row}", flush=True)
    if write:
        write_record(OUTPUT, "experiments.lighting.overexposure_flag", results)


if __name__ == "__main__":
    main()
