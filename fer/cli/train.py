"""Train a model on FER2013 (and FER+) and publish it under models/.

One run trains one backbone with one head per label set; PublicTest chooses the epoch, PrivateTest
is evaluated once for the card. Every epoch is checkpointed: --resume continues a run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli import finite_number, positive_int, seed_number, whole_number_at_least
from fer.config import MODELS_DIR, PROJECT_ROOT
from fer.data.augmentation import AUGMENTATION_PRESETS
from fer.data.imbalance import STRATEGIES
from fer.training.config import FRAMINGS, PRECISIONS, TrainConfig

EXAMPLE = """\
fer train --model fernet4l --labels fer2013+ferplus --names my13,myplus --weight-decay 0.05
fer train --model fernet4l --labels fer2013+ferplus --names my13,myplus --weight-decay 0.05 \\
  --resume"""

def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and data")
    group.add_argument("--model", default="fernet", help="architecture from the zoo")
    group.add_argument(
        "--labels", default="fer2013", help="fer2013, ferplus, or both joined by '+' (shared "
        "backbone)"
    )
    group.add_argument("--imbalance", default="none", choices=STRATEGIES)
    group.add_argument(
        "--train-limit", type=whole_number_at_least(0), default=0,
        help="use only the first N rows (0: all)",
    )
    group.add_argument(
        "--augmentation",
        default="full",
        choices=sorted(AUGMENTATION_PRESETS),
        help="augmentation strength; light: mirror and small shifts, no photometric changes; "
        "video_call: full, and half of the faces get a video-call degradation; "
        "video_call_exposure_hand: 60 %% of the faces, over-exposure and a hand three times "
        "as likely as each other degradation",
    )
    group.add_argument(
        "--framing",
        default="dataset",
        choices=FRAMINGS,
        help="mixed: each face is its dataset crop or its crop re-aligned by the serving "
        "pipeline, with equal chance (needs face_landmarker.task; cached in data/cache)",
    )
    group.add_argument(
        "--no-augment", action="store_true", help="disable augmentation (--augmentation none)"
    )


def _add_optimisation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("optimisation")
    group.add_argument("--epochs", type=positive_int, default=TrainConfig.epochs)
    group.add_argument("--batch-size", type=positive_int, default=TrainConfig.batch_size)
    group.add_argument("--optimizer", default=TrainConfig.optimizer, choices=("sgd", "adamw"))
    group.add_argument(
        "--learning-rate", type=finite_number, default=TrainConfig.learning_rate
    )
    group.add_argument(
        "--weight-decay", type=finite_number, default=TrainConfig.weight_decay
    )
    group.add_argument(
        "--learning-rate-floor",
        type=finite_number,
        default=TrainConfig.learning_rate_floor,
        help="lowest learning rate of the schedule, as a share of --learning-rate",
    )
    group.add_argument(
        "--precision",
        default=TrainConfig.precision,
        choices=PRECISIONS,
        help="mixed_bfloat16: bfloat16 convolutions (faster on CPUs with AVX512_BF16)",
    )
    group.add_argument("--patience", type=positive_int, default=TrainConfig.patience)
    group.add_argument("--seed", type=seed_number, default=TrainConfig.seed)
    group.add_argument(
        "--threads", type=whole_number_at_least(0), default=0,
        help="TensorFlow threads (0: all cores)",
    )


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("recipes")
    group.add_argument(
        "--distill-from",
        default="",
        help="teacher model (name or dir): its flip-averaged predictions join its head's targets",
    )
    group.add_argument(
        "--distill-weight",
        type=finite_number,
        default=TrainConfig.distill_weight,
        help="share of the teacher in the blended targets (0..1)",
    )
    group.add_argument(
        "--fer2013-votes",
        type=finite_number,
        default=TrainConfig.fer2013_vote_weight,
        metavar="WEIGHT",
        help="share of the FER+ vote distribution (contempt dropped) in the FER2013 head's "
        "targets (0..1; 0: FER2013's labels alone)",
    )
    group.add_argument(
        "--mixup",
        type=finite_number,
        default=TrainConfig.mixup_alpha,
        help="mixup Beta(alpha, alpha) parameter, e.g. 0.2 (0: off)",
    )
    group.add_argument(
        "--average-from",
        type=whole_number_at_least(0),
        default=TrainConfig.average_from,
        help="average the weights of this epoch and all later ones (SWA); the learning rate "
        "holds its floor from here (0: off)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run and output")
    group.add_argument(
        "--run-dir", type=Path, help="checkpoints and history (default runs/<names>)"
    )
    group.add_argument(
        "--resume", action="store_true",
        help="continue the run in --run-dir (refused when it holds none)",
    )
    group.add_argument(
        "--init-from",
        type=Path,
        help="warm restart from a finished run dir's last checkpoint, or from a published "
        "model dir (its backbone and head; other heads start fresh)",
    )
    group.add_argument("--output-dir", type=Path, default=MODELS_DIR, help="where models go")
    group.add_argument(
        "--names", help="model names, comma-separated, one per label set (default: the label sets)"
    )
    group.add_argument("--no-tflite", action="store_true", help="skip the int8 TFLite export")
    group.add_argument(
        "--replace", action="store_true",
        help="overwrite models of the same names in --output-dir (refused otherwise)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_arguments(parser)
    _add_optimisation_arguments(parser)
    _add_recipe_arguments(parser)
    _add_run_arguments(parser)


def train_config(args: argparse.Namespace):
    """The :class:`~fer.training.config.TrainConfig` the arguments describe (``ValueError`` if
    they describe none)."""
    from fer.models.zoo import zoo_entry

    config = TrainConfig(
        architecture=args.model,
        label_sets=tuple(args.labels.split("+")),
        imbalance=args.imbalance,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        precision=args.precision,
        distill_from=args.distill_from,
        distill_weight=args.distill_weight,
        fer2013_vote_weight=args.fer2013_votes,
        mixup_alpha=args.mixup,
        average_from=args.average_from,
        learning_rate_floor=args.learning_rate_floor,
        patience=args.patience,
        seed=args.seed,
        train_limit=args.train_limit,
        augmentation=AUGMENTATION_PRESETS["none" if args.no_augment else args.augmentation],
        framing=args.framing,
    )
    zoo_entry(config.architecture)
    return config


def run(args: argparse.Namespace) -> int:
    try:
        config = train_config(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from fer.training.model_folders import check_model_destinations

    names = args.names.split(",") if args.names is not None else list(config.label_sets)
    if len(names) != len(config.label_sets):
        print("error: --names needs one name per label set", file=sys.stderr)
        return 2
    try:  # before training: a name that cannot be published would waste the whole run
        check_model_destinations(args.output_dir, names, args.replace)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run_dir = args.run_dir or PROJECT_ROOT / "runs" / "_".join(names)
    # Without this a mistyped --run-dir would start a whole new run instead of continuing one.
    if args.resume and not (run_dir / "state.json").is_file():
        print(
            f"error: --resume: {run_dir} holds no run to continue (no state.json); check "
            "--run-dir and --names, or drop --resume to start a new run",
            file=sys.stderr,
        )
        return 2
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.emotions import FERPLUS
    from fer.provenance import git_commit
    from fer.training.loop import train
    from fer.training.publish import PublicationError, publish_heads

    try:
        data_dir = data_dir_from_env()
        fer2013 = load_dataset("fer2013", data_dir)
        needs_votes = FERPLUS.key in config.label_sets or config.fer2013_vote_weight > 0
        ferplus = load_dataset("ferplus", data_dir) if needs_votes else None
    except (ValueError, FileNotFoundError) as error:  # no FER_DATA_DIR, a damaged CSV
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        state = train(
            config,
            fer2013,
            ferplus,
            run_dir,
            resume=args.resume,
            init_from=args.init_from,
            command=args.command_line,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"training done: {state.epochs_done} epochs, {state.wall_time_s / 60:.1f} min "
        f"({state.total_wall_time_s / 60:.1f} min with earlier stages)",
        flush=True,
    )
    datasets = {}
    for key in config.label_sets:
        dataset = ferplus if key == FERPLUS.key else fer2013
        if dataset is None:  # FER+ is loaded above whenever a FER+ head is trained
            raise RuntimeError(f"no dataset loaded for the {key} head")
        datasets[key] = dataset
    try:
        publish_heads(
            run_dir,
            state,
            config,
            datasets,
            output_dir=args.output_dir,
            names=names,
            command=args.command_line,
            git_commit=git_commit(),
            data_dir=data_dir,
            export_tflite=not args.no_tflite,
            replace=args.replace,
        )
    except PublicationError as error:
        print(
            f"error: {error}\nthe trained run is kept in {run_dir}: the same command with "
            "--resume publishes it without training again",
            file=sys.stderr,
        )
        return 1
    return 0
