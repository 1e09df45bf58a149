"""Model directories and their cards: where a model named on a command line or a page lives,
what its ``card.json`` says, and how a session records which model (and which test-time views)
produced it.

A model directory holds ``model.keras`` (the reference model), ``card.json`` and, when exported,
``model_int8.tflite`` (see :mod:`fer.models.inference`).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from fer.config import MODELS_DIR
from fer.files import (
    UnsettledReplacementError,
    previous_version,
    restore_interrupted_replacement,
)

logger = logging.getLogger(__name__)

KERAS_FILE = "model.keras"
TFLITE_FILE = "model_int8.tflite"
CARD_FILE = "card.json"
# A soup card's ``head_from`` when both ingredients had the head, which was then blended too.
SOUP_HEAD_BLENDED = "both"


class ModelNotFoundError(FileNotFoundError):
    pass


class InvalidModelError(ValueError):
    """A model directory whose card or model file cannot be used; the message names the file."""


def read_card(model_dir: Path) -> dict:
    """``card.json`` of ``model_dir``, checked for what every use of a model needs: a ``name``
    and ``classes``, a list of distinct class names. ``InvalidModelError`` naming the file and
    what is wrong otherwise."""
    path = Path(model_dir) / CARD_FILE
    # A folder whose card is there may still be older than the models published with it.
    restore_interrupted_publication(Path(model_dir))
    try:
        try:
            text = path.read_text()
        except FileNotFoundError:  # a new version swapped in just after the first look
            restore_interrupted_publication(Path(model_dir))
            text = path.read_text()
        card = json.loads(text)
    except FileNotFoundError:
        raise ModelNotFoundError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidModelError(f"{path} cannot be read as a model card: {error}") from None
    if not isinstance(card, dict):
        raise InvalidModelError(f"{path} is not a model card (a JSON object)")
    problems = []
    if not isinstance(card.get("name"), str) or not card["name"]:
        problems.append("it has no 'name'")
    classes = card.get("classes")
    if not (
        isinstance(classes, list)
        and classes
        and all(isinstance(name, str) and name for name in classes)
        and len(set(classes)) == len(classes)
    ):
        problems.append("its 'classes' are not a list of distinct class names")
    if problems:
        raise InvalidModelError(f"{path}: {' and '.join(problems)}")
    return card


def card_label_set(card: dict, model_dir: Path) -> str:
    """The label set a model's card names (``"fer2013"``, ``"ferplus"``), the key of the
    dataset it is scored on; ``InvalidModelError`` naming the card when it names none."""
    from fer.emotions import CLASS_SETS

    label_set = card.get("label_set")
    if not isinstance(label_set, str) or label_set not in CLASS_SETS:
        raise InvalidModelError(
            f"{Path(model_dir) / CARD_FILE}: its label_set {label_set!r} names no dataset (it "
            f"names no known label set: {', '.join(CLASS_SETS)})"
        )
    return label_set


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """A name under ``models/`` (``"fer2013"``), a model directory or a ``.keras`` file path."""
    if not isinstance(name_or_path, str | Path):
        raise ValueError(
            f"a model is named by a string or a path, not {type(name_or_path).__name__}"
        )
    candidate = Path(name_or_path)
    named = MODELS_DIR / str(name_or_path)
    # Twice: a new version swapped in just after the first look leaves the folder missing for
    # a moment, and the second look waits for that swap (it holds the folder lock).
    for _ in range(2):
        for folder in (candidate.parent if candidate.suffix == ".keras" else candidate, named):
            restore_interrupted_publication(folder)
        if candidate.suffix == ".keras" and candidate.is_file():
            return candidate.parent
        if candidate.is_dir() and (candidate / CARD_FILE).is_file():
            return candidate
        if named.is_dir() and (named / CARD_FILE).is_file():
            return named
    available = sorted(
        path.name for path in MODELS_DIR.glob("*")
        if (path / CARD_FILE).is_file() and not path.name.startswith(".")
    )
    raise ModelNotFoundError(
        f"No model {str(name_or_path)!r}: not a model directory and not one of {available} "
        f"under {MODELS_DIR}"
    )


def restore_interrupted_publication(model_dir: Path) -> None:
    """Put back the model ``model_dir`` when publishing a new version of it stopped between the
    two renames that swap the versions (:func:`fer.files.replacing_folders`): the previous
    version waits whole beside the missing folder. Models published together (the heads of one
    run) that a stopped process left some new and some old are all made new, or all old when a
    new one is gone. A swap still running is waited for. ``InvalidModelError`` saying what to do
    when that cannot be done."""
    try:
        restored = restore_interrupted_replacement(model_dir)
    except UnsettledReplacementError as error:
        raise InvalidModelError(str(error)) from None
    except OSError as error:
        raise InvalidModelError(
            f"{model_dir} is missing: publishing a new version of it stopped half-way, and its "
            f"previous version, whole in {previous_version(model_dir)}, could not be put back "
            f"({error}); rename that folder to {Path(model_dir).name}"
        ) from None
    if restored:
        logger.warning(
            "%s: put its previous version back; publishing a new one had stopped half-way",
            model_dir,
        )


# How a session records the test-time views its model averaged: "ferplus v2, tta mirror+zoom".
RECORDED_VIEWS_MARK = ", tta "


def recorded_model_label(model, tta: str) -> str:
    """How a session records its model (an ``EmotionModel``): card name, version when the card
    has one, and the test-time views its predictions averaged (``tta``)."""
    version = model.card.get("version")
    label = f"{model.name} v{version}" if version else model.name
    return label + (f"{RECORDED_VIEWS_MARK}{tta}" if tta != "none" else "")


def recorded_views(label: str) -> str:
    """The test-time views a session recorded as ``label`` averaged (:func:`recorded_model_label`):
    ``"mirror+zoom"`` for ``"ferplus v2, tta mirror+zoom"``, ``"none"`` for ``"ferplus v2"``."""
    _, mark, views = label.partition(RECORDED_VIEWS_MARK)
    return views.strip() if mark else "none"


def recorded_model_dir(label: str) -> Path | None:
    """The directory of the model a session recorded as ``label`` (``"ferplus v2, tta
    mirror+zoom"`` names ``models/ferplus``); None when it is no longer installed."""
    name = re.sub(r" v[^ ,]+$", "", label.partition(RECORDED_VIEWS_MARK)[0].strip())
    try:
        return resolve_model_dir(name)
    except (ModelNotFoundError, ValueError):
        return None
