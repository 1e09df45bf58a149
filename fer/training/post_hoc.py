"""Changes made to a published model after training: a logit-adjusted copy of it, and the
per-class thresholds of its "uncertain" label. Both are fitted on PublicTest only; both are run by
``fer publish`` (``--logit-adjust NEW_NAME``, ``--uncertainty-thresholds``).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from fer.config import MODELS_DIR
from fer.data.datasets import FaceDataset, load_dataset
from fer.evaluation.evaluation_file import empty_evaluation, read_evaluation, write_evaluation
from fer.models.cards import KERAS_FILE, read_card
from fer.models.inference import PIPELINE_TTA, TTA_CHOICES, EmotionModel
from fer.training.card import save_card
from fer.training.export import export_served_tflite, reexport_mode
from fer.training.uncertainty import (
    DEFAULT_MIN_PREDICTIONS,
    DEFAULT_PRECISION_TARGET,
    fit_class_thresholds,
)

SELECTION_SPLIT = "PublicTest"
# The view sets tau must keep accurate: one pass (the robustness suite's, ``predict``'s default)
# and the frame pipeline's six views.
ADJUSTMENT_VIEWS = ("none", PIPELINE_TTA)


def uncertainty_record(
    model: EmotionModel,
    dataset: FaceDataset,
    precision_target: float = DEFAULT_PRECISION_TARGET,
    min_predictions: int = DEFAULT_MIN_PREDICTIONS,
    view_sets=TTA_CHOICES,
) -> dict:
    """The card's ``uncertainty`` record: per view set, thresholds fitted on the served
    probabilities of ``model`` (its output temperatures applied) on PublicTest."""
    part = dataset.split(SELECTION_SPLIT)
    thresholds, details = {}, {}
    for views in view_sets:
        probabilities = model.predict(part.images, tta=views)
        fitted = fit_class_thresholds(
            probabilities, part.labels, model.classes, precision_target, min_predictions
        )
        thresholds[views], details[views] = fitted["thresholds"], fitted["details"]
    return {
        "rule": f"per class, the lowest smoothed top probability at which the faces read as "
        f"that class are that class at least {precision_target:.0%} of the time on "
        f"{SELECTION_SPLIT}; a class read fewer than {min_predictions} times there keeps the "
        "single threshold; 1.0 means never shown as a confident word",
        "precision_target": precision_target,
        "min_predictions": min_predictions,
        "fitted_on": f"{SELECTION_SPLIT} ({len(part.labels)} faces, {model.backend} form, "
        "per view set as served)",
        "thresholds": thresholds,
        "details": details,
    }


def add_uncertainty_thresholds(
    name: str | Path,
    data_dir: Path,
    command: str | None = None,
    precision_target: float = DEFAULT_PRECISION_TARGET,
) -> dict:
    """Fit a published model's per-class "uncertain" thresholds and store them in its card.

    The model files and its evaluation do not change. Returns the new card.
    """
    from fer.models.cards import card_label_set, resolve_model_dir
    from fer.training.model_folders import staged_model_dir

    model_dir = resolve_model_dir(name)
    card = read_card(model_dir)
    dataset = load_dataset(card_label_set(card, model_dir), data_dir)
    read_evaluation(model_dir)  # MODEL_CARD.md is made from it: a damaged one is named first
    model = EmotionModel(model_dir)
    record = uncertainty_record(model, dataset, precision_target)
    record["command"] = command or f"fer publish {card['name']} --uncertainty-thresholds"
    card["uncertainty"] = record
    with staged_model_dir(model_dir) as work:
        save_card(work, card)
    return card


def _served_view_probabilities(keras_model, n_classes: int, faces) -> dict:
    from fer.models.inference import view_probabilities
    from fer.training.calibration import keras_runner

    run = keras_runner(keras_model)
    return {views: view_probabilities(run, n_classes, faces, 256, views)
            for views in ADJUSTMENT_VIEWS}


def publish_logit_adjusted(
    name: str | Path,
    new_name: str,
    data_dir: Path,
    max_accuracy_drop: float,
    command: str | None = None,
    quantization: str | None = None,
    output_dir: Path | None = None,
) -> dict:
    """Publish a copy of the model ``name`` with prior-based logit biases in its softmax head.

    ``tau`` is chosen on PublicTest (:func:`fer.training.logit_adjustment.choose_tau`), the
    biases folded into the head, a temperature refitted on PublicTest (the biases change how
    sure the head is), the TFLite file exported, both forms evaluated and the "uncertain"
    thresholds fitted. The copy goes to ``models/NEW_NAME`` (or ``output_dir``). Its TFLite
    file is quantised as the original's card records unless ``quantization`` names another
    mode (:func:`fer.training.export.reexport_mode`). Returns its card.
    """
    from fer.training.calibration import calibrate_on_split
    from fer.training.logit_adjustment import choose_tau, fold_logit_biases
    from fer.training.model_folders import (
        check_model_destinations,
        check_model_name,
        new_model_dir,
    )
    from fer.training.publish import evaluate_forms, served_summary
    from fer.training.republish import load_published, stored_temperature, training_seed

    started = time.perf_counter()
    check_model_name(new_name)
    output_dir = Path(output_dir) if output_dir is not None else MODELS_DIR / new_name
    # Before the search: an existing model is never overwritten.
    check_model_destinations(output_dir.parent, [output_dir.name],
                             when_taken=" (a logit-adjusted copy never replaces a model)")
    model_dir, card, keras_model, dataset = load_published(str(name), data_dir)
    seed = training_seed(card, model_dir)
    quantization = reexport_mode(card, model_dir, quantization)
    part = dataset.split(SELECTION_SPLIT)
    n_classes = len(card["classes"])
    class_counts = np.bincount(dataset.split("Training").labels, minlength=n_classes)
    choice = choose_tau(
        _served_view_probabilities(keras_model, n_classes, part.images), part.labels,
        class_counts, max_accuracy_drop,
    )
    fold_logit_biases(keras_model, np.asarray(choice["biases"]))
    previous = stored_temperature(card, model_dir)
    calibration = calibrate_on_split(keras_model, dataset, previous_temperature=previous)
    adjusted = copy.deepcopy(card)
    adjusted.update(name=new_name, derived_from=card["name"], calibration=calibration)
    adjusted.pop("uncertainty", None)
    adjusted["logit_adjustment"] = {
        "method": "-tau * log(training prior) added to the softmax head's logits after its "
        "temperature (fer.training.logit_adjustment); the head's temperature refitted after",
        "training_class_counts": dict(zip(card["classes"], class_counts.tolist(), strict=True)),
        **choice,
        "fitted_on": f"{SELECTION_SPLIT} ({len(part.labels)} faces; one pass and "
        f"{PIPELINE_TTA} views, Keras model): the tau with the highest mean macro-recall whose "
        f"accuracy is at most {max_accuracy_drop:.1%} below tau = 0 for each",
        "command": command or f"fer publish {card['name']} --logit-adjust {new_name}",
    }
    with new_model_dir(output_dir) as work:
        keras_model.save(work / KERAS_FILE)
        export_served_tflite(keras_model, dataset, work, adjusted, seed, quantization)
        save_card(work, adjusted, model_card=False)  # EmotionModel reads the card on disk
        write_evaluation(work, empty_evaluation(new_name))
        evaluation = evaluate_forms(work, adjusted, dataset)
        adjusted["uncertainty"] = uncertainty_record(EmotionModel(work), dataset)
        adjusted["uncertainty"]["command"] = adjusted["logit_adjustment"]["command"]
        adjusted["publish_seconds"] = round(time.perf_counter() - started, 1)
        save_card(work, adjusted)
    print(f"published {new_name}: {served_summary(adjusted, evaluation)}", flush=True)
    return adjusted
