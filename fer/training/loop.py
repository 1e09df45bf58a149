"""The training loop: one backbone with one softmax head per requested label set.

Label sets are ``fer2013``, ``ferplus`` or both (``fer2013+ferplus``: the FER+ head then shares the
backbone and learns from the same FER2013 training images, which costs one training run instead
of two). Model selection and early stopping use PublicTest only; PrivateTest is evaluated once,
after training, for the card (:mod:`fer.training.publish`).

Every epoch writes ``checkpoint.keras`` (model + optimizer) and ``state.json`` in the run
directory, so a resumed run (``fer train --resume``) continues an interrupted one. Saving
``state.json`` commits an epoch: its other files wait in a hidden folder until then.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fer.data.datasets import FaceDataset
from fer.training.averaging import AVERAGE_FILE, WeightAverage
from fer.training.config import TrainConfig
from fer.training.network import (
    build_inference_heads,
    build_training_model,
    compile_training_model,
    copy_head_weights,
    soft_cross_entropy,
)
from fer.training.run_state import (
    RunState,
    load_initial_weights,
    merge_stages,
    pending_epoch_dir,
    predecessor_stages,
    published_stages,
    settle_pending_epochs,
    write_history_csv,
)
from fer.training.targets import (
    add_teacher_targets,
    build_training_data,
    check_same_teacher,
    check_teacher,
    teacher_fingerprint,
    validation_labels,
)


def score_heads(
    model,
    heads: dict,
    validation: tuple[NDArray[np.float32], dict],
    state: RunState,
    epoch: int,
    save_dir: Path,
) -> tuple[dict[str, float], bool]:
    """PublicTest accuracy of every head after ``epoch``; a head that improved is saved into
    ``save_dir``.

    Returns the accuracies and whether any head improved on its best so far.
    """
    images, labels_by_head = validation
    scores, improved = {}, False
    for key, head in heads.items():
        copy_head_weights(model, head)
        predictions = head.predict(images, batch_size=512, verbose=0)
        labels = labels_by_head[key]
        valid = labels >= 0
        accuracy = float((predictions[valid].argmax(axis=1) == labels[valid]).mean())
        scores[key] = accuracy
        best = state.best.get(key)
        if best is None or accuracy > best["val_accuracy"]:
            state.best[key] = {"val_accuracy": accuracy, "epoch": epoch}
            head.save(save_dir / f"best_{key}.keras")
            improved = True
    return scores, improved


def patience_exhausted(state: RunState, config: TrainConfig) -> bool:
    """Whether no head has improved on PublicTest for ``config.patience`` epochs."""
    if not state.best:
        return False
    last_best = max(best["epoch"] for best in state.best.values())
    return state.epochs_done - last_best >= config.patience


def save_checkpoint(model, state: RunState, config: TrainConfig, pending: Path) -> None:
    """Commit an epoch: the model joins the epoch's other files in ``pending``, then
    ``state.json`` records the epoch, then they all move into place
    (:func:`~fer.training.run_state.settle_pending_epochs`, which ``--resume`` repeats when a
    crash came in between), then the history is rewritten."""
    model.save(pending / "checkpoint.keras")
    state.save(config)
    settle_pending_epochs(state.run_dir, state.epochs_done)
    write_history_csv(state.run_dir / "history.csv", state.history)


def _epoch_callback(config: TrainConfig, state: RunState, validation, started: list[float]):
    """The Keras callback that scores, averages, checkpoints and reports every epoch."""
    import keras
    from tqdm.auto import tqdm

    from fer.models.zoo import layers_by_name

    heads = build_inference_heads(config)
    average = WeightAverage(state.run_dir / AVERAGE_FILE)
    average.load()
    # The layers the published heads consist of (not the augmentation layers' seed state).
    served = {name for head in heads.values() for name in layers_by_name(head)}

    class EpochEnd(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch_started = time.perf_counter()
            self.progress = tqdm(
                total=config.epochs, initial=state.epochs_done, unit="epoch", desc="training"
            )

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            model = self.model
            row = {
                "epoch": epoch + 1,
                "seconds": round(time.perf_counter() - self.epoch_started, 1),
                "learning_rate": float(
                    keras.ops.convert_to_numpy(model.optimizer.learning_rate)
                ),
                "loss": round(float((logs or {}).get("loss", float("nan"))), 5),
            }
            pending = pending_epoch_dir(state.run_dir, epoch + 1)
            shutil.rmtree(pending, ignore_errors=True)
            pending.mkdir()
            scores, improved = score_heads(model, heads, validation, state, epoch + 1, pending)
            row.update({f"val_accuracy_{key}": round(value, 5) for key, value in scores.items()})
            if config.average_from and epoch + 1 >= config.average_from:
                layers = {k: v for k, v in layers_by_name(model).items() if k in served}
                if average.add(epoch + 1, layers):
                    average.save(pending / AVERAGE_FILE)
                row["averaged_epochs"] = average.count
            state.history.append(row)
            state.epochs_done = epoch + 1
            state.wall_time_s += time.perf_counter() - started[0]
            started[0] = time.perf_counter()
            save_checkpoint(model, state, config, pending)
            summary = " ".join(f"{k}={v}" for k, v in row.items() if k.startswith("val_"))
            self.progress.update(1)
            self.progress.write(
                f"epoch {epoch + 1}/{config.epochs} {row['seconds']}s loss={row['loss']} "
                f"{summary}{' *' if improved else ''}"
            )
            if patience_exhausted(state, config):
                self.progress.write(
                    f"early stop: no PublicTest improvement for {config.patience} epochs"
                )
                model.stop_training = True

        def on_train_end(self, logs=None):
            self.progress.close()
            if average.count:
                for key, head in heads.items():
                    average.apply_to(head)
                    head.save(state.run_dir / f"average_{key}.keras")

    return EpochEnd()


def start_run(
    config: TrainConfig,
    run_dir: Path,
    steps_per_epoch: int,
    init_from: Path | None,
    command: str,
    resume: bool = False,
):
    """A new run's compiled model and state, optionally warm-started from ``init_from``.

    An existing run is only started over when resuming was asked for and found no checkpoint.
    """
    if (run_dir / "state.json").is_file() and not resume:
        raise FileExistsError(f"{run_dir} holds a run already; pass --resume or a new --run-dir")
    if config.distill_from:  # before anything is written: a wrong teacher leaves no run behind
        check_teacher(config)
    state = RunState(run_dir)
    state.command = command
    if config.distill_from:
        state.teacher = teacher_fingerprint(config)
    model = build_training_model(config)
    compile_training_model(model, config, steps_per_epoch)
    if init_from is not None:
        state.predecessors = predecessor_stages(Path(init_from), config)
        # Layer weights only: the optimizer and its schedule start afresh.
        loaded = load_initial_weights(model, Path(init_from))
        print(f"initialised {len(loaded)} layers from {init_from}", flush=True)
    if config.distill_from:
        # A student owes its teacher's training too (nothing twice if it also started there).
        from fer.models.cards import resolve_model_dir

        teacher_stages = published_stages(resolve_model_dir(config.distill_from))
        state.predecessors = merge_stages(state.predecessors, teacher_stages)
    (run_dir / "history.csv").unlink(missing_ok=True)
    state.save(config)
    return model, state


def training_dataset(
    config: TrainConfig,
    images: NDArray[np.uint8],
    targets: dict,
    first_epoch,
    framed: NDArray[np.uint8] | None = None,
):
    """Shuffled, batched (and with mixup, blended) training batches as a ``tf.data`` pipeline.

    With ``framed`` (the same faces re-aligned by the pipeline), every face of every epoch is
    either its dataset crop or its re-aligned crop, with equal chance.
    """
    import tensorflow as tf

    faces = images[..., None].astype(np.float32)
    if framed is None:
        dataset = tf.data.Dataset.from_tensor_slices((faces, targets))
    else:
        alternatives = framed[..., None].astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices(((faces, alternatives), targets))
    dataset = dataset.shuffle(
        len(faces), seed=config.seed + first_epoch, reshuffle_each_iteration=True
    ).batch(config.batch_size)
    if framed is not None:
        framing_draws = tf.random.Generator.from_seed(config.seed + first_epoch + 1)

        def pick_framing(pair, batch_targets):
            dataset_crops, pipeline_crops = pair
            use_pipeline = framing_draws.uniform([tf.shape(dataset_crops)[0], 1, 1, 1]) < 0.5
            return tf.where(use_pipeline, pipeline_crops, dataset_crops), batch_targets

        dataset = dataset.map(pick_framing)
    if config.mixup_alpha > 0:
        from fer.data.preprocess import mixup_batch

        generator = tf.random.Generator.from_seed(config.seed + first_epoch)
        dataset = dataset.map(
            lambda batch, batch_targets: mixup_batch(
                batch, batch_targets, config.mixup_alpha, generator
            )
        )
    return dataset.prefetch(2)


def pipeline_framed_rows(fer2013: FaceDataset, rows: NDArray | None) -> NDArray[np.uint8]:
    """The pipeline-framed crops (:mod:`fer.training.framing`) of FER2013 Training ``rows``."""
    from fer.config import CACHE_DIR, data_dir_from_env, find_face_landmarker
    from fer.training.framing import pipeline_framed

    training_rows = np.flatnonzero(fer2013.splits == "Training")
    if rows is None or (rows < 0).any() or not np.isin(rows, training_rows).all():
        raise ValueError("pipeline framing needs every training face to be a FER2013 Training row")
    landmarker = find_face_landmarker(data_dir_from_env())
    if landmarker is None:
        raise FileNotFoundError("pipeline framing needs face_landmarker.task in $FER_DATA_DIR")
    framed, found = pipeline_framed(fer2013.images[training_rows], landmarker, CACHE_DIR)
    print(f"pipeline framing: a face was found in {found.mean():.1%} of Training", flush=True)
    return framed[np.searchsorted(training_rows, rows)]


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
    and head; see :mod:`fer.training.run_state`): a warm restart with a fresh optimizer and
    schedule. The earlier stages' commands, epochs and wall time (and the teacher's, when
    distilling) are carried into this run's state.
    """
    import keras

    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState(run_dir)
    data = build_training_data(config, fer2013, ferplus)
    steps_per_epoch = int(np.ceil(len(data.images) / config.batch_size))
    checkpoint = run_dir / "checkpoint.keras"
    # The last epoch state.json records may have its checkpoint still among its pending files.
    if resume and state.load() and (
        checkpoint.is_file() or pending_epoch_dir(run_dir, state.epochs_done).is_dir()
    ):
        state.check_config(config)
        check_same_teacher(config, state.teacher)
        settle_pending_epochs(run_dir, state.epochs_done)
        try:
            model = keras.models.load_model(
                checkpoint, custom_objects={"soft_cross_entropy": soft_cross_entropy}
            )
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(f"{checkpoint} cannot be loaded (damaged?): {error}") from None
        print(f"resuming after epoch {state.epochs_done} from {checkpoint}", flush=True)
    else:
        model, state = start_run(config, run_dir, steps_per_epoch, init_from, command, resume)
    # A run that stopped early stays stopped unless given more patience: resuming it to publish
    # it must not train (and perhaps select) another epoch.
    if state.epochs_done >= config.epochs or patience_exhausted(state, config):
        return state
    if resume:
        state.record_resume(command)
    # Only a run that still trains needs the teacher's targets and the pipeline framing.
    if config.distill_from:
        # The teacher's predictions are part of this run's cost (recomputed on --resume).
        teacher_started = time.perf_counter()
        head = add_teacher_targets(config, data)
        state.wall_time_s += time.perf_counter() - teacher_started
        print(f"distilling {config.distill_from} into the {head} head", flush=True)
    framed = pipeline_framed_rows(fer2013, data.rows) if config.framing == "mixed" else None
    validation = validation_labels(fer2013, ferplus, "PublicTest")
    dataset = training_dataset(config, data.images, data.targets, state.epochs_done, framed)
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
