"""Training images with one target matrix per head (label smoothing, class weights, FER+ votes,
a teacher's predictions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FaceDataset
from fer.data.imbalance import balanced_class_weights, rebalance
from fer.emotions import FER2013, FERPLUS, class_set
from fer.models.cards import CARD_FILE, KERAS_FILE, TFLITE_FILE
from fer.training.config import TrainConfig
from fer.training.distill import blend_targets


@dataclass
class TrainingData:
    """Images with one target matrix per head (rows summing to 0 carry no loss for that head)."""

    images: NDArray[np.uint8]
    targets: dict[str, NDArray[np.float32]]
    labels: dict[str, NDArray[np.int64]]  # hard labels, -1 where a head has none
    # The FER2013 row each image came from (-1 for synthetic SMOTE rows).
    rows: NDArray[np.int64] | None = None


def _head_labels(fer2013: FaceDataset, ferplus: FaceDataset | None, rows: NDArray) -> dict:
    """Hard labels of FER2013 rows ``rows`` per label set (-1 where FER+ drops the row)."""
    labels = {FER2013.key: fer2013.labels[rows]}
    if ferplus is not None:
        ferplus_label = np.full(len(fer2013), -1, np.int64)
        ferplus_label[ferplus.row_ids] = ferplus.labels
        labels[FERPLUS.key] = ferplus_label[fer2013.row_ids[rows]]
    return labels


def votes_on_fer2013_classes(votes: NDArray[np.float32]) -> NDArray[np.float32]:
    """FER+ vote distributions (rows over FER+'s eight classes) as distributions over FER2013's
    seven: each emotion's share moves to the same emotion; contempt, which FER2013 has no class
    for, is dropped and the rest renormalised. Rows with no vote left are all zero."""
    if votes.ndim != 2 or votes.shape[1] != len(FERPLUS):
        raise ValueError(f"FER+ votes need shape (n, {len(FERPLUS)}), not {votes.shape}")
    moved = np.zeros((len(votes), len(FER2013)), np.float32)
    for ferplus_index, name in enumerate(FERPLUS.names):
        if name in FER2013.names:
            moved[:, FER2013.index(name)] = votes[:, ferplus_index]
    total = moved.sum(axis=1, keepdims=True)
    return np.divide(moved, total, out=np.zeros_like(moved), where=total > 0)


def build_training_data(
    config: TrainConfig, fer2013: FaceDataset, ferplus: FaceDataset | None
) -> TrainingData:
    """Training rows and per-head targets (smoothing, class weights, FER+ vote distributions)."""
    rows = np.flatnonzero(fer2013.splits == "Training")
    if config.label_sets == (FERPLUS.key,):
        if ferplus is None:
            raise ValueError("a FER+ head needs the FER+ dataset; ferplus is None")
        # FER+ alone: train only on rows its protocol keeps.
        keep = np.isin(fer2013.row_ids[rows], ferplus.row_ids)
        rows = rows[keep]
    if config.train_limit:
        rows = rows[: config.train_limit]
    labels = _head_labels(fer2013, ferplus, rows)
    images = fer2013.images[rows]
    soft_ferplus = None
    if ferplus is not None:
        soft_all = np.zeros((len(fer2013), len(FERPLUS)), np.float32)
        soft_all[ferplus.row_ids] = ferplus.soft_labels
        soft_ferplus = soft_all[fer2013.row_ids[rows]]

    primary = config.label_sets[0]
    balanced = rebalance(
        images, labels[primary], len(class_set(primary)), config.imbalance, config.seed
    )
    source = balanced.source_rows
    synthetic = source < 0
    safe_source = np.where(synthetic, 0, source)
    targets: dict[str, NDArray[np.float32]] = {}
    out_labels: dict[str, NDArray[np.int64]] = {}
    for key in config.label_sets:
        n_classes = len(class_set(key))
        head_labels = np.where(synthetic, balanced.labels, labels[key][safe_source])
        if key == FERPLUS.key:
            if soft_ferplus is None:  # no FER+ dataset given
                raise ValueError("a FER+ head needs the FER+ dataset; ferplus is None")
            target = soft_ferplus[safe_source].copy()
            target[synthetic] = np.eye(n_classes, dtype=np.float32)[balanced.labels[synthetic]]
        else:
            smoothing = config.label_smoothing
            target = np.eye(n_classes, dtype=np.float32)[np.maximum(head_labels, 0)]
            target = target * (1 - smoothing) + smoothing / n_classes
            target[head_labels < 0] = 0.0
            if config.fer2013_vote_weight > 0:
                if soft_ferplus is None:
                    raise ValueError(
                        "fer2013_vote_weight needs the FER+ dataset's votes; ferplus is None"
                    )
                votes = votes_on_fer2013_classes(soft_ferplus[safe_source])
                voted = (votes.sum(axis=1) > 0) & (head_labels >= 0) & ~synthetic
                weight = config.fer2013_vote_weight
                target[voted] = (1 - weight) * target[voted] + weight * votes[voted]
        if config.imbalance == "class_weights":
            # Scaling a row's target scales its cross-entropy: the same as a per-row loss weight.
            valid = head_labels >= 0
            weights = balanced_class_weights(head_labels[valid], n_classes)
            target[valid] *= weights[head_labels[valid]][:, None]
        targets[key] = target.astype(np.float32)
        out_labels[key] = head_labels
    dataset_rows = np.where(synthetic, -1, rows[safe_source])
    return TrainingData(balanced.images, targets, out_labels, dataset_rows)


def check_teacher(config: TrainConfig) -> str:
    """The head ``config.distill_from`` teaches (``ValueError``/``ModelNotFoundError`` when it
    is no model, a damaged one, or one whose head this run does not train)."""
    from fer.models.cards import read_card, resolve_model_dir

    head = read_card(resolve_model_dir(config.distill_from)).get("label_set")
    if head not in config.label_sets:
        raise ValueError(
            f"teacher {config.distill_from} is a {head!r} model; this run trains heads "
            f"{list(config.label_sets)}"
        )
    return str(head)


# What a teacher's predictions depend on: its weights (either form serves them) and its card
# (the output temperatures folded into the served probabilities).
TEACHER_FILES = (CARD_FILE, KERAS_FILE, TFLITE_FILE)


def teacher_fingerprint(config: TrainConfig) -> str:
    """A SHA-256 of the files of the model ``config.distill_from`` names now, to tell on
    ``--resume`` whether the teacher is still the one the run started with."""
    import hashlib

    from fer.models.cards import resolve_model_dir

    model_dir = resolve_model_dir(config.distill_from)
    digest = hashlib.sha256()
    for name in TEACHER_FILES:
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check_same_teacher(config: TrainConfig, started_with: str) -> None:
    """``ValueError`` when a resumed run's teacher is not the model it started with
    (``started_with``, its :func:`teacher_fingerprint`; empty for runs saved before it was
    recorded): its targets would mix two teachers' predictions."""
    if config.distill_from and started_with and teacher_fingerprint(config) != started_with:
        raise ValueError(
            f"the teacher {config.distill_from!r} has changed since this run started (it was "
            "retrained, re-published or replaced); continue with the same teacher or start a "
            "new --run-dir"
        )


def add_teacher_targets(config: TrainConfig, data: TrainingData) -> str:
    """Blend ``config.distill_from``'s predictions into its head's targets; returns the head."""
    from fer.models.inference import load_model
    from fer.training.distill import teacher_probabilities

    head = check_teacher(config)
    teacher_model = load_model(config.distill_from, backend="keras")
    teacher = teacher_probabilities(teacher_model, data.images, list(class_set(head).names))
    data.targets[head] = blend_targets(data.targets[head], teacher, config.distill_weight)
    return head


def validation_labels(fer2013: FaceDataset, ferplus: FaceDataset | None, split: str):
    rows = np.flatnonzero(fer2013.splits == split)
    return fer2013.images[rows], _head_labels(fer2013, ferplus, rows)
