"""Publishing trained weights as a shipped model.

A published model is a folder: ``model.keras``, the served ``model_int8.tflite``
(:mod:`fer.training.export`), ``card.json`` and ``MODEL_CARD.md`` (:mod:`fer.training.card`) and
``evaluation.json``, which holds every report of both forms
(:mod:`fer.evaluation.evaluation_file`). The folder is written whole
(:mod:`fer.training.model_folders`); ``fer publish`` redoes one part of it later
(:mod:`fer.training.republish`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
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
from fer.models.cards import KERAS_FILE
from fer.models.inference import EmotionModel
from fer.training.card import build_card, save_card, training_record
from fer.training.export import export_served_tflite
from fer.training.model_folders import new_model_dir, new_model_dirs


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


class PublicationError(RuntimeError):
    """Publishing models that go together stopped; none of them was published."""


def publish_together(
    writers: list[tuple[str, Callable[[Path], tuple[dict, dict]]]],
    targets: list[Path],
    group: str,
    replace: bool = False,
) -> list[dict]:
    """Publish models that belong together (the heads of one run, a soup per label set) as the
    folders ``targets``, all or none: each ``writers`` entry, a step's description and a
    function writing one model into the empty folder it is given (:func:`write_model`), runs in
    turn, and the models take their places only when all are written
    (:func:`new_model_dirs`). A step that fails leaves none of them published and every model
    already there as it was. Returns the cards; :class:`PublicationError` naming the step, the
    cause and the models not published otherwise (``group`` names them as a whole).
    """
    targets = [Path(target) for target in targets]
    folders = ", ".join(dict.fromkeys(str(target.parent) for target in targets))
    published: list[tuple[dict, dict]] = []
    step = f"{group} into {folders}"
    try:
        with new_model_dirs(targets, replace) as works:
            for (description, write), work in zip(writers, works, strict=True):
                step = description
                published.append(write(work))
            step = f"{group} into {folders}"  # the swap, when leaving the block
    except Exception as error:
        kept = " (the models there are as they were)" if replace else ""
        names = ", ".join(target.name for target in targets)
        raise PublicationError(
            f"publishing {step} failed ({type(error).__name__}: {error}), so none of "
            f"{group} was published: {names}{kept}"
        ) from error
    for card, evaluation in published:
        print(f"published {card['name']}: {served_summary(card, evaluation)}", flush=True)
    return [card for card, _ in published]


def publish_heads(
    run_dir: Path,
    state,
    config,
    datasets: dict[str, FaceDataset],
    output_dir: Path,
    names: list[str],
    command: str,
    git_commit: str,
    data_dir: Path,
    export_tflite: bool = True,
    quantization: str = "dynamic",
    replace: bool = False,
) -> list[dict]:
    """Publish each head of a training run (``config.label_sets``) as the model
    ``output_dir/NAME`` of ``names``, all or none (:func:`publish_together`): a head that
    cannot be published leaves no other head published and every model already there as it
    was. Returns the cards; :class:`PublicationError` naming the head and the cause otherwise.

    ``datasets`` holds each label set's dataset, the one its head is chosen and evaluated on.
    """
    from fer.training.selection import choose_published_head

    def head_writer(key: str, name: str) -> Callable[[Path], tuple[dict, dict]]:
        def write(work: Path) -> tuple[dict, dict]:
            keras_model, selection = choose_published_head(run_dir, key, datasets[key], state)
            return write_model(
                keras_model, work, name, key, config.architecture,
                run_training_record(config, state, selection, command, git_commit),
                data_dir, export_tflite=export_tflite, quantization=quantization,
                batch_norm_recomputed=True,
            )

        return write

    writers = [
        (f"the {key} head as {name}", head_writer(key, name))
        for key, name in zip(config.label_sets, names, strict=True)
    ]
    targets = [Path(output_dir) / name for name in names]
    return publish_together(writers, targets, "the run's models", replace)


def run_training_record(config, state, selection: dict, command: str, git_commit: str) -> dict:
    """The card's training record of a head of a training run, chosen as ``selection`` says
    (:func:`fer.training.selection.choose_published_head`)."""
    chosen = selection["chosen"]
    return {
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
    batch-norm statistics already. To publish all of a run's heads together, see
    :func:`publish_heads`.
    """
    return publish_weights(
        keras_model,
        output_dir,
        name,
        label_set,
        config.architecture,
        run_training_record(config, state, selection, command, git_commit),
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
    """Write ``keras_model`` into ``output_dir`` as a model (:func:`write_model`); returns its
    card. The folder appears whole or not at all, and an existing model there is overwritten
    only with ``replace`` (:func:`new_model_dir`)."""
    with new_model_dir(Path(output_dir), replace) as work:
        card, evaluation = write_model(
            keras_model, work, name, label_set, architecture, training, data_dir,
            export_tflite=export_tflite, quantization=quantization,
            batch_norm_recomputed=batch_norm_recomputed, calibrate=calibrate,
        )
    print(f"published {name}: {served_summary(card, evaluation)}", flush=True)
    return card


def write_model(
    keras_model,
    folder: Path,
    name: str,
    label_set: str,
    architecture: str,
    training: dict,
    data_dir: Path,
    export_tflite: bool = True,
    quantization: str = "dynamic",
    batch_norm_recomputed: bool = False,
    calibrate: bool = True,
) -> tuple[dict, dict]:
    """Write ``keras_model`` as the model ``name`` into the empty ``folder`` (a new model's,
    :func:`new_model_dir`); returns its card and its evaluation.

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
    keras_model.save(folder / KERAS_FILE)
    if export_tflite:
        seed = int(training["seed"])
        export_served_tflite(keras_model, dataset, folder, card, seed, quantization)
    else:
        card["served_backend"] = "keras"
    # Provisional: EmotionModel reads classes and temperatures from the card on disk.
    save_card(folder, card, model_card=False)
    write_evaluation(folder, empty_evaluation(name))
    evaluation = evaluate_forms(folder, card, dataset)
    card["publish_seconds"] = round(time.perf_counter() - started, 1)
    save_card(folder, card)
    return card, evaluation
