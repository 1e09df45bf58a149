"""Scoring a model on a dataset split: the reports that ``evaluation.json`` holds.

A report has accuracy, macro-F1, per-class precision/recall/F1, confusion matrices (counts and
row-normalised) and expected calibration error. The labels come from the model card's
``label_set`` (FER+ is scored on the rows its majority-vote protocol keeps). Reports are stored
by :mod:`fer.evaluation.evaluation_file`; ``fer evaluate`` runs one.
"""

from __future__ import annotations

import time

import numpy as np

from fer.data.datasets import FaceDataset
from fer.evaluation.metrics import classification_report
from fer.models.inference import TTA_ZOOMS, tta_label, tta_views

SPLITS = ("Training", "PublicTest", "PrivateTest")
# The reports publishing makes for each of a model's forms (Keras and TFLite), as
# (split, test-time views): every split in one pass, the mirror pair on the reported split, and
# the frame pipeline's views on the selection and the reported split.
PUBLISHED_VIEWS = (
    ("Training", "none"),
    ("PublicTest", "none"),
    ("PrivateTest", "none"),
    ("PrivateTest", "mirror"),
    ("PublicTest", "mirror+zoom"),
    ("PrivateTest", "mirror+zoom"),
)
PROGRESS_CHUNK = 2048  # faces per predict call when progress is shown (a multiple of batches)


def n_passes(tta: bool | str) -> int:
    """Forward passes per face for the test-time views ``tta`` (for progress bars)."""
    views = tta_views(tta)
    return 1 if views is None else 2 * len(TTA_ZOOMS[views])


def _predict(model, images: np.ndarray, tta: bool | str, progress) -> np.ndarray:
    if progress is None:
        return model.predict(images, tta=tta)
    parts = []
    for start in range(0, len(images), PROGRESS_CHUNK):
        chunk = images[start : start + PROGRESS_CHUNK]
        parts.append(model.predict(chunk, tta=tta))
        progress.update(len(chunk) * n_passes(tta))
    return np.concatenate(parts) if parts else model.predict(images, tta=tta)


def evaluate_split(
    model, dataset: FaceDataset, split: str, tta: bool | str = False, progress=None
) -> dict:
    """A full classification report for ``model`` on one split of ``dataset``.

    ``tta``: test-time views (``EmotionModel.predict``); the report's ``tta`` is ``False``,
    ``True`` (mirror, as earlier reports wrote it) or ``"mirror+zoom"``. ``progress`` (e.g. a
    ``tqdm`` bar) is advanced by faces × passes as the faces are scored. A TFLite report names
    the quantization the model's card records for its file.
    """
    views = tta_views(tta)
    saved_tta: bool | str = {None: False, "mirror": True}.get(views, views) or False
    if list(model.classes) != list(dataset.class_names):
        raise ValueError(
            f"model classes {model.classes} differ from the dataset's {list(dataset.class_names)}"
        )
    part = dataset.split(split)
    started = time.perf_counter()
    probabilities = _predict(model, part.images, saved_tta, progress)
    report = classification_report(probabilities, part.labels, dataset.class_names)
    report.update(
        {
            "model": model.name,
            "backend": model.backend,
            "dataset": dataset.source,
            "data_checksum": dataset.checksum,
            "split": split,
            "tta": saved_tta,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    if model.backend == "tflite":
        # A re-export in another mode changes the file these figures are of.
        report["quantization"] = getattr(model, "card", {}).get("quantization")
    return report


def evaluate_views(
    model, dataset: FaceDataset, grid=PUBLISHED_VIEWS, description: str | None = None
) -> list[dict]:
    """One report per (split, views) of ``grid``, with one progress bar (faces × views) for all."""
    from tqdm.auto import tqdm

    total = sum(len(dataset.split(split).labels) * n_passes(views) for split, views in grid)
    label = description or f"evaluating {model.name} ({model.backend})"
    with tqdm(total=total, desc=label, unit="view", unit_scale=True) as progress:
        return [
            evaluate_split(model, dataset, split, tta=views, progress=progress)
            for split, views in grid
        ]


def summarise(report: dict) -> str:
    lines = [
        f"{report['model']} ({report['backend']}) on {report['dataset']} {report['split']}"
        f"{tta_label(report['tta'])}: n={report['n_samples']}",
        f"accuracy {report['accuracy'] * 100:.2f} %  macro-F1 {report['macro_f1']:.3f}  "
        f"ECE {report['ece']:.3f}",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}",
    ]
    for name, scores in report["per_class"].items():
        lines.append(
            f"{name:<10}{scores['precision']:>10.3f}{scores['recall']:>10.3f}"
            f"{scores['f1']:>8.3f}{int(scores['support']):>9d}"
        )
    return "\n".join(lines)
