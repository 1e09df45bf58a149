"""Which batch-norm statistics hold up on our own face framing? A check on PublicTest only.

``fer soup`` recomputes the batch-norm statistics on un-augmented Training faces, which are
FER2013 crops; that could fit the model to FER2013's framing. This script scores variants of the
two soup ingredients on PublicTest (the selection split), both on the original crops and on the
same faces re-detected by the landmarker and re-aligned by
``fer.realtime.alignment.align_detected`` (as in ``experiments.framing.alignment_accuracy``):
statistics as trained, recomputed on plain Training faces (what ships), on augmented ones (the
training augmentation applied once), and on both. Keras models, one pass.

    git worktree add /tmp/ingredients cb52ce8
    FER_DATA_DIR=/path/to/data python -m experiments.framing.bn_statistics \\
        /tmp/ingredients/models/fer2013 /tmp/ingredients/models/ferplus --write

``--write`` stores the table in ``experiments/framing/results/bn_statistics.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from experiments.framing.alignment_accuracy import realign_faces

ROOT = Path(__file__).resolve().parents[2]
SHARE = 0.25  # the share the soup search chose for both label sets
OUTPUT = Path(__file__).resolve().parent / "results" / "bn_statistics.json"


def augmented_once(faces, seed: int = 0):
    """``faces`` through the training augmentation (training mode) once, back to uint8."""
    from fer.data.preprocess import build_augmentation
    from fer.training.config import TrainConfig

    augmentation = build_augmentation(TrainConfig().augmentation, seed)
    parts = []
    for start in range(0, len(faces), 1024):
        batch = faces[start : start + 1024, :, :, None].astype(np.float32)
        parts.append(np.asarray(augmentation(batch, training=True))[..., 0])
    return np.clip(np.concatenate(parts), 0, 255).astype(np.uint8)


def main() -> int:
    import keras

    import fer.data.preprocess  # noqa: F401  (registers the standardisation layer)
    from fer.config import data_dir_from_env, find_face_landmarker
    from fer.data.datasets import load_dataset
    from fer.training.soup import shared_layer_names, soup_candidate

    parser = argparse.ArgumentParser(
        prog="python -m experiments.framing.bn_statistics", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("first", type=Path, help="model dir of the fer2013 ingredient")
    parser.add_argument("second", type=Path, help="model dir of the other ingredient")
    parser.add_argument(
        "--write", action="store_true", help=f"store the table in {OUTPUT.relative_to(ROOT)}"
    )
    args = parser.parse_args()
    data_dir = data_dir_from_env()
    dataset = load_dataset("fer2013", data_dir)
    test = dataset.split("PublicTest")
    found, realigned, _ = realign_faces(
        test.images, range(len(test)), find_face_landmarker(data_dir)
    )
    crops = {"original crops": test.images[found], "our detection + alignment": realigned}
    plain = dataset.split("Training").images
    augmented = augmented_once(plain)
    first = keras.models.load_model(args.first / "model.keras", compile=False)
    second = keras.models.load_model(args.second / "model.keras", compile=False)
    names = shared_layer_names(first, second)

    variants = {
        "fer2013 as trained": (1.0, None),
        "fer2013, statistics on plain Training faces": (1.0, plain),
        "fer2013, statistics on augmented Training faces": (1.0, augmented),
        f"soup {SHARE}, averaged statistics": (SHARE, None),
        f"soup {SHARE}, statistics on plain Training faces (ships)": (SHARE, plain),
        f"soup {SHARE}, statistics on augmented Training faces": (SHARE, augmented),
        f"soup {SHARE}, statistics on plain + augmented": (
            SHARE,
            np.concatenate([plain, augmented]),
        ),
    }
    rows = []
    print(f"{len(found)}/{len(test)} PublicTest faces found by the landmarker")
    for name, (share, faces) in variants.items():
        model = soup_candidate(first, first, second, share, names, faces)
        row = {"variant": name}
        for crop_name, images in crops.items():
            predicted = model.predict(
                images[..., None].astype(np.float32), batch_size=512, verbose=0
            ).argmax(axis=1)
            row[crop_name] = float((predicted == test.labels[found]).mean())
        rows.append(row)
        print(
            f"{name:58s} " + "  ".join(f"{key} {100 * row[key]:.2f} %" for key in crops),
            flush=True,
        )
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "command": "python -m experiments.framing.bn_statistics INGREDIENT_FER2013 "
            "INGREDIENT_FERPLUS --write (ingredients: models/ at commit cb52ce8)",
            "split": "PublicTest",
            "n_faces": int(len(found)),
            "rows": rows,
        }
        OUTPUT.write_text(json.dumps(result, indent=1))
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
