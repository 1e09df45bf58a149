"""Publishing a trained head as a shipped model: ``model.keras``, int8 TFLite, reports, card.

The card is the model's contract and its record: classes in output order, input spec and
preprocessing, data checksums, metrics per split for both the Keras and the TFLite form, training
command, git commit, wall time and parameter count.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from fer.config import machine_description
from fer.data import FaceDataset, load_dataset
from fer.emotions import class_set
from fer.evaluate import SPLITS, evaluate_split, report_path, save_report
from fer.inference import CARD_FILE, KERAS_FILE, PIPELINE_TTA, TFLITE_FILE, EmotionModel
from fer.preprocess import INPUT_SHAPE, PREPROCESSING_DESCRIPTION, standardize_faces

CARD_VERSION = 1
N_CALIBRATION_FACES = 1000
INTENDED_USE = (
    "Supports a clinician's attention during a consented remote session by estimating the "
    "facial expression of the person on camera. It makes no decisions about people and is not a "
    "diagnostic device; facial expression is not the same as felt emotion."
)
LIMITATIONS = [
    "Trained on FER2013 web images (48x48 gray, mostly frontal, posed and spontaneous mixed); "
    "accuracy on webcam video of patients, children, older adults, darker or poorly lit faces, "
    "faces with glasses/masks, or people with facial paralysis is not measured here.",
    "FER2013 labels are noisy (human accuracy is estimated around 65-70 %); disgust and fear "
    "have the lowest recall.",
    "Expressions are culturally and individually variable; use the smoothed trend, not single "
    "frames, and always together with the clinician's own judgement.",
]


def model_after_standardization(keras_model):
    """The same network with standardised faces as input (for int8 export).

    The functional graph is cut at the ``standardize`` layer's output, so branching backbones
    (shortcuts, squeeze-excite gates) export as well as single chains; weights are shared, not
    copied.
    """
    import keras

    names = [layer.name for layer in keras_model.layers]
    if "standardize" not in names:
        raise ValueError(f"{keras_model.name} has no 'standardize' layer to cut at")
    standardized = keras_model.get_layer("standardize").output
    return keras.Model(standardized, keras_model.output, name=f"{keras_model.name}_core")


QUANTIZATION_MODES = {
    # Chosen for the shipped models: on FER2013 PublicTest it matched the calibrated full-integer
    # export (65.17 % vs 65.20 %) while staying with the Keras reference (65.23 %), and XNNPACK's
    # dynamically quantised kernels ran a single face faster (0.29 vs 0.33 ms).
    "dynamic": "int8 weights; activations quantised per call at run time (dynamic range)",
    "full": "int8 weights and activations, calibrated on 1,000 training faces",
}


def export_tflite_int8(
    keras_model, calibration_faces: np.ndarray | None, path: Path, mode: str = "dynamic"
) -> str:
    """Export with int8 weights (float input/output); returns the mode's description.

    ``mode="dynamic"`` needs no calibration; ``mode="full"`` also quantises activations,
    calibrated on ``calibration_faces`` (real training faces). The exported graph takes
    standardised faces (see ``standardize_faces``), which the TFLite runner computes in NumPy.
    """
    import tensorflow as tf

    if mode not in QUANTIZATION_MODES:
        raise ValueError(f"mode must be one of {sorted(QUANTIZATION_MODES)}, not {mode!r}")
    core = model_after_standardization(keras_model)
    converter = tf.lite.TFLiteConverter.from_keras_model(core)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "full":
        if calibration_faces is None or not len(calibration_faces):
            raise ValueError("full-integer export needs calibration faces")
        standardized = standardize_faces(calibration_faces[..., None])

        def representative_faces():
            for face in standardized:
                yield [face[None]]

        converter.representative_dataset = representative_faces
    path.write_bytes(converter.convert())
    return QUANTIZATION_MODES[mode]


def export_and_evaluate_tflite(
    keras_model, dataset: FaceDataset, output_dir: Path, card: dict, seed: int, mode: str
) -> None:
    """Export the served TFLite file beside the model and record its metrics in ``card``."""
    training_faces = dataset.split("Training").images
    pick = np.random.default_rng(seed).choice(
        len(training_faces), min(N_CALIBRATION_FACES, len(training_faces)), replace=False
    )
    card["quantization"] = export_tflite_int8(
        keras_model, training_faces[pick], output_dir / TFLITE_FILE, mode
    )
    exported = EmotionModel(output_dir, backend="tflite")
    card["metrics_tflite_int8"] = evaluate_all_splits(exported, dataset, output_dir)
    card["served_backend"] = "tflite_int8"
    card.setdefault("files", {}).update(
        tflite_int8=TFLITE_FILE,
        tflite_input="standardised faces (fer.preprocess.standardize_faces)",
    )
    # Latency figures belong to the file they were measured on.
    card.pop("benchmark", None)


def _split_metrics(report: dict) -> dict:
    return {key: report[key] for key in ("accuracy", "macro_f1", "ece", "n_samples")}


def evaluate_all_splits(model: EmotionModel, dataset: FaceDataset, model_dir: Path) -> dict:
    """Metrics per split and with test-time views; full reports saved beside the model."""
    metrics = {}
    for split in SPLITS:
        report = evaluate_split(model, dataset, split)
        save_report(report, report_path(model_dir, split, False, model.backend))
        metrics[split] = _split_metrics(report)
    report = evaluate_split(model, dataset, "PrivateTest", tta=True)
    save_report(report, report_path(model_dir, "PrivateTest", True, model.backend))
    metrics["PrivateTest_tta"] = _split_metrics(report)
    metrics.update(evaluate_tta_zoom(model, dataset, model_dir))
    return metrics


def evaluate_tta_zoom(model: EmotionModel, dataset: FaceDataset, model_dir: Path) -> dict:
    """``PublicTest_tta_zoom`` and ``PrivateTest_tta_zoom`` metrics (the pipeline's views)."""
    metrics = {}
    for split in ("PublicTest", "PrivateTest"):
        report = evaluate_split(model, dataset, split, tta=PIPELINE_TTA)
        save_report(report, report_path(model_dir, split, PIPELINE_TTA, model.backend))
        metrics[f"{split}_tta_zoom"] = _split_metrics(report)
    return metrics


def add_tta_zoom_metrics(name: str, data_dir: Path) -> dict:
    """Evaluate a published model's Keras and TFLite forms with mirror+zoom views into its card.

    Nothing else in the card or the model files changes.
    """
    from fer.inference import resolve_model_dir

    model_dir = resolve_model_dir(name)
    card = json.loads((model_dir / CARD_FILE).read_text())
    dataset = load_dataset(card["label_set"], data_dir)
    card["metrics"].update(evaluate_tta_zoom(EmotionModel(model_dir, "keras"), dataset, model_dir))
    if "metrics_tflite_int8" in card:
        served = EmotionModel(model_dir, "tflite")
        card["metrics_tflite_int8"].update(evaluate_tta_zoom(served, dataset, model_dir))
    card["tta_zoom_metrics_command"] = f"python -m fer.modelcard {name} --add-tta-zoom"
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    return card


def dataset_protocol(label_set: str) -> str:
    """The evaluation protocol a card states for a label set."""
    if label_set == "fer2013":
        return "FER2013: train on Training, select on PublicTest, report PrivateTest"
    return (
        "FER+ majority vote (single votes removed, >50 % majority, unknown/NF dropped); trained "
        "on vote distributions of kept Training rows; select on PublicTest, report PrivateTest "
        "(FER+ test)"
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
) -> dict:
    """Publish a training run's chosen head with its run's training record.

    ``keras_model`` and ``selection`` come from :func:`fer.train.choose_published_head`, which
    has recomputed the model's batch-norm statistics already.
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
    )


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
) -> dict:
    """Write ``keras_model`` into ``output_dir`` as a model: Keras file, TFLite, reports, card.

    ``training`` is the card's training record (command, config, seed, wall time, stages, ...);
    the dataset checksums, protocol and machine are added here. The batch-norm statistics are
    first recomputed on the label set's un-augmented Training faces
    (:func:`fer.models.recalibrate_batch_norm`), which the card records;
    ``batch_norm_recomputed`` says the caller has done exactly that already. With
    ``calibrate`` a temperature fitted on PublicTest is then folded into the softmax head
    (:func:`fer.calibration.calibrate_on_split`; accuracy is unchanged).
    """
    from fer.calibration import calibrate_on_split
    from fer.models import batch_norm_layers, recalibrate_batch_norm

    started = time.perf_counter()
    output_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(label_set, data_dir)
    training = {
        "datasets": {"fer2013_md5": dataset.checksum.split(" ")[0].removeprefix("fer2013:")},
        "data_checksum": dataset.checksum,
        "protocol": dataset_protocol(label_set),
        **training,
        "machine": machine_description(),
    }
    training_faces = dataset.split("Training").images
    if not batch_norm_recomputed:
        recalibrate_batch_norm(keras_model, training_faces)
    if batch_norm_layers(keras_model):
        training["batch_norm_statistics"] = (
            f"recomputed on the {len(training_faces)} un-augmented Training faces after "
            "selection (fer.models.recalibrate_batch_norm)"
        )
    # After the statistics: they change the logits the temperature is fitted to.
    calibration = calibrate_on_split(keras_model, dataset) if calibrate else None
    keras_model.save(output_dir / KERAS_FILE)
    card = {
        "name": name,
        "card_version": CARD_VERSION,
        "label_set": label_set,
        "classes": list(class_set(label_set).names),
        "architecture": architecture,
        "parameters": int(keras_model.count_params()),
        "input": {
            "shape": list(INPUT_SHAPE[:2]),
            "dtype": "uint8",
            "colour": "gray",
            **PREPROCESSING_DESCRIPTION,
        },
        "training": training,
        **({"calibration": calibration} if calibration else {}),
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }
    # Write a provisional card first: EmotionModel reads classes from it.
    (output_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    reference = EmotionModel(output_dir, backend="keras")
    card["metrics"] = evaluate_all_splits(reference, dataset, output_dir)
    card["metrics_source"] = f"python -m fer.evaluate {name} --split SPLIT --backend keras"
    card["files"] = {"keras": KERAS_FILE}
    if export_tflite:
        export_and_evaluate_tflite(
            keras_model, dataset, output_dir, card, int(training["seed"]), quantization
        )
    else:
        card["served_backend"] = "keras"
    card["publish_seconds"] = round(time.perf_counter() - started, 1)
    (output_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    served = card.get("metrics_tflite_int8", card["metrics"])
    print(
        f"published {name}: PrivateTest accuracy {served['PrivateTest']['accuracy'] * 100:.2f} % "
        f"macro-F1 {served['PrivateTest']['macro_f1']:.3f} ({card['served_backend']})",
        flush=True,
    )
    return card


def _load_published(name: str, data_dir: Path):
    """A published model's directory, card, Keras model and its label set's dataset."""
    import keras

    import fer.preprocess  # noqa: F401  registers the custom layers for deserialisation
    from fer.inference import resolve_model_dir

    model_dir = resolve_model_dir(name)
    card = json.loads((model_dir / CARD_FILE).read_text())
    keras_model = keras.models.load_model(model_dir / KERAS_FILE, compile=False)
    return model_dir, card, keras_model, load_dataset(card["label_set"], data_dir)


def reexport(name: str, mode: str, data_dir: Path) -> dict:
    """Re-export a shipped model's TFLite file from its Keras model and re-evaluate it."""
    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
    export_and_evaluate_tflite(
        keras_model, dataset, model_dir, card, int(card["training"]["seed"]), mode
    )
    card["tflite_export_command"] = f"python -m fer.modelcard {name} --quantization {mode}"
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    return card


def calibrate_published(name: str, mode: str, data_dir: Path) -> dict:
    """Fold a PublicTest temperature into a published model and re-evaluate both its forms.

    Only the softmax head's weights change (accuracy cannot), but every probability does, so
    all reports, both forms' metrics and the TFLite file are redone; the latency records go
    with the old file (:func:`export_and_evaluate_tflite`).
    """
    from fer.calibration import calibrate_on_split

    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
    previous = float(card.get("calibration", {}).get("temperature", 1.0))
    calibration = calibrate_on_split(keras_model, dataset, previous_temperature=previous)
    if calibration["fitted_on"] is None:
        raise ValueError(f"{name}: {calibration['note']}")
    calibration["command"] = f"python -m fer.modelcard {name} --calibrate"
    keras_model.save(model_dir / KERAS_FILE)
    card["calibration"] = calibration
    # EmotionModel reads the output temperatures from the card on disk.
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    card["metrics"] = evaluate_all_splits(EmotionModel(model_dir, "keras"), dataset, model_dir)
    if "metrics_tflite_int8" in card:
        export_and_evaluate_tflite(
            keras_model, dataset, model_dir, card, int(card["training"]["seed"]), mode
        )
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    return card


def add_output_temperatures(name: str, data_dir: Path) -> dict:
    """Fit a calibrated model's one-pass and mirror temperatures; re-evaluate both forms.

    For models calibrated before output temperatures existed. The model files do not change
    (so the card's latency records stay); only the probabilities of those view sets do, so the
    card's metrics and reports are redone. A model without a fitted head temperature is refused,
    and nothing is written.
    """
    from fer.calibration import fit_output_temperatures, keras_runner

    model_dir, card, keras_model, dataset = _load_published(name, data_dir)
    calibration = card.get("calibration") or {}
    if calibration.get("fitted_on") is None:
        raise ValueError(f"{name}: no fitted head temperature; run --calibrate first")
    run, n_classes = keras_runner(keras_model), len(card["classes"])
    try:
        fitted = fit_output_temperatures(run, n_classes, dataset.split("PublicTest"))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    calibration.update(fitted)
    calibration["output_temperatures_command"] = (
        f"python -m fer.modelcard {name} --output-temperatures"
    )
    card["calibration"] = calibration
    forms = {"metrics": "keras"}
    if "metrics_tflite_int8" in card:
        forms["metrics_tflite_int8"] = "tflite"
    for key, backend in forms.items():
        model = EmotionModel(model_dir, backend)
        model.output_temperatures = dict(calibration["output_temperatures"])
        card[key] = evaluate_all_splits(model, dataset, model_dir)
    (model_dir / CARD_FILE).write_text(json.dumps(card, indent=1))
    return card


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from fer.config import data_dir_from_env
    from fer.inference import ModelNotFoundError

    parser = argparse.ArgumentParser(
        prog="python -m fer.modelcard",
        description="Re-export a model's TFLite file and re-evaluate it into its card",
    )
    parser.add_argument("model", help="model name under models/ or a model directory")
    parser.add_argument("--quantization", default="dynamic", choices=sorted(QUANTIZATION_MODES))
    parser.add_argument(
        "--add-tta-zoom", action="store_true",
        help="only add PublicTest/PrivateTest metrics with mirror+zoom test-time views",
    )
    parser.add_argument(
        "--calibrate", action="store_true",
        help="fold a temperature fitted on PublicTest into the softmax head, then re-export and "
        "re-evaluate",
    )
    parser.add_argument(
        "--output-temperatures",
        action="store_true",
        help="fit the one-pass and mirror temperatures of a calibrated model and re-evaluate "
        "(model files unchanged)",
    )
    args = parser.parse_args(argv)

    def served(card: dict, split: str = "PrivateTest") -> dict:
        return card.get("metrics_tflite_int8", card["metrics"])[split]

    # One action per run; each ends in one line about its result.
    try:
        if args.output_temperatures:
            card = add_output_temperatures(args.model, data_dir_from_env())
            result = (
                f"output temperatures {card['calibration']['output_temperatures']}; one-pass "
                f"PrivateTest ECE {served(card)['ece']:.4f}"
            )
        elif args.calibrate:
            card = calibrate_published(args.model, args.quantization, data_dir_from_env())
            result = (
                f"temperature {card['calibration']['temperature']}; PrivateTest accuracy "
                f"{served(card)['accuracy'] * 100:.2f} % ECE {served(card)['ece']:.4f}"
            )
        elif args.add_tta_zoom:
            card = add_tta_zoom_metrics(args.model, data_dir_from_env())
            accuracy = served(card, "PrivateTest_tta_zoom")["accuracy"]
            result = f"PrivateTest with mirror+zoom {accuracy * 100:.2f} %"
        else:
            card = reexport(args.model, args.quantization, data_dir_from_env())
            result = (
                f"{card['quantization']}; PrivateTest accuracy "
                f"{served(card)['accuracy'] * 100:.2f} % macro-F1 {served(card)['macro_f1']:.3f}"
            )
    except (ModelNotFoundError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{card['name']}: {result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
