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
from fer.training.export import QUANTIZATION_MODES, export_served_tflite, reexport_mode
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
    return _positive_number(card, model_dir, "temperature", default=1.0)


def unfolding_temperature(card: dict, model_dir: Path) -> float:
    """The temperature that, multiplied into the head, gives back the head the card's
    calibration was fitted from (1.0 when nothing was fitted).

    Only temperatures were ever folded into a head, so that is the card's whole
    ``temperature``, whatever fits made it; a logit-adjusted copy's biases were added on top of
    its source's temperature, so for it only its own fit (``this_fit``) is undone.
    """
    if calibration_record(card, model_dir).get("fitted_on") is None:
        return 1.0
    temperature = stored_temperature(card, model_dir)
    if "logit_adjustment" not in card:
        return temperature
    return _positive_number(card, model_dir, "this_fit", default=temperature)


def _positive_number(card: dict, model_dir: Path, field: str, default: float) -> float:
    value = calibration_record(card, model_dir).get(field, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"{model_dir / CARD_FILE} calibration.{field} is {value!r}, not a finite "
            "positive number"
        )
    return float(value)


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


def reexport(name: str, mode: str | None, data_dir: Path, command: str | None = None) -> dict:
    """Re-export a shipped model's TFLite file from its Keras model and re-evaluate it.

    ``mode`` None keeps the quantization the card records (:func:`reexport_mode`). Returns the
    new card.
    """
    model_dir, card, keras_model, dataset = load_published(name, data_dir)
    mode = reexport_mode(card, model_dir, mode)
    seed, previous_quantization = training_seed(card, model_dir), card.get("quantization")
    with staged_model_dir(model_dir) as work:
        export_served_tflite(keras_model, dataset, work, card, seed, mode)
        card["tflite_export_command"] = command or f"fer publish {name} --quantization {mode}"
        save_card(work, card, model_card=False)
        evaluate_form(work, "tflite", dataset)
        save_card(work, card)
    _say_if_the_mode_changed(name, previous_quantization, card, mode)
    return card


def _say_if_the_mode_changed(name: str, previous: str | None, card: dict, mode: str) -> None:
    """Print that the served file's quantization changed, when it did (only --quantization
    changes it)."""
    if previous is not None and previous != card["quantization"]:
        print(f"{name}: TFLite file re-exported as {mode} ({card['quantization']}); it was "
              f"{previous}", flush=True)


def calibrate_published(
    name: str, mode: str | None, data_dir: Path, command: str | None = None
) -> dict:
    """Fold a PublicTest temperature into a published model and re-evaluate both its forms.

    The fit starts from the head as it was before the card's calibration, which is unfolded
    first (:func:`unfolding_temperature`), so a calibrated model gets the fit and the record
    its first calibration got: fitting on its calibrated outputs instead would record a near-1
    second fit whose before/after figures describe nothing. When the fit comes out as the card
    records it (``temperature`` and ``this_fit``), nothing is written: a re-export would move
    the served file's figures for no reason and drop its latency records, and the card keeps
    the record of the first run and of the steps after it. Otherwise only the softmax head's
    weights change (accuracy cannot), but every probability does, so every report of both
    forms and the TFLite file are redone; the latency records go with the old file
    (:func:`fer.training.export.export_served_tflite`).

    The TFLite file keeps the quantization the card records unless ``mode`` asks for another
    (:func:`reexport_mode`); a calibrated model asked for another is re-exported in it
    (:func:`reexport`). A model served as Keras has no TFLite file to quantise, so a ``mode``
    is refused for it. Returns the model's card.
    """
    from fer.training.calibration import calibrate_on_split, unfold_temperature

    model_dir, card, keras_model, dataset = load_published(name, data_dir)
    exported = card.get("served_backend") == "tflite_int8"
    if mode is not None and not exported:
        raise ValueError(
            f"{name} serves its Keras model, so --calibrate exports no TFLite file to "
            f"quantise; export one with: fer publish {name} --quantization {mode}"
        )
    # Before the fit: a mode the card records but no export knows is named before any work.
    served_mode = reexport_mode(card, model_dir, mode) if exported else None
    unfolding = unfolding_temperature(card, model_dir)
    unfold_temperature(keras_model, unfolding)
    previous = stored_temperature(card, model_dir) / unfolding
    calibration = calibrate_on_split(keras_model, dataset, previous_temperature=previous)
    if calibration["fitted_on"] is None:
        raise ValueError(f"{name}: {calibration['note']}")
    recorded = calibration_record(card, model_dir)
    temperature = recorded.get("temperature")
    recorded_fit = (temperature, recorded.get("this_fit", temperature))
    new_fit = (calibration["temperature"], calibration["this_fit"])
    if recorded.get("fitted_on") is not None and new_fit == recorded_fit:
        if mode is not None and card.get("quantization") != QUANTIZATION_MODES[mode]:
            print(f"{name}: already calibrated on PublicTest (temperature "
                  f"{recorded['temperature']}); only its TFLite file is exported again",
                  flush=True)
            return reexport(name, mode, data_dir, command)
        print(
            f"{name}: already calibrated on PublicTest (temperature {recorded['temperature']}); "
            "model, evaluation and card left as they are",
            flush=True,
        )
        return card
    quantization = f" --quantization {mode}" if mode else ""
    calibration["command"] = command or f"fer publish {name} --calibrate{quantization}"
    seed, previous_quantization = training_seed(card, model_dir), card.get("quantization")
    with staged_model_dir(model_dir) as work:
        keras_model.save(work / KERAS_FILE)
        card["calibration"] = calibration
        if served_mode is not None:
            export_served_tflite(keras_model, dataset, work, card, seed, served_mode)
            if mode is not None:
                card["tflite_export_command"] = calibration["command"]
        # EmotionModel reads the output temperatures from the card on disk.
        save_card(work, card, model_card=False)
        evaluate_forms(work, card, dataset)
        save_card(work, card)
    if served_mode is not None:
        _say_if_the_mode_changed(name, previous_quantization, card, served_mode)
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
