"""Training CLI: ``python -m fer.train --model fernet --labels fer2013``.

One run trains one backbone with one softmax head per requested label set (``fer2013``,
``ferplus`` or both, ``fer2013+ferplus``: the FER+ head then shares the backbone and learns from
the same FER2013 training images, which costs one training run instead of two). Model selection and
early stopping use PublicTest only; PrivateTest is evaluated once, after training, for the card.

Every epoch writes ``checkpoint.keras`` (model + optimizer) and ``state.json`` in the run
directory, so ``--resume`` continues an interrupted run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.config import MODELS_DIR, PROJECT_ROOT, data_dir_from_env
from fer.data import FaceDataset, load_dataset
from fer.distill import blend_targets
from fer.emotions import FER2013, FERPLUS, class_set
from fer.imbalance import STRATEGIES, balanced_class_weights, rebalance
from fer.preprocess import AUGMENTATION_PRESETS, AugmentationConfig
from fer.run_state import (
    RunState,
    append_history_csv,
    load_initial_weights,
    merge_stages,
    predecessor_stages,
    published_stages,
)

PRECISIONS = ("float32", "mixed_bfloat16")
AVERAGE_FILE = "average.npz"


@dataclass(frozen=True)
class TrainConfig:
    architecture: str = "fernet"
    label_sets: tuple[str, ...] = ("fer2013",)
    imbalance: str = "none"
    epochs: int = 36
    batch_size: int = 64
    optimizer: str = "adamw"  # or "sgd" (Nesterov momentum 0.9)
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    gradient_clip_norm: float = 1.0
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    patience: int = 10
    seed: int = 0
    train_limit: int = 0  # 0: every training row; >0: the first N (smoke runs, tests)
    # "mixed_bfloat16" computes convolutions in bfloat16 (float32 weights, standardisation and
    # softmax; saved inference models are float32). On an AVX512_BF16 CPU it sped fernet's epoch
    # from ~95 to ~74 s but gave fernet4l nothing measurable, so float32 stays the default.
    precision: str = "float32"
    # Offline distillation (fer.distill): a published model whose flip-averaged predictions are
    # blended into the targets of its head, with this weight; "" trains on the labels alone.
    distill_from: str = ""
    distill_weight: float = 0.5
    # Mixup's Beta(alpha, alpha) parameter (fer.preprocess.mixup_batch); 0 turns it off. Training
    # accuracy ran 12 points above test accuracy with the augmentation layers alone.
    mixup_alpha: float = 0.0
    # Stochastic weight averaging (Izmailov et al., 2018): from this epoch on (1-based) the
    # weights at every epoch's end join a running mean, and the learning rate, annealed by cosine
    # until then, stays at its floor. 0 turns it off (the cosine spans the whole run).
    average_from: int = 0
    # The schedule's floor as a share of the peak learning rate.
    learning_rate_floor: float = 0.01
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)

    def __post_init__(self) -> None:
        if not self.label_sets or len(set(self.label_sets)) != len(self.label_sets):
            raise ValueError(f"label_sets must be distinct and non-empty: {self.label_sets}")
        for key in self.label_sets:
            class_set(key)
        if self.imbalance not in STRATEGIES:
            raise ValueError(f"imbalance must be one of {STRATEGIES}, not {self.imbalance!r}")
        if self.imbalance in ("oversample", "smote") and len(self.label_sets) > 1:
            raise ValueError("oversample/smote change the rows, so they need a single label set")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ValueError(f"distill_weight must lie in [0, 1], not {self.distill_weight}")
        if self.mixup_alpha < 0.0:
            raise ValueError(f"mixup_alpha must be >= 0, not {self.mixup_alpha}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if not 0 <= self.average_from <= self.epochs:
            raise ValueError(
                f"average_from must lie in 0..epochs ({self.epochs}), not {self.average_from}"
            )
        if not 0.0 < self.learning_rate_floor <= 1.0:
            raise ValueError(
                f"learning_rate_floor must lie in (0, 1], not {self.learning_rate_floor}"
            )


@dataclass
class TrainingData:
    """Images with one target matrix per head (rows summing to 0 carry no loss for that head)."""

    images: NDArray[np.uint8]
    targets: dict[str, NDArray[np.float32]]
    labels: dict[str, NDArray[np.int64]]  # hard labels, -1 where a head has none


def _head_labels(fer2013: FaceDataset, ferplus: FaceDataset | None, rows: NDArray) -> dict:
    """Hard labels of FER2013 rows ``rows`` per label set (-1 where FER+ drops the row)."""
    labels = {FER2013.key: fer2013.labels[rows]}
    if ferplus is not None:
        ferplus_label = np.full(len(fer2013), -1, np.int64)
        ferplus_label[ferplus.row_ids] = ferplus.labels
        labels[FERPLUS.key] = ferplus_label[fer2013.row_ids[rows]]
    return labels


def build_training_data(
    config: TrainConfig, fer2013: FaceDataset, ferplus: FaceDataset | None
) -> TrainingData:
    """Training rows and per-head targets (smoothing, class weights, FER+ vote distributions)."""
    rows = np.flatnonzero(fer2013.splits == "Training")
    if config.label_sets == (FERPLUS.key,):
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
            target = soft_ferplus[safe_source].copy()
            target[synthetic] = np.eye(n_classes, dtype=np.float32)[balanced.labels[synthetic]]
        else:
            smoothing = config.label_smoothing
            target = np.eye(n_classes, dtype=np.float32)[np.maximum(head_labels, 0)]
            target = target * (1 - smoothing) + smoothing / n_classes
            target[head_labels < 0] = 0.0
        if config.imbalance == "class_weights":
            # Scaling a row's target scales its cross-entropy: the same as a per-row loss weight.
            valid = head_labels >= 0
            weights = balanced_class_weights(head_labels[valid], n_classes)
            target[valid] *= weights[head_labels[valid]][:, None]
        targets[key] = target.astype(np.float32)
        out_labels[key] = head_labels
    return TrainingData(balanced.images, targets, out_labels)


def add_teacher_targets(config: TrainConfig, data: TrainingData) -> str:
    """Blend ``config.distill_from``'s predictions into its head's targets; returns the head."""
    from fer.distill import teacher_probabilities
    from fer.inference import load_model

    teacher_model = load_model(config.distill_from, backend="keras")
    head = teacher_model.card["label_set"]
    if head not in data.targets:
        raise ValueError(
            f"teacher {config.distill_from} is a {head!r} model; this run trains heads "
            f"{list(data.targets)}"
        )
    teacher = teacher_probabilities(teacher_model, data.images, list(class_set(head).names))
    data.targets[head] = blend_targets(data.targets[head], teacher, config.distill_weight)
    return head


def validation_labels(fer2013: FaceDataset, ferplus: FaceDataset | None, split: str):
    rows = np.flatnonzero(fer2013.splits == split)
    return fer2013.images[rows], _head_labels(fer2013, ferplus, rows)


# ------------------------------------------------------------------------------------- model


@contextmanager
def dtype_policy(name: str):
    """Build layers under Keras dtype policy ``name``; the previous global policy is restored."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_training_model(config: TrainConfig):
    import keras

    from fer.models import build_head, zoo_entry
    from fer.preprocess import INPUT_SHAPE, build_augmentation

    keras.utils.set_random_seed(config.seed)
    entry = zoo_entry(config.architecture)
    inputs = keras.Input(INPUT_SHAPE, name="face")
    # Augmentation interpolates pixels: it stays float32 under any policy.
    augmentation = build_augmentation(config.augmentation, config.seed)
    augmented = augmentation(inputs) if augmentation.layers else inputs
    with dtype_policy(config.precision):
        backbone = entry.build_backbone()
        features = backbone(augmented)
        outputs = {
            key: build_head(features, len(class_set(key)), entry.dropout, name=key)
            for key in config.label_sets
        }
    return keras.Model(inputs, outputs, name=f"{config.architecture}_train")


def soft_cross_entropy(y_true, y_pred):
    """``-sum(y_true * log(y_pred))`` per row; rows with an all-zero target give 0 and no gradient.

    Keras' CategoricalCrossentropy returns 0 for such rows but back-propagates gradients thousands
    of times larger than a labelled row's (measured on this model), which wrecked joint training:
    the FER+ head's unlabelled rows dominated the backbone's updates.
    """
    from keras import ops

    probabilities = ops.clip(y_pred, 1e-7, 1.0)
    return -ops.sum(y_true * ops.log(probabilities), axis=-1)


def compile_training_model(model, config: TrainConfig, steps_per_epoch: int) -> None:
    import keras

    # With weight averaging the cosine ends where averaging starts; CosineDecay then holds the
    # floor (alpha) for the remaining steps.
    annealed_epochs = config.average_from - 1 if config.average_from else config.epochs
    total_steps = max(1, annealed_epochs * steps_per_epoch)
    warmup_steps = min(config.warmup_epochs * steps_per_epoch, total_steps - 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * 0.1,
        decay_steps=total_steps - warmup_steps,
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
        alpha=config.learning_rate_floor,
    )
    clip = config.gradient_clip_norm or None
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=0.9,
            nesterov=True,
            weight_decay=config.weight_decay,
            clipnorm=clip,
        )
    else:
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=config.weight_decay, clipnorm=clip
        )
    losses = {key: soft_cross_entropy for key in config.label_sets}
    model.compile(optimizer=optimizer, loss=losses, jit_compile=False)


def build_inference_heads(config: TrainConfig) -> dict:
    """One stand-alone inference model per head (backbone + head, no augmentation).

    They are built once, separately from the training graph, and receive the training weights by
    layer name (:func:`copy_head_weights`): building new models on top of the training model's
    layers during ``fit`` disturbed training in Keras 3 (the training loss rose after the first
    exports), so the training graph is never touched.
    """
    from fer.models import build_classifier

    return {
        key: build_classifier(config.architecture, len(class_set(key)), name=key)
        for key in config.label_sets
    }


def copy_head_weights(training_model, inference_model) -> None:
    """Copy backbone and head weights from the training model into an inference model."""
    from fer.models import layers_by_name

    source = layers_by_name(training_model)
    for name, layer in layers_by_name(inference_model).items():
        layer.set_weights(source[name].get_weights())


class WeightAverage:
    """Running mean of a model's layer weights over epoch ends (stochastic weight averaging).

    Saved into the run dir after every update, with the epochs it covers, so ``--resume``
    continues it and an epoch re-run after a crash is not counted twice. Batch-norm statistics
    are averaged too but mean little: publishing recomputes them for the averaged weights.
    """

    def __init__(self, path: Path):
        self.path = path
        self.first_epoch = 0
        self.last_epoch = 0
        self.mean: dict[str, list[NDArray[np.float32]]] = {}

    @property
    def count(self) -> int:
        return self.last_epoch - self.first_epoch + 1 if self.last_epoch else 0

    def load(self) -> bool:
        if not self.path.is_file():
            return False
        mean: dict[str, dict[int, NDArray]] = {}
        with np.load(self.path) as stored:
            self.first_epoch, self.last_epoch = (int(e) for e in stored["epochs"])
            for key in stored.files:
                if key != "epochs":
                    name, index = key.rsplit(":", 1)
                    mean.setdefault(name, {})[int(index)] = stored[key]
        self.mean = {name: [arrays[i] for i in sorted(arrays)] for name, arrays in mean.items()}
        return True

    def add(self, epoch: int, layers: dict) -> bool:
        """Fold the weights of ``layers`` (name -> layer) at the end of ``epoch`` into the mean."""
        if epoch <= self.last_epoch:
            return False
        if not self.last_epoch:
            self.first_epoch = epoch
        self.last_epoch = epoch
        for name, layer in layers.items():
            weights = [np.asarray(w, np.float32) for w in layer.get_weights()]
            previous = self.mean.get(name)
            self.mean[name] = (
                weights
                if previous is None
                else [m + (w - m) / self.count for m, w in zip(previous, weights, strict=True)]
            )
        return True

    def save(self) -> None:
        arrays = {f"{name}:{i}": w for name, ws in self.mean.items() for i, w in enumerate(ws)}
        partial = self.path.with_name(self.path.stem + ".partial.npz")
        np.savez(partial, epochs=np.array([self.first_epoch, self.last_epoch]), **arrays)
        partial.replace(self.path)

    def apply_to(self, model) -> None:
        """Give ``model`` (training or inference graph) the averaged weights, layer by name."""
        from fer.models import layers_by_name

        for name, layer in layers_by_name(model).items():
            layer.set_weights(self.mean[name])


# ------------------------------------------------------------------------------------ training


def _epoch_callback(config, state, validation, started):
    import keras

    from fer.models import layers_by_name

    val_images, val_labels = validation
    heads = build_inference_heads(config)
    average = WeightAverage(state.run_dir / AVERAGE_FILE)
    average.load()
    # The layers the published heads consist of (not the augmentation layers' seed state).
    served = {name for head in heads.values() for name in layers_by_name(head)}

    class EpochEnd(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch_started = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            model = self.model
            row = {
                "epoch": epoch + 1,
                "seconds": round(time.perf_counter() - self.epoch_started, 1),
            }
            row["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            row["loss"] = round(float(logs.get("loss", float("nan"))), 5)
            improved = False
            for key in config.label_sets:
                head = heads[key]
                copy_head_weights(model, head)
                predictions = head.predict(val_images, batch_size=512, verbose=0)
                labels = val_labels[key]
                valid = labels >= 0
                accuracy = float((predictions[valid].argmax(axis=1) == labels[valid]).mean())
                row[f"val_accuracy_{key}"] = round(accuracy, 5)
                best = state.best.get(key)
                if best is None or accuracy > best["val_accuracy"]:
                    state.best[key] = {"val_accuracy": accuracy, "epoch": epoch + 1}
                    head.save(state.run_dir / f"best_{key}.keras")
                    improved = True
            if config.average_from and epoch + 1 >= config.average_from:
                layers = {k: v for k, v in layers_by_name(model).items() if k in served}
                if average.add(epoch + 1, layers):
                    average.save()
                row["averaged_epochs"] = average.count
            state.history.append(row)
            state.epochs_done = epoch + 1
            state.wall_time_s += time.perf_counter() - started[0]
            started[0] = time.perf_counter()
            partial = state.run_dir / "checkpoint.partial.keras"
            model.save(partial)
            partial.replace(state.run_dir / "checkpoint.keras")
            state.save(config)
            append_history_csv(state.run_dir / "history.csv", row)
            scores = " ".join(f"{k}={v}" for k, v in row.items() if k.startswith("val_"))
            print(
                f"epoch {epoch + 1}/{config.epochs} {row['seconds']}s loss={row['loss']} "
                f"{scores}{' *' if improved else ''}",
                flush=True,
            )
            last_best = max(best["epoch"] for best in state.best.values())
            if epoch + 1 - last_best >= config.patience:
                print(f"early stop: no PublicTest improvement for {config.patience} epochs")
                model.stop_training = True

        def on_train_end(self, logs=None):
            if average.count:
                for key, head in heads.items():
                    average.apply_to(head)
                    head.save(state.run_dir / f"average_{key}.keras")

    return EpochEnd()


def train(
    config: TrainConfig,
    fer2013: FaceDataset,
    ferplus: FaceDataset | None,
    run_dir: Path,
    resume: bool = False,
    init_from: Path | None = None,
    command: str = "",
) -> RunState:
    """Train (or resume) a run; best heads are saved as ``run_dir/best_<label set>.keras``.

    ``init_from`` starts a new run from the last checkpoint of a finished run of the same
    architecture and heads, or from a published model of the same architecture (its backbone
    and head; see :mod:`fer.run_state`): a warm restart with a fresh optimizer and schedule. The
    earlier stages' commands, epochs and wall time (and the teacher's, when distilling) are
    carried into this run's state.
    """
    import keras
    import tensorflow as tf

    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(run_dir)
    data = build_training_data(config, fer2013, ferplus)
    # The teacher's predictions are part of this run's cost (recomputed on --resume).
    teacher_seconds = 0.0
    if config.distill_from:
        teacher_started = time.perf_counter()
        head = add_teacher_targets(config, data)
        teacher_seconds = time.perf_counter() - teacher_started
        print(f"distilling {config.distill_from} into the {head} head", flush=True)
    validation = validation_labels(fer2013, ferplus, "PublicTest")
    steps_per_epoch = int(np.ceil(len(data.images) / config.batch_size))
    checkpoint = run_dir / "checkpoint.keras"
    if resume and state.load() and checkpoint.is_file():
        model = keras.models.load_model(
            checkpoint, custom_objects={"soft_cross_entropy": soft_cross_entropy}
        )
        print(f"resuming after epoch {state.epochs_done} from {checkpoint}", flush=True)
    else:
        if (run_dir / "state.json").is_file() and not resume:
            raise FileExistsError(
                f"{run_dir} holds a run already; pass --resume or a new --run-dir"
            )
        state = RunState(run_dir)
        state.command = command
        (run_dir / "history.csv").unlink(missing_ok=True)
        model = build_training_model(config)
        compile_training_model(model, config, steps_per_epoch)
        if init_from is not None:
            state.predecessors = predecessor_stages(Path(init_from), config)
            # Layer weights only: the optimizer and its schedule start afresh.
            loaded = load_initial_weights(model, Path(init_from))
            print(f"initialised {len(loaded)} layers from {init_from}", flush=True)
        if config.distill_from:
            # A student owes its teacher's training too (nothing twice if it also started there).
            from fer.inference import resolve_model_dir

            teacher_stages = published_stages(resolve_model_dir(config.distill_from))
            state.predecessors = merge_stages(state.predecessors, teacher_stages)
        state.save(config)
    state.wall_time_s += teacher_seconds
    if state.epochs_done >= config.epochs:
        return state
    images = data.images[..., None].astype(np.float32)
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, data.targets))
        .shuffle(len(images), seed=config.seed + state.epochs_done, reshuffle_each_iteration=True)
        .batch(config.batch_size)
    )
    if config.mixup_alpha > 0:
        from fer.preprocess import mixup_batch

        generator = tf.random.Generator.from_seed(config.seed + state.epochs_done)
        dataset = dataset.map(
            lambda faces, targets: mixup_batch(faces, targets, config.mixup_alpha, generator)
        )
    dataset = dataset.prefetch(2)
    started = [time.perf_counter()]
    val_images = validation[0][..., None].astype(np.float32)
    model.fit(
        dataset,
        epochs=config.epochs,
        initial_epoch=state.epochs_done,
        callbacks=[_epoch_callback(config, state, (val_images, validation[1]), started)],
        verbose=0,
    )
    return state


def choose_published_head(run_dir: Path, label_set: str, dataset: FaceDataset, state: RunState):
    """The head of ``label_set`` to publish, and the record of how it was chosen.

    The candidates are the epoch training selected on PublicTest and, when the run averaged
    weights, their average. Each gets its batch-norm statistics recomputed on the label set's
    un-augmented Training faces (as publishing does), then the higher PublicTest accuracy wins;
    on a tie the selected epoch does. PrivateTest is not looked at.
    """
    import keras

    from fer.models import recalibrate_batch_norm
    from fer.soup import publictest_accuracy

    started = time.perf_counter()
    epoch = state.best[label_set]["epoch"]
    candidates = {f"epoch {epoch}": run_dir / f"best_{label_set}.keras"}
    average = WeightAverage(run_dir / AVERAGE_FILE)
    average_path = run_dir / f"average_{label_set}.keras"
    if average.load() and average_path.is_file():
        label = f"average of epochs {average.first_epoch}-{average.last_epoch}"
        candidates[label] = average_path
    training_faces = dataset.split("Training").images
    scores, models = {}, {}
    for label, path in candidates.items():
        models[label] = keras.models.load_model(path, compile=False)
        recalibrate_batch_norm(models[label], training_faces)
        scores[label] = publictest_accuracy(models[label], dataset)
        print(f"{label_set} {label}: PublicTest {100 * scores[label]:.2f} %", flush=True)
    chosen = max(scores, key=scores.get)
    selection = {
        "chosen": chosen,
        "epoch": epoch if chosen == f"epoch {epoch}" else None,  # None: an average
        "publictest_accuracy": scores,
        "selected_on": "PublicTest accuracy (Keras, after batch-norm recalibration)",
        "seconds": round(time.perf_counter() - started, 1),
    }
    return models[chosen], selection


# ------------------------------------------------------------------------------------------ CLI


def _git_commit() -> str:
    import subprocess

    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fer.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", default="fernet", help="architecture from the zoo")
    parser.add_argument(
        "--labels",
        default="fer2013",
        help="fer2013, ferplus, or both joined by '+' (shared backbone)",
    )
    parser.add_argument("--imbalance", default="none", choices=STRATEGIES)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--optimizer", default=TrainConfig.optimizer, choices=("sgd", "adamw"))
    parser.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay)
    parser.add_argument(
        "--precision",
        default=TrainConfig.precision,
        choices=PRECISIONS,
        help="mixed_bfloat16: bfloat16 convolutions (faster on CPUs with AVX512_BF16)",
    )
    parser.add_argument("--patience", type=int, default=TrainConfig.patience)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--train-limit", type=int, default=0, help="use only the first N rows")
    parser.add_argument(
        "--augmentation",
        default="full",
        choices=sorted(AUGMENTATION_PRESETS),
        help="augmentation strength (fer.preprocess.AUGMENTATION_PRESETS); light: mirror and "
        "small shifts, no photometric changes",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="disable augmentation (--augmentation none)"
    )
    parser.add_argument(
        "--run-dir", type=Path, help="checkpoints and history (default runs/<names>)"
    )
    parser.add_argument("--output-dir", type=Path, default=MODELS_DIR, help="where models go")
    parser.add_argument(
        "--names", help="model names, comma-separated, one per label set (default: the label sets)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument(
        "--init-from",
        type=Path,
        help="warm restart from a finished run dir's last checkpoint, or from a published "
        "model dir (its backbone and head; other heads start fresh)",
    )
    parser.add_argument(
        "--distill-from",
        default="",
        help="teacher model (name or dir): its flip-averaged predictions join its head's targets",
    )
    parser.add_argument(
        "--distill-weight",
        type=float,
        default=TrainConfig.distill_weight,
        help="share of the teacher in the blended targets (0..1)",
    )
    parser.add_argument(
        "--mixup",
        type=float,
        default=TrainConfig.mixup_alpha,
        help="mixup Beta(alpha, alpha) parameter, e.g. 0.2 (0: off)",
    )
    parser.add_argument(
        "--average-from",
        type=int,
        default=TrainConfig.average_from,
        help="average the weights of this epoch and all later ones (SWA); the learning rate "
        "holds its floor from here (0: off)",
    )
    parser.add_argument(
        "--learning-rate-floor",
        type=float,
        default=TrainConfig.learning_rate_floor,
        help="lowest learning rate of the schedule, as a share of --learning-rate",
    )
    parser.add_argument("--no-tflite", action="store_true", help="skip the int8 TFLite export")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all cores)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    label_sets = tuple(args.labels.split("+"))
    augmentation = AUGMENTATION_PRESETS["none" if args.no_augment else args.augmentation]
    try:
        config = TrainConfig(
            architecture=args.model,
            label_sets=label_sets,
            imbalance=args.imbalance,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            weight_decay=args.weight_decay,
            precision=args.precision,
            distill_from=args.distill_from,
            distill_weight=args.distill_weight,
            mixup_alpha=args.mixup,
            average_from=args.average_from,
            learning_rate_floor=args.learning_rate_floor,
            patience=args.patience,
            seed=args.seed,
            train_limit=args.train_limit,
            augmentation=augmentation,
        )
        from fer.models import zoo_entry

        zoo_entry(config.architecture)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = args.names.split(",") if args.names else list(label_sets)
    if len(names) != len(label_sets):
        print("error: --names needs one name per label set", file=sys.stderr)
        return 2
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    data_dir = data_dir_from_env()
    fer2013 = load_dataset("fer2013", data_dir)
    ferplus = load_dataset("ferplus", data_dir) if FERPLUS.key in label_sets else None
    run_dir = args.run_dir or PROJECT_ROOT / "runs" / "_".join(names)
    command = "python -m fer.train " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    try:
        state = train(
            config,
            fer2013,
            ferplus,
            run_dir,
            resume=args.resume,
            init_from=args.init_from,
            command=command,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"training done: {state.epochs_done} epochs, {state.wall_time_s / 60:.1f} min "
        f"({state.total_wall_time_s / 60:.1f} min with earlier stages)",
        flush=True,
    )

    from fer.modelcard import publish_model

    for key, name in zip(label_sets, names, strict=True):
        dataset = ferplus if key == FERPLUS.key else fer2013
        keras_model, selection = choose_published_head(run_dir, key, dataset, state)
        publish_model(
            keras_model,
            selection,
            output_dir=args.output_dir / name,
            name=name,
            label_set=key,
            config=config,
            state=state,
            command=command,
            git_commit=_git_commit(),
            data_dir=data_dir,
            export_tflite=not args.no_tflite,
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
