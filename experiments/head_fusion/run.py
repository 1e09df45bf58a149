"""Would a second head on the same backbone, fused into the prediction, raise accuracy for free?

A shipped model's backbone computes features once; a second softmax head on those features costs
next to nothing at inference. This experiment fits the other label set's head on the frozen
features of ``models/<model>`` (FER+ vote distributions for ``fer2013``; FER2013 labels for
``ferplus``) on Training rows only, maps its probabilities onto the model's classes (FER+'s
contempt has no FER2013 class: it is dropped and the rest renormalised; the other way round the
model's own contempt probability is kept), and blends ``(1 - w) * own + w * other``. The weight
would be chosen on PublicTest; PrivateTest is printed for the record only.

    FER_DATA_DIR=/path/to/data python -m experiments.head_fusion.run --write

``--write`` stores the table in ``experiments/head_fusion/results/head_fusion.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
SPLITS = ("PublicTest", "PrivateTest")
OUTPUT = Path(__file__).resolve().parent / "results" / "head_fusion.json"


def fit_softmax_head(features, targets, seed: int = 0):
    """A Dense softmax head on frozen features (Adam, 40 epochs, soft cross-entropy)."""
    import keras

    keras.utils.set_random_seed(seed)
    head = keras.Sequential(
        [
            keras.Input((features.shape[1],)),
            keras.layers.Dense(targets.shape[1], activation="softmax"),
        ]
    )
    head.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
    head.fit(features, targets, epochs=40, batch_size=256, verbose=0)
    return head


def fusion_table(model_name: str, fer2013, ferplus) -> list[dict]:
    from fer import load_model

    model = load_model(model_name)
    by_classes = {tuple(dataset.class_names): dataset for dataset in (fer2013, ferplus)}
    evaluated = by_classes.get(tuple(model.classes))
    if evaluated is None:
        raise ValueError(f"{model_name}: classes {model.classes} are neither FER2013's nor FER+'s")
    other = ferplus if evaluated is fer2013 else fer2013
    features = model.embed(fer2013.images)  # FER2013 row order; row_ids index it
    own = model.predict(fer2013.images)
    training = other.split("Training")
    targets = training.soft_labels  # FER+ vote distributions; FER2013 has hard labels only
    if targets is None:
        targets = np.eye(len(other.class_set), dtype=np.float32)[training.labels]
    head = fit_softmax_head(features[training.row_ids], targets)
    names, other_names = list(evaluated.class_names), list(other.class_names)
    shared = [name for name in names if name in other_names]
    other_probabilities = head.predict(features, verbose=0)[
        :, [other_names.index(n) for n in shared]
    ]
    # A class only the other set has (contempt) is dropped and the rest renormalised ...
    other_probabilities /= other_probabilities.sum(axis=1, keepdims=True)
    mapped = own.copy()  # ... and a class only the model has keeps the model's own probability.
    mapped[:, [names.index(n) for n in shared]] = other_probabilities
    tests = {split: evaluated.split(split) for split in SPLITS}
    rows = []
    for weight in WEIGHTS:
        blended = (1.0 - weight) * own + weight * mapped
        accuracy = {
            split: float((blended[test.row_ids].argmax(axis=1) == test.labels).mean())
            for split, test in tests.items()
        }
        rows.append(
            {
                "model": model_name,
                "weight": weight,
                **{f"{split}_accuracy": value for split, value in accuracy.items()},
            }
        )
    return rows


def main() -> int:
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset

    parser = argparse.ArgumentParser(
        prog="python -m experiments.head_fusion.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--models", nargs="+", default=["fer2013", "ferplus"])
    parser.add_argument(
        "--write", action="store_true", help=f"store the table in {OUTPUT.relative_to(ROOT)}"
    )
    args = parser.parse_args()
    root = data_dir_from_env()
    fer2013, ferplus = load_dataset("fer2013", root), load_dataset("ferplus", root)
    rows = [row for name in args.models for row in fusion_table(name, fer2013, ferplus)]
    for row in rows:
        public, private = row["PublicTest_accuracy"], row["PrivateTest_accuracy"]
        print(
            f"{row['model']:8s} w={row['weight']:.1f}  PublicTest {100 * public:.2f} %"
            f"  PrivateTest {100 * private:.2f} %"
        )
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(
            json.dumps(
                {"command": "python -m experiments.head_fusion.run --write", "rows": rows},
                indent=1,
            )
        )
        print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
