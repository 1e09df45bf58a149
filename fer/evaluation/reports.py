"""Reading saved evaluation reports into tables, and picking examples for error galleries.

Two kinds of reports exist: those of shipped models, all in ``models/<name>/evaluation.json``
(:mod:`fer.evaluation.evaluation_file`, written by ``fer evaluate`` and ``fer publish``), and the
strategy comparison's, one file per pair in
``experiments/strategy_comparison/<arch>_<strategy>.json`` (:mod:`fer.training.compare`).
Each is a :func:`fer.evaluation.metrics.classification_report` with a few fields saying what was
scored. Pure NumPy/pandas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.evaluation.evaluation_file import (
    evaluation_path,
    iter_placed_reports,
    read_evaluation,
    views_key,
)
from fer.models.cards import CARD_FILE
from fer.models.inference import tta_label

SUMMARY_STEM = "summary"
PER_CLASS_METRICS = ("precision", "recall", "f1")
BIN_FIELDS = ("low", "high", "count", "accuracy", "confidence")
TABLE_COLUMNS = [
    "source",
    "name",
    "dataset",
    "split",
    "tta",
    "backend",
    "n_samples",
    "accuracy",
    "macro_f1",
    "ece",
    "epochs",
    "path",
]


def list_models(models_dir: Path) -> list[str]:
    """Names of model directories (those holding a ``card.json``, hidden ones left out),
    sorted."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    # A hidden folder is a model being published (fer.training.model_folders.new_model_dir).
    return sorted(
        path.parent.name for path in models_dir.glob(f"*/{CARD_FILE}")
        if not path.parent.name.startswith(".")
    )


def folders_without_card(models_dir: Path) -> list[str]:
    """Folders of ``models_dir`` that hold no readable ``card.json`` (hidden ones left out):
    a damaged model, or something that is not a model; :func:`list_models` skips them."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(
        path.name for path in models_dir.iterdir()
        if path.is_dir() and not path.name.startswith(".") and not (path / CARD_FILE).is_file()
    )


def _is_share(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0)


def _is_count(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def report_problem(report: Any, shown: bool = True) -> str | None:
    """What keeps ``report`` from being shown, in words, or None when it can be.

    Every report needs its headline figures (shares in 0..1), its classes and per-class scores;
    with ``shown`` (a model's report, which the Evaluation page draws) also where it sits
    (split, views, format), both confusion matrices (classes × classes, finite, not negative)
    and well-formed reliability bins.
    """
    if not isinstance(report, dict):
        return "it is not a report (a JSON object)"
    bad = [key for key in ("accuracy", "macro_f1") if not _is_share(report.get(key))]
    if bad:
        return f"{' and '.join(bad)} must be {'numbers' if len(bad) > 1 else 'a number'} in 0..1"
    if report.get("ece") is not None and not _is_share(report["ece"]):
        return "ece must be a number in 0..1"
    if "n_samples" in report and not _is_count(report["n_samples"]):
        return "n_samples must be a count"
    classes = report.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)
            and len(set(classes)) == len(classes)):
        return "classes must be a list of distinct class names"
    per_class = report.get("per_class")
    if not isinstance(per_class, dict) or any(
        not isinstance(per_class.get(name), dict)
        or not all(_is_share(per_class[name].get(metric)) for metric in PER_CLASS_METRICS)
        for name in classes
    ):
        return f"per_class must give {', '.join(PER_CLASS_METRICS)} in 0..1 for every class"
    if not shown:
        return None
    if not all(isinstance(report.get(key), str) for key in ("split", "backend")):
        return "split and backend must be named"
    try:
        views_key(report.get("tta"))
    except (TypeError, ValueError):
        return f"tta {report.get('tta')!r} names no test-time views"
    for key in ("confusion_matrix", "confusion_matrix_normalised"):
        try:
            matrix = np.asarray(report.get(key), dtype=np.float64)
        except (TypeError, ValueError):
            return f"{key} is not a matrix of numbers"
        if matrix.shape != (len(classes), len(classes)):
            return f"{key} must be {len(classes)}×{len(classes)}, not {matrix.shape}"
        if not np.isfinite(matrix).all() or (matrix < 0).any():
            return f"{key} holds values that are not finite, non-negative numbers"
    bins = report.get("reliability_bins") or []
    if not isinstance(bins, list) or any(
        not isinstance(entry, dict) or not all(_is_count(entry.get(key)) for key in BIN_FIELDS)
        for entry in bins
    ):
        return f"reliability_bins must each give {', '.join(BIN_FIELDS)} as numbers"
    return None


def read_model_reports(model_dir: Path) -> tuple[list[dict], list[str]]:
    """A model's reports that can be shown (split, then views, then backend), and what is wrong
    with the file or with each report that cannot, naming the file and the report."""
    path = evaluation_path(model_dir)
    try:
        evaluation = read_evaluation(model_dir)
    except ValueError as error:
        return [], [str(error)]
    good, problems = [], []
    for split, views, backend, report in iter_placed_reports(evaluation):
        problem = report_problem(report)
        if problem is None:
            good.append(report)
        else:
            problems.append(f"{path}: report {split}/{views}/{backend}: {problem}")
    return good, problems


def model_reports(model_dir: Path) -> list[dict]:
    """A model's saved reports that can be shown (split, then views, then backend); none when
    it has no readable ``evaluation.json`` (:func:`read_model_reports` says why)."""
    return read_model_reports(model_dir)[0]


def comparison_report_paths(comparison_dir: Path) -> list[Path]:
    """Reports of the strategy comparison (its folder's ``*.json`` except the summary)."""
    folder = Path(comparison_dir)
    return sorted(path for path in folder.glob("*.json") if path.stem != SUMMARY_STEM)


def saved_report_paths(models_dir: Path, comparison_dir: Path) -> list[Path]:
    """Every file :func:`report_table` reads (to key caches on their modification times)."""
    evaluations = [evaluation_path(Path(models_dir) / name) for name in list_models(models_dir)]
    return [path for path in evaluations if path.is_file()] + comparison_report_paths(
        comparison_dir
    )


def calibration_note(model_dir: Path) -> str:
    """One sentence, from the model's card, on what its probabilities were calibrated to."""
    card_path = Path(model_dir) / CARD_FILE
    try:
        calibration = json.loads(card_path.read_text()).get("calibration")
    except (OSError, ValueError, AttributeError) as error:
        return f"No calibration record: {card_path} could not be read ({error})."
    if calibration is not None and not isinstance(calibration, dict):
        return f"No calibration record: {card_path}'s 'calibration' is not a record."
    try:
        return _calibration_sentence(calibration)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return f"No calibration record: {card_path}'s 'calibration' is incomplete."


def _calibration_sentence(calibration: dict | None) -> str:
    if not calibration or calibration.get("fitted_on") is None:
        reason = f" ({calibration['note']})" if calibration and "note" in calibration else ""
        return f"Probabilities are the softmax as trained: no temperature was fitted{reason}."
    note = (
        f"Logits divided by a temperature of {calibration['temperature']:.4g}, fitted on "
        f"{calibration['fitted_on']}"
    )
    split = calibration["fitted_on"].split()[0]
    before_after = calibration.get(f"{split}_before_after")
    if before_after:
        note += f"; there ECE {before_after['ece_before']:.3f} → {before_after['ece_after']:.3f}"
    temperatures = calibration.get("output_temperatures")
    if temperatures:
        names = {"none": "one pass", "mirror": "the mirror pair"}
        listed = ", ".join(
            f"{names.get(views, views)} {value:.4g}" for views, value in temperatures.items()
        )
        return note + f". Other views' outputs are rescaled by their own temperatures ({listed})."
    return note + ". Reports with other views (one pass, mirror only) can be less well calibrated."


def load_report(path: Path) -> dict:
    """A saved report; ``ValueError`` naming the file when it is not a classification report."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror or error}") from None
    problem = report_problem(report, shown=False)
    if problem:
        raise ValueError(f"{path} is not a classification report: {problem}")
    return report


def report_key(report: dict) -> str:
    """Where a report sits in ``evaluation.json``: ``"PrivateTest/mirror+zoom/keras"``."""
    return f"{report['split']}/{views_key(report['tta'])}/{report['backend']}"


def report_label(report: dict) -> str:
    """``PrivateTest +TTA mirror+zoom (keras)``; the served int8 form has no suffix. For menus."""
    backend = " (keras)" if report.get("backend") == "keras" else ""
    return f"{report['split']}{tta_label(report.get('tta', False))}{backend}"


def _row(report: dict, source: str, name: str, path: Path) -> dict:
    training = report.get("training", {})
    return {
        "source": source,
        "name": name,
        "dataset": report.get("dataset", ""),
        "split": report.get("split", ""),
        "tta": tta_label(report.get("tta", False)).strip(),  # "", "+TTA", "+TTA mirror+zoom"
        "backend": report.get("backend", ""),
        "n_samples": int(report.get("n_samples", 0)),
        "accuracy": float(report["accuracy"]),
        "macro_f1": float(report["macro_f1"]),
        "ece": np.nan if report.get("ece") is None else float(report["ece"]),
        "epochs": training.get("epochs_run", report.get("epochs_run", np.nan)),
        "path": str(path),
    }


def report_table(models_dir: Path, comparison_dir: Path) -> pd.DataFrame:
    """Every saved report as one row (columns :data:`TABLE_COLUMNS`), unreadable files skipped.

    ``source`` is ``"model"`` for shipped models' reports and ``"compare"`` for comparison runs.
    """
    return read_report_table(models_dir, comparison_dir)[0]


def read_report_table(models_dir: Path, comparison_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """:func:`report_table`, and what is wrong with each file or report it left out."""
    rows, problems = [], []
    for name in list_models(models_dir):
        model_dir = Path(models_dir) / name
        shown, wrong = read_model_reports(model_dir)
        problems += wrong
        for report in shown:
            rows.append(_row(report, "model", name, evaluation_path(model_dir)))
    for path in comparison_report_paths(comparison_dir):
        try:
            report = load_report(path)
        except ValueError as error:
            problems.append(str(error))
            continue
        rows.append(_row(report, "compare", str(report.get("model", path.stem)), path))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS), problems


def row_labels(table: pd.DataFrame) -> pd.Series:
    """One label per row of a :func:`report_table`: ``ferplus · PrivateTest +TTA (keras)``."""
    backend = table["backend"].map(lambda name: " (keras)" if name == "keras" else "")
    views = (" " + table["tta"]).str.rstrip()
    return table["name"] + " · " + table["split"] + views + backend


def per_class_table(report: dict) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (rows in the report's class order)."""
    table = pd.DataFrame.from_dict(report["per_class"], orient="index")
    table.index.name = "emotion"
    table = table.reindex(report["classes"])
    if "support" in table.columns:
        table["support"] = table["support"].astype(np.int64)
    return table


def most_confident_mistakes(
    probabilities: NDArray, true_labels: NDArray, class_names: Sequence[str], n: int = 24
) -> pd.DataFrame:
    """The ``n`` misclassified examples the model was most sure about, most confident first.

    Columns: ``position`` (row in the inputs), ``true``, ``predicted``, ``confidence`` (probability
    of the predicted class), ``true_probability``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    true_labels = np.asarray(true_labels, dtype=np.int64)
    if probabilities.ndim != 2 or len(probabilities) != len(true_labels):
        raise ValueError("need (N, n_classes) probabilities and N labels")
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != true_labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:n]
    names = np.asarray(class_names)
    return pd.DataFrame(
        {
            "position": order.astype(np.int64),
            "true": names[true_labels[order]],
            "predicted": names[predicted[order]],
            "confidence": probabilities[order, predicted[order]],
            "true_probability": probabilities[order, true_labels[order]],
        }
    )
