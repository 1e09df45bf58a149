"""Publishing trained weights as a shipped model, and redoing parts of a published one.

A published model is a folder: ``model.keras``, the served ``model_int8.tflite``
(:mod:`fer.training.export`), ``card.json`` and ``MODEL_CARD.md`` (:mod:`fer.training.card`) and
``evaluation.json``, which holds every report of both forms
(:mod:`fer.evaluation.evaluation_file`). ``fer publish`` runs the functions that redo one part:
re-export, recalibrate, fit output temperatures, add the pipeline's views.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fer.data.datasets import FaceDataset, load_dataset
from fer.evaluation.evaluate import PUBLISHED_VIEWS, evaluate_views
from fer.evaluation.evaluation_file import (
    add_reports,
    empty_evaluation,
    find_report,
    served_backend,
    write_evaluation,
)
from fer.models.cards import CARD_FILE, KERAS_FILE, card_label_set, read_card
from fer.models.inference import PIPELINE_TTA, EmotionModel
from fer.training.card import build_card, save_card, training_record
from fer.training.export import export_served_tflite


def evaluate_form(
    model_dir: Path,
    backend: str,
    dataset: FaceDataset,
    grid=PUBLISHED_VIEWS,
    output_temperatures: dict | None = None,
    replace: bool = True,
) -> dict:
    """Evaluate one form of a model (``"keras"`` or ``"tflite"``) into its ``evaluation.json``.

    With ``replace`` every earlier report of that form is dropped first (its file or its
    probabilities changed). ``output_temperatures`` overrides the card's, for temperatures not
    written yet. Returns the model's evaluation.
    """
    model = EmotionModel(model_dir, backend=backend)
    if output_temperatures is not None:
        model.output_temperatures = dict(output_temperatures)
    reports = evaluate_views(model, dataset, grid)
    return add_reports(model_dir, reports, replace_backend=backend if replace else None)


def evaluate_forms(model_dir: Path, card: dict, dataset: FaceDataset, **options) -> dict:
    """Evaluate the Keras model and, when the card says it is exported, the TFLite file."""
    evaluation = evaluate_form(model_dir, "keras", dataset, **options)
    if card.get("served_backend") == "tflite_int8":
        evaluation = evaluate_form(model_dir, "tflite", dataset, **options)
    return evaluation


def served_summary(card: dict, evaluation: dict, views: str = "none") -> str:
    """One line on the served form's PrivateTest figures, for the end of a command."""
    report = find_report(evaluation, "PrivateTest", views, served_backend(card))
    if report is None:
        return "no PrivateTest report"
    label = "" if views == "none" else f" with {views} views"
    return (
        f"PrivateTest{label} accuracy {report['accuracy'] * 100:.2f} % macro-F1 "
        f"{report['macro_f1']:.3f} ECE {report['ece']:.4f} "
        f"({card.get('served_backend', served_backend(card))})"
    )


def publish_model(
    keras_model,
    selection: dict,
    output_dir: Path,
    name: str,
    label_set: str,
    config,
    state,
    command: str,
    git_commit: str,
    data_dir: Path,
    export_tflite: bool = True,
    quantization: str = "dynamic",
    replace: bool = False,
) -> dict:
    """Publish a training run's chosen head with its run's training record.

    ``keras_model`` and ``selection`` come from
    :func:`fer.training.selection.choose_published_head`, which has recomputed the model's
    batch-norm statistics already.
    """
    chosen = selection["chosen"]
    training = {
        "heads_trained_jointly": list(config.label_sets),
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "command": command,
        "git_commit": git_commit,
        "epochs_run": state.epochs_done,
        "selected_epoch": selection["epoch"],
        "selection": selection,
        "selected_publictest_accuracy": selection["publictest_accuracy"][chosen],
        # The whole cost of the weights: earlier stages (--init-from) and the choice included.
        "wall_time_s": round(state.total_wall_time_s + selection["seconds"], 1),
        "stages": state.stages(),
    }
    return publish_weights(
        keras_model,
        output_dir,
        name,
        label_set,
        config.architecture,
        training,
        data_dir,
        export_tflite=export_tflite,
        quantization=quantization,
        batch_norm_recomputed=True,
        replace=replace,
    )


def prepare_weights(
    keras_model, dataset: FaceDataset, batch_norm_recomputed: bool, calibrate: bool
) -> tuple[str | None, dict | None]:
    """Recompute batch-norm statistics (unless done), then fold a PublicTest temperature in.

    Returns the card's batch-norm note (None for a model without batch norm) and its
    calibration record (None without ``calibrate``).
    """
    from fer.models.zoo import batch_norm_layers, recalibrate_batch_norm
    from fer.training.calibration import calibrate_on_split

    training_faces = dataset.split("Training").images
    if not batch_norm_recomputed:
        recalibrate_batch_norm(keras_model, training_faces)
    note = None
    if batch_norm_layers(keras_model):
        note = (
            f"recomputed on the {len(training_faces)} un-augmented Training faces after "
            "selection (fer.models.zoo.recalibrate_batch_norm)"
        )
    # After the statistics: they change the logits the temperature is fitted to.
    calibration = calibrate_on_split(keras_model, dataset) if calibrate else None
    return note, calibration


def check_model_name(name: str) -> str:
    """``name`` if it can name a model folder (``ValueError`` naming the problem otherwise)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a model name must not be empty")
    if name != name.strip() or name.startswith(".") or any(c in name for c in "/\\\0"):
        raise ValueError(
            f"{name!r} cannot name a model: no '/', no leading '.' or spaces (it becomes a "
            "folder name)"
        )
    if not name.isprintable():
        raise ValueError(f"{name!r} cannot name a model: it holds control characters")
    return name


def check_model_destinations(
    output_dir: Path, names: list[str], replace: bool = False
) -> list[Path]:
    """The folders ``output_dir/NAME`` the models ``names`` will be published to, checked
    before any work: names valid and distinct, ``output_dir`` a folder (or creatable), and no
    existing model overwritten unless ``replace``. ``ValueError`` names what was wrong."""
    for name in names:
        check_model_name(name)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"each model needs its own name; repeated: {', '.join(repeated)}")
    output_dir = Path(output_dir)
    for ancestor in (output_dir, *output_dir.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ValueError(f"the output folder {output_dir} cannot be made: {ancestor} "
                                 "is a file")
            break
    targets = [output_dir / name for name in names]
    for target in targets:
        if target.exists() and not target.is_dir():
            raise ValueError(f"{target} is a file, not a model folder")
        if target.is_dir() and any(target.iterdir()) and not replace:
            raise ValueError(
                f"{target} holds a model already; choose another name, or pass --replace to "
                "overwrite it"
            )
    return targets


@contextmanager
def new_model_dir(output_dir: Path, replace: bool = False) -> Iterator[Path]:
    """A hidden folder beside ``output_dir`` to write a whole model into. On a clean exit it
    becomes ``output_dir`` (an existing model there is replaced only when ``replace``); on an
    error it is removed, so no half-written model is left and none is overwritten."""
    output_dir = Path(output_dir)
    check_model_destinations(output_dir.parent, [output_dir.name], replace)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        os.chmod(work, 0o755)
        yield work
        check_model_destinations(output_dir.parent, [output_dir.name], replace)
        if output_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-old-", dir=output_dir.parent))
            os.replace(output_dir, old)  # an empty folder's name: the rename replaces it
            os.replace(work, output_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def publish_weights(
    keras_model,
    output_dir: Path,
    name: str,
    label_set: str,
    architecture: str,
    training: dict,
    data_dir: Path,
    export_tflite: bool = True,
    quantization: str = "dynamic",
    batch_norm_recomputed: bool = False,
    calibrate: bool = True,
    replace: bool = False,
) -> dict:
    """Write ``keras_model`` into ``output_dir`` as a model; returns its card. The folder
    appears whole or not at all, and an existing model there is overwritten only with
    ``replace`` (:func:`new_model_dir`).

    ``training`` is the card's training record (command, config, seed, wall time, stages, ...);
    the dataset checksums, protocol and machine are added here. The batch-norm statistics are
    first recomputed on the label set's un-augmented Training faces
    (:func:`fer.models.zoo.recalibrate_batch_norm`), which the card records;
    ``batch_norm_recomputed`` says the caller has done exactly that already. With
    ``calibrate`` a temperature fitted on PublicTest is then folded into the softmax head
    (:func:`fer.training.calibration.calibrate_on_split`; accuracy is unchanged). Then both
    forms are evaluated into ``evaluation.json`` and ``MODEL_CARD.md`` is written.
    """
    started = time.perf_counter()
    dataset = load_dataset(label_set, data_dir)
    training = training_record(dataset, label_set, training)
    note, calibration = prepare_weights(keras_model, dataset, batch_norm_recomputed, calibrate)
    if note:
        training["batch_norm_statistics"] = note
    card = build_card(
        name, label_set, architecture, keras_model.count_params(), training, calibration
    )
    with new_model_dir(Path(output_dir), replace) as work:
        keras_model.save(work / KERAS_FILE)
        if export_tflite:
            export_served_tflite(
                keras_model, dataset, work, card, int(training["seed"]), quantization
            )
        else:
            card["served_backend"] = "keras"
        # Provisional: EmotionModel reads classes and temperatures from the card on disk.
        save_card(work, card, model_card=False)
        write_evaluation(work, empty_evaluation(name))
        evaluation = evaluate_forms(work, card, dataset)
        card["publish_seconds"] = round(time.perf_counter() - started, 1)
        save_card(work, card)
    print(f"published {name}: {served_summary(card, evaluation)}", flush=True)
    return card


@contextmanager
def _staged(model_dir: Path) -> Iterator[Path]:
    """A working copy of ``model_dir``'s files, in a hidden folder inside it. The files changed
    there replace the model's only when the whole step succeeded: a step that fails half-way
    (an export, an evaluation) leaves the model, card and evaluation as they were, instead of a
    new model file beside an old card."""
    work = Path(tempfile.mkdtemp(prefix=".staged-", dir=model_dir))
    try:
        for path in model_dir.iterdir():
            if path.is_file():
                shutil.copy2(path, work / path.name)
        try:
            yield work
        except (ValueError, FileNotFoundError) as error:
            raise _naming_the_model(error, work, model_dir) from None
        for path in work.iterdir():
            os.replace(path, model_dir / path.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _naming_the_model(error: Exception, work: Path, model_dir: Path) -> Exception:
    """``error`` with the working copy's paths in its message shown as the model's own: the
    user knows the model folder, not the hidden copy that is gone when the message is read."""
    message = str(error)
    if str(work) not in message:
        return error
    try:
        return type(error)(message.replace(str(work), str(model_dir)))
    except TypeError:  # an error class that takes more than a message
        return error


def _training_seed(card: dict, model_dir: Path) -> int:
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


def _load_published(name: str, data_dir: Path):
    """A published model's directory, card, Keras model and its label set's dataset."""
    from fer.models.cards import resolve_model_dir
    from fer.models.inference import KerasRunner

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
    with _staged(model_dir) as work:
        evaluation = evaluate_forms(work, card, dataset, grid=grid, replace=False)
        card["tta_zoom_reports_command"] = command or f"fer publish {name} --add-tta-zoom"
        save_card(work, card)
    return evaluation


def reexport(name: str, mode: str, data_dir: Path, command: str | None = None) -> dict:
    """Re-export a shipped model's TFLite file from its Keras model and re-evaluate it.

    Returns the new card.
    """
    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
    seed = _training_seed(card, model_dir)
    with _staged(model_dir) as work:
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

    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
    previous = stored_temperature(card, model_dir)
    calibration = calibrate_on_split(keras_model, dataset, previous_temperature=previous)
    if calibration["fitted_on"] is None:
        raise ValueError(f"{name}: {calibration['note']}")
    calibration["command"] = command or f"fer publish {name} --calibrate"
    seed = _training_seed(card, model_dir)
    with _staged(model_dir) as work:
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

    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
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
    with _staged(model_dir) as work:
        evaluate_forms(work, card, dataset, output_temperatures=temperatures)
        save_card(work, card)
    return card
