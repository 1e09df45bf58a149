"""Choosing what to publish, on PublicTest only: a run's selected epoch, its weight average, or
a soup's share."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fer.data.datasets import FaceDataset
from fer.training.averaging import AVERAGE_FILE, WeightAverage
from fer.training.run_state import RunState


def choose_published_head(run_dir: Path, label_set: str, dataset: FaceDataset, state: RunState):
    """The head of ``label_set`` to publish, and the record of how it was chosen.

    The candidates are the epoch training selected on PublicTest and, when the run averaged
    weights, their average. Each gets its batch-norm statistics recomputed on the label set's
    un-augmented Training faces (as publishing does), then the higher PublicTest accuracy wins;
    on a tie the selected epoch does. PrivateTest is not looked at.
    """
    import keras

    from fer.models.zoo import recalibrate_batch_norm

    started = time.perf_counter()
    epoch = state.best[label_set]["epoch"]
    selected = keras.models.load_model(run_dir / f"best_{label_set}.keras", compile=False)
    models = {f"epoch {epoch}": selected}
    average = WeightAverage(run_dir / AVERAGE_FILE)
    if average.load():
        # From average.npz, not average_<head>.keras: that is written when training ends, so
        # a run stopped after an averaged epoch holds an older one.
        averaged = keras.models.clone_model(selected)
        average.apply_to(averaged)
        models[f"average of epochs {average.first_epoch}-{average.last_epoch}"] = averaged
    training_faces = dataset.split("Training").images
    scores: dict[str, float] = {}
    for label in models:
        recalibrate_batch_norm(models[label], training_faces)
        scores[label] = publictest_accuracy(models[label], dataset)
        print(f"{label_set} {label}: PublicTest {100 * scores[label]:.2f} %", flush=True)
    chosen = max(scores, key=scores.__getitem__)  # the first of equal scores: the epoch
    selection = {
        "chosen": chosen,
        "epoch": epoch if chosen == f"epoch {epoch}" else None,  # None: an average
        "publictest_accuracy": scores,
        "selected_on": "PublicTest accuracy (Keras, after batch-norm recalibration)",
        "seconds": round(time.perf_counter() - started, 1),
    }
    return models[chosen], selection


def publictest_accuracy(keras_model, dataset: FaceDataset) -> float:
    """Accuracy of a Keras model on ``dataset``'s PublicTest faces (one pass, no views)."""
    test = dataset.split("PublicTest")
    probabilities = keras_model.predict(
        test.images[..., None].astype(np.float32), batch_size=512, verbose=0
    )
    return float((probabilities.argmax(axis=1) == test.labels).mean())
