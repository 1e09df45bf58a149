"""Evaluation CLI: ``python -m fer.evaluate MODEL [--split PrivateTest] [--tta]``.

Computes accuracy, macro-F1, per-class precision/recall/F1, confusion matrices (counts and
row-normalised) and expected calibration error, prints a summary and saves the JSON report next to
the model as ``report_<split>[_tta].json``. The labels come from the model card's ``label_set``
(FER+ is scored on the rows its majority-vote protocol keeps).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from fer.config import data_dir_from_env
from fer.data import FaceDataset, load_dataset
from fer.inference import TTA_CHOICES, tta_label, tta_views
from fer.metrics import classification_report

SPLITS = ("Training", "PublicTest", "PrivateTest")


def evaluate_split(model, dataset: FaceDataset, split: str, tta: bool | str = False) -> dict:
    """A full classification report for ``model`` on one split of ``dataset``.

    ``tta``: test-time views (``EmotionModel.predict``); the report's ``tta`` is ``False``,
    ``True`` (mirror, as earlier reports wrote it) or ``"mirror+zoom"``.
    """
    views = tta_views(tta)
    tta = {None: False, "mirror": True}.get(views, views)
    if list(model.classes) != list(dataset.class_names):
        raise ValueError(
            f"model classes {model.classes} differ from the dataset's {list(dataset.class_names)}"
        )
    part = dataset.split(split)
    started = time.perf_counter()
    probabilities = model.predict(part.images, tta=tta)
    report = classification_report(probabilities, part.labels, dataset.class_names)
    report.update(
        {
            "model": model.name,
            "backend": model.backend,
            "dataset": dataset.source,
            "data_checksum": dataset.checksum,
            "split": split,
            "tta": tta,
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    return report


def report_path(model_dir: Path, split: str, tta: bool | str, backend: str = "tflite") -> Path:
    views = tta_views(tta)
    tta_suffix = {None: "", "mirror": "_tta", "mirror+zoom": "_tta_zoom"}[views]
    suffix = tta_suffix + ("_keras" if backend == "keras" else "")
    return Path(model_dir) / f"report_{split}{suffix}.json"


def save_report(report: dict, path: Path) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(report, indent=1))
    partial.replace(path)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fer.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("model", help="model name under models/ or a model directory")
    parser.add_argument("--split", default="PrivateTest", choices=SPLITS)
    parser.add_argument(
        "--tta", nargs="?", const="mirror", default="none",
        choices=TTA_CHOICES,
        help="average test-time views: --tta alone is the mirror image; mirror+zoom adds two "
        "zoomed views (the frame pipeline's)",
    )
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "keras"))
    parser.add_argument(
        "--no-save", action="store_true", help="print only, do not write the report"
    )
    args = parser.parse_args(argv)

    from fer.inference import ModelNotFoundError, load_model

    try:
        model = load_model(args.model, backend=args.backend)
    except (ModelNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    dataset = load_dataset(model.card["label_set"], data_dir_from_env())
    report = evaluate_split(model, dataset, args.split, tta=args.tta)
    print(summarise(report))
    if not args.no_save:
        path = report_path(model.model_dir, args.split, args.tta, model.backend)
        save_report(report, path)
        print(f"report saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
