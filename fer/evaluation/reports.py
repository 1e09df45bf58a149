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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fer.evaluation.evaluation_file import (
    evaluation_path,
    iter_reports,
    read_evaluation,
    views_key,
)
from fer.models.inference import CARD_FILE, tta_label

SUMMARY_STEM = "summary"
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
    """Names of model directories (those holding a ``card.json``), sorted."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(path.parent.name for path in models_dir.glob(f"*/{CARD_FILE}"))


def model_reports(model_dir: Path) -> list[dict]:
    """A model's saved reports (split, then views, then backend); none when it has no
    readable ``evaluation.json``."""
    try:
        return list(iter_reports(read_evaluation(model_dir)))
    except ValueError:
        return []


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
    except (OSError, ValueError) as error:
        return f"No calibration record: {card_path} could not be read ({error})."
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
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    missing = [
        key for key in ("accuracy", "macro_f1", "classes", "per_class") if key not in report
    ]
    if missing:
        raise ValueError(f"{path} is not a classification report (missing {missing})")
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
        "ece": float(report.get("ece", np.nan)),
        "epochs": training.get("epochs_run", report.get("epochs_run", np.nan)),
        "path": str(path),
    }


def report_table(models_dir: Path, comparison_dir: Path) -> pd.DataFrame:
    """Every saved report as one row (columns :data:`TABLE_COLUMNS`), unreadable files skipped.

    ``source`` is ``"model"`` for shipped models' reports and ``"compare"`` for comparison runs.
    """
    rows = []
    for name in list_models(models_dir):
        model_dir = Path(models_dir) / name
        for report in model_reports(model_dir):
            rows.append(_row(report, "model", name, evaluation_path(model_dir)))
    for path in comparison_report_paths(comparison_dir):
        try:
            report = load_report(path)
        except ValueError:
            continue
        rows.append(_row(report, "compare", report.get("model", path.stem), path))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


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
