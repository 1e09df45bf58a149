"""Redoing one part of a published model: re-export its TFLite file, fold in a temperature, fit
output temperatures, add the pipeline's views. ``fer publish`` runs these functions; each works
on a copy of the model that replaces the whole folder only when the step succeeded
(:func:`fer.training.model_folders.staged_model_dir`).
"""

from __future__ import annotations

import math
from pathlib import Path

from fer.data.datasets import load_dataset
from fer.models.cards import CARD_FILE, KERAS_FILE, card_label_set, read_card
from fer.models.inference import PIPELINE_TTA
from fer.training.card import save_card
from fer.training.export import export_served_tflite
from fer.training.model_folders import staged_model_dir
from fer.training.publish import evaluate_form, evaluate_forms


def training_seed(card: dict, model_dir: Path) -> int:
    """The seed the TFLite export's calibration faces are drawn with: the model's own."""
    try:
        return int(card["training"]["seed"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{model_dir / CARD_FILE} has no training seed (training.seed), which the TFLite "
            "export draws its calibration faces with"
        ) from None


def calibration_record(card: dict, model_dir: Path) -> dict:
    """The card's ``calibration`` record (empty when it has none); ``ValueError`` naming the
    card when it is not a mapping."""
    calibration = card.get("calibration") or {}
    if not isinstance(calibration, dict):
        raise ValueError(f"{model_dir / CARD_FILE} calibration is not a mapping: {calibration!r}")
    return calibration


def stored_temperature(card: dict, model_dir: Path) -> float:
    """The head temperature the card says is folded into the model (1.0 when none is).

    A new fit multiplies it, so a value that is not a finite positive number is refused,
    naming the card and the field, instead of being carried into the new card.
    """
    temperature = calibration_record(card, model_dir).get("temperature", 1.0)
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ValueError(
            f"{model_dir / CARD_FILE} calibration.temperature is {temperature!r}, not a finite "
            "positive number"
        )
    return float(temperature)


def load_published(name: str, data_dir: Path):
    """A published model's directory, card, Keras model and its label set's dataset."""
    from fer.models.cards import resolve_model_dir
    from fer.models.runners import KerasRunner

    model_dir = resolve_model_dir(name)
    card = read_card(model_dir)
    label_set = card_label_set(card, model_dir)
    # The runner names a missing or damaged file (InvalidModelError) where Keras would not.
    keras_model = KerasRunner(model_dir / KERAS_FILE).model
    return model_dir, card, keras_model, load_dataset(label_set, data_dir)


def add_tta_zoom_reports(name: str, data_dir: Path, command: str | None = None) -> dict:
    """Evaluate a published model's forms with the pipeline's views on PublicTest and
    PrivateTest; nothing else in the card, the evaluation or the model files changes.

    Returns the model's evaluation.
    """
    from fer.models.cards import resolve_model_dir

    model_dir = resolve_model_dir(name)
    card = read_card(model_dir)
    dataset = load_dataset(card_label_set(card, model_dir), data_dir)
    grid = [(split, PIPELINE_TTA) for split in ("PublicTest", "PrivateTest")]
    with staged_model_dir(model_dir) as work:
        evaluation = evaluate_forms(work, card, dataset, grid=grid, replace=False)
        card["tta_zoom_reports_command"] = command or f"fer publish {name} --add-tta-zoom"
        save_card(work, card)
    return evaluation


def reexport(name: str, mode: str, data_dir: Path, command: str | None = None) -> dict:
    """Re-export a shipped model's TFLite file from its Keras model and re-evaluate it.

    Returns the new card.
    """
    model_dir, card, keras_model, dataset = load_published(name, data_dir)
    seed = training_seed(card, model_dir)
    with staged_model_dir(model_dir) as work:
        export_served_tflite(keras_model, dataset, work, card, seed, mode)
        card["tflite_export_command"] = command or f"fer publish {name} --quantization {mode}"
        save_card(work, card, model_card=False)
        evaluate_form(work, "tflite", dataset)
        save_card(work, card)
    return card


def calibrate_published(name: str, mode: str, data_dir: Path, command: str | None = None) -> dict:
    """Fold a PublicTest temperature into a published model and re-evaluate both its forms.

    Only the softmax head's weights change (accuracy cannot), but every probability does, so
    every report of both forms and the TFLite file are redone; the latency records go with the
    old file (:func:`fer.training.export.export_served_tflite`). Returns the new card.
    """
    from fer.training.calibration import calibrate_on_split

    model_dir, card, keras_model, dataset = load_published(name, data_dir)
    previous = stored_temperature(card, model_dir)
    calibration = calibrate_on_split(keras_model, dataset, previous_temperature=previous)
    if calibration["fitted_on"] is None:
        raise ValueError(f"{name}: {calibration['note']}")
    calibration["command"] = command or f"fer publish {name} --calibrate"
    seed = training_seed(card, model_dir)
    with staged_model_dir(model_dir) as work:
        keras_model.save(work / KERAS_FILE)
        card["calibration"] = calibration
        if card.get("served_backend") == "tflite_int8":
            export_served_tflite(keras_model, dataset, work, card, seed, mode)
        # EmotionModel reads the output temperatures from the card on disk.
        save_card(work, card, model_card=False)
        evaluate_forms(work, card, dataset)
        save_card(work, card)
    return card


def add_output_temperatures(name: str, data_dir: Path, command: str | None = None) -> dict:
    """Fit a calibrated model's one-pass and mirror temperatures; re-evaluate both forms.

    For models calibrated before output temperatures existed. The model files do not change
    (so the card's latency records stay); only the probabilities of those view sets do, so
    every report is redone. A model without a fitted head temperature is refused, and nothing
    is written. Returns the new card.
    """
    from fer.training.calibration import fit_output_temperatures, keras_runner

    model_dir, card, keras_model, dataset = load_published(name, data_dir)
    calibration = calibration_record(card, model_dir)
    if calibration.get("fitted_on") is None:
        raise ValueError(f"{name}: no fitted head temperature; run --calibrate first")
    run, n_classes = keras_runner(keras_model), len(card["classes"])
    try:
        fitted = fit_output_temperatures(run, n_classes, dataset.split("PublicTest"))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    calibration.update(fitted)
    calibration["output_temperatures_command"] = (
        command or f"fer publish {name} --output-temperatures"
    )
    card["calibration"] = calibration
    temperatures = calibration["output_temperatures"]
    with staged_model_dir(model_dir) as work:
        evaluate_forms(work, card, dataset, output_temperatures=temperatures)
        save_card(work, card)
    return card
