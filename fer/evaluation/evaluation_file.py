"""``models/<name>/evaluation.json``: every saved evaluation report of one model, in one file.

Layout (``format`` 1), reports keyed by split, then test-time views, then backend::

    {
     "format": 1,
     "model": "ferplus",
     "reproduce": "fer evaluate ferplus --split SPLIT --tta VIEWS --backend BACKEND",
     "reports": {
      "PrivateTest": {                 # split: "Training", "PublicTest", "PrivateTest"
       "none": {                       # views: "none", "mirror" or "mirror+zoom"
        "tflite": {...},               # backend: "tflite" (the served int8 file) or "keras"
        "keras": {...}
       },
       "mirror+zoom": {...}
      },
      ...
     }
    }

Each leaf is one :func:`fer.evaluation.evaluate.evaluate_split` report, unchanged: a
:func:`fer.evaluation.metrics.classification_report` (accuracy, macro-F1, ECE, per-class scores,
confusion matrices, reliability bins) plus ``model``, ``backend``, ``dataset``,
``data_checksum``, ``split``, ``tta`` (``False``, ``True`` for the mirror pair, or
``"mirror+zoom"``) and ``seconds``; a TFLite report also has the ``quantization`` its file was
exported with, as the card described it. Keys are written in the orders above whatever the
order the reports were added in, so the file diffs cleanly. ``card.json`` holds no metrics:
headline figures are read from here (:func:`headline`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fer.files import exclusive, write_text_atomically
from fer.models.inference import TTA_CHOICES, tta_views

EVALUATION_FILE = "evaluation.json"
FORMAT = 1
SPLIT_ORDER = ("Training", "PublicTest", "PrivateTest")
VIEWS_ORDER = TTA_CHOICES  # "none", "mirror", "mirror+zoom"
BACKEND_ORDER = ("tflite", "keras")
HEADLINE_FIELDS = ("accuracy", "macro_f1", "ece", "n_samples")


def evaluation_path(model_dir: Path) -> Path:
    return Path(model_dir) / EVALUATION_FILE


def views_key(tta: bool | str | None) -> str:
    """``"none"``, ``"mirror"`` or ``"mirror+zoom"`` for a report's or ``predict``'s ``tta``."""
    return tta_views(tta) or "none"


def served_backend(card: dict) -> str:
    """The backend whose reports describe what a model serves: ``"tflite"`` or ``"keras"``."""
    served = card.get("served_backend")
    if served is None:  # a card that was never published (tests, experiments) says nothing
        served = "tflite_int8" if "tflite_int8" in card.get("files", {}) else "keras"
    return "tflite" if served == "tflite_int8" else "keras"


def empty_evaluation(model: str) -> dict:
    return {
        "format": FORMAT,
        "model": model,
        "reproduce": f"fer evaluate {model} --split SPLIT --tta VIEWS --backend BACKEND",
        "reports": {},
    }


def read_evaluation(model_dir: Path) -> dict:
    """A model's evaluation file; an empty one (no reports) when the model has none yet.

    ``ValueError`` naming the file when it is not an evaluation file.
    """
    path = evaluation_path(model_dir)
    if not path.exists():
        return empty_evaluation(Path(model_dir).name)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        evaluation = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror or error}") from None
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("reports"), dict):
        raise ValueError(f"{path} is not an evaluation file (no 'reports' mapping)")
    for split, by_views in evaluation["reports"].items():
        places = by_views.values() if isinstance(by_views, dict) else [None]
        if not all(
            isinstance(by_backend, dict) and all(isinstance(r, dict) for r in by_backend.values())
            for by_backend in places
        ):
            raise ValueError(
                f"{path}: the {split!r} reports are not a mapping of views to backends to "
                "reports"
            )
    return evaluation


def _ordered(mapping: dict, order: Iterable[str]) -> dict:
    """``mapping`` with the keys of ``order`` first, in that order, then any others sorted."""
    order = list(order)
    keys = [key for key in order if key in mapping]
    keys += sorted(key for key in mapping if key not in order)
    return {key: mapping[key] for key in keys}


def _canonical(evaluation: dict) -> dict:
    reports = {
        split: _ordered(
            {
                views: _ordered(by_backend, BACKEND_ORDER)
                for views, by_backend in by_views.items()
                if by_backend
            },
            VIEWS_ORDER,
        )
        for split, by_views in evaluation["reports"].items()
    }
    reports = _ordered({split: views for split, views in reports.items() if views}, SPLIT_ORDER)
    return {**evaluation, "reports": reports}


def write_evaluation(model_dir: Path, evaluation: dict) -> Path:
    """Write ``evaluation`` (keys in canonical order) atomically; returns the file's path."""
    path = evaluation_path(model_dir)
    write_text_atomically(path, json.dumps(_canonical(evaluation), indent=1))
    return path


@contextmanager
def _updating(model_dir: Path) -> Iterator[dict]:
    """The model's evaluation to change in place, written back on a clean exit; two commands
    updating one model's file at once take turns, so neither loses the other's reports."""
    with exclusive(Path(model_dir)):
        evaluation = read_evaluation(model_dir)
        yield evaluation
        write_evaluation(model_dir, evaluation)


def add_reports(
    model_dir: Path, reports: Iterable[dict], replace_backend: str | None = None
) -> dict:
    """Store ``reports`` in the model's evaluation file, each at its split, views and backend.

    A report replaces the one stored at the same place. With ``replace_backend`` every stored
    report of that backend is dropped first: use it when the backend's model file or
    probabilities changed, so no report of the old file survives. Returns the new evaluation.
    """
    with _updating(model_dir) as evaluation:
        if replace_backend is not None:
            for by_views in evaluation["reports"].values():
                for by_backend in by_views.values():
                    by_backend.pop(replace_backend, None)
        for report in reports:
            place = evaluation["reports"].setdefault(report["split"], {})
            place.setdefault(views_key(report["tta"]), {})[report["backend"]] = report
    return _canonical(evaluation)


def find_report(
    evaluation: dict, split: str, views: str = "none", backend: str = "tflite"
) -> dict | None:
    """The report of ``split`` with ``views`` on ``backend``, or None when it was not made."""
    return evaluation["reports"].get(split, {}).get(views, {}).get(backend)


def iter_placed_reports(evaluation: dict) -> Iterator[tuple[str, str, str, dict]]:
    """``(split, views, backend, report)`` of every report in canonical order: split, then
    views, then backend."""
    for split, by_views in _canonical(evaluation)["reports"].items():
        for views, by_backend in by_views.items():
            for backend, report in by_backend.items():
                yield split, views, backend, report


def iter_reports(evaluation: dict) -> Iterator[dict]:
    """Every report in canonical order: split, then views, then backend."""
    for *_, report in iter_placed_reports(evaluation):
        yield report


def headline(report: dict) -> dict:
    """Accuracy, macro-F1, ECE and the number of faces of one report."""
    return {field: report[field] for field in HEADLINE_FIELDS}


def add_robustness(model_dir: Path, split: str, results: dict, command: str) -> dict:
    """Store the robustness suite's results of ``split`` (``{condition: scores}``) under the
    evaluation's ``robustness`` key, with the command that made them."""
    with _updating(model_dir) as evaluation:
        evaluation.setdefault("robustness", {})[split] = {
            "command": command, "conditions": results
        }
    return _canonical(evaluation)


def served_report(card: dict, evaluation: dict, split: str = "PrivateTest") -> dict | None:
    """The served form's report on ``split`` with the pipeline's views, else its one pass."""
    backend = served_backend(card)
    return find_report(evaluation, split, "mirror+zoom", backend) or find_report(
        evaluation, split, "none", backend
    )


def add_robustness_comparison(
    model_dir: Path, split: str, compared: dict[str, dict], command: str
) -> dict:
    """Store a comparison of models on the same degraded faces (``{model: {condition: scores}}``)
    under the evaluation's ``robustness_comparison`` key, with each model's mean macro-recall."""
    means = {
        name: round(sum(s["macro_recall"] for s in results.values()) / len(results), 4)
        for name, results in compared.items()
    }
    with _updating(model_dir) as evaluation:
        evaluation["robustness_comparison"] = {
            "split": split,
            "command": command,
            "criterion": "mean macro-recall over the robustness conditions, on the classes the "
            "models share",
            "mean_macro_recall": means,
            "conditions": compared,
        }
    return _canonical(evaluation)
