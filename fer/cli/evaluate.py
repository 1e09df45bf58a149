"""Score a model on one dataset split, print accuracy, macro-F1, ECE and per-class scores, and
store the full report (confusion matrices, reliability bins) in the model's evaluation.json,
replacing the report of the same split, views and backend; MODEL_CARD.md is regenerated. The
labels come from the model card's label set (FER+ is scored on the rows its majority vote keeps).
"""

from __future__ import annotations

import argparse
import sys

from fer.cli import positive_int, seed_number

EXAMPLE = """\
fer evaluate ferplus --split PrivateTest --tta mirror+zoom
fer evaluate fer2013 --split PublicTest --backend keras --no-save
fer evaluate fer2013 --split PublicTest --signals --per-class 100
fer evaluate ferplus --suite robustness --split PrivateTest
fer evaluate ferplus --suite robustness --against fer2013 --no-save
fer evaluate ferplus_balanced --suite robustness --with ferplus
fer evaluate ferplus_videocall_balanced --suite robustness --split PublicTest \\
  --against ferplus_balanced ferplus fer2013"""

SPLITS = ("Training", "PublicTest", "PrivateTest")  # fer.evaluation.evaluate.SPLITS
TTA_CHOICES = ("none", "mirror", "mirror+zoom")  # fer.models.inference.TTA_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name under models/ or a model directory")
    parser.add_argument("--split", default="PrivateTest", choices=SPLITS)
    parser.add_argument(
        "--tta",
        nargs="?",
        const="mirror",
        default="none",
        choices=TTA_CHOICES,
        help="average test-time views: --tta alone is the mirror image; mirror+zoom adds two "
        "zoomed views (the frame pipeline's)",
    )
    parser.add_argument("--backend", default="auto", choices=("auto", "tflite", "keras"))
    parser.add_argument(
        "--no-save", action="store_true", help="print only; leave evaluation.json as it is"
    )
    parser.add_argument(
        "--suite",
        choices=("robustness",),
        help="robustness: the split's faces re-detected clean and under video-call conditions "
        "(compression, low resolution, blur, exposure, noise, occlusion, tilt); saved in "
        "evaluation.json",
    )
    parser.add_argument(
        "--against",
        metavar="MODEL",
        nargs="+",
        help="with --suite: also run these models on the same faces, scoring all on the classes "
        "they share; saved in each one's evaluation.json as the comparison that chooses the "
        "Live page's default model (a choice: run it with --split PublicTest)",
    )
    parser.add_argument(
        "--with",
        dest="with_models",
        metavar="MODEL",
        nargs="+",
        default=[],
        help="with --suite (without --against): also run these models of the same label set on "
        "the same degraded faces (detected once) and save each one's results",
    )
    signals = parser.add_argument_group(
        "signals check (prints a table, saves nothing; needs face_landmarker.task)"
    )
    signals.add_argument(
        "--signals",
        action="store_true",
        help="mean valence, arousal and action units per true class, on re-detected faces",
    )
    signals.add_argument(
        "--per-class", type=positive_int, default=100, help="faces drawn per class"
    )
    signals.add_argument("--seed", type=seed_number, default=0)


def run(args: argparse.Namespace) -> int:
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.evaluation.evaluate import evaluate_views, summarise
    from fer.evaluation.evaluation_file import add_reports, evaluation_path, read_evaluation
    from fer.evaluation.model_card import write_model_card
    from fer.models.cards import CARD_FILE, read_card
    from fer.models.inference import load_model

    try:
        if (args.against or args.with_models) and args.suite != "robustness":
            raise ValueError(
                "--against and --with compare models in a suite: add --suite robustness"
            )
        if args.signals and args.suite:
            raise ValueError("--signals is a check of its own: drop --suite")
        if args.against and args.with_models:
            raise ValueError(
                "--against and --with are two kinds of comparison: give one of them"
            )
        model = load_model(args.model, backend=args.backend)
        label_set = model.card.get("label_set")
        if not isinstance(label_set, str):
            raise ValueError(f"{model.model_dir / CARD_FILE} names no label_set to score on")
        dataset = load_dataset(label_set, data_dir_from_env())
        if list(model.classes) != list(dataset.class_names):
            raise ValueError(
                f"{model.name}'s classes {model.classes} are not those of its label set "
                f"{label_set!r}: {list(dataset.class_names)}"
            )
        if not args.no_save:
            # A damaged file is named before the work, not after, and before any model's
            # results are written: the suite saves into every compared model's files.
            for model_dir in [model.model_dir, *_compared_model_dirs(args)]:
                read_card(model_dir)
                read_evaluation(model_dir)
        if args.signals:
            return _signal_check(model, dataset, args)
        if args.suite == "robustness":
            return _robustness(model, dataset, args)
        (report,) = evaluate_views(model, dataset, [(args.split, args.tta)])
        print(summarise(report))
        if not args.no_save:
            add_reports(model.model_dir, [report])
            write_model_card(model.model_dir)
            print(f"report saved to {evaluation_path(model.model_dir)}")
        return 0
    except (ValueError, FileNotFoundError) as error:  # ModelNotFoundError, InvalidModelError too
        print(f"error: {error}", file=sys.stderr)
        return 2


def _compared_model_dirs(args: argparse.Namespace) -> list:
    """The folders of the ``--against`` or ``--with`` models, whose files the suite saves to."""
    from fer.models.cards import resolve_model_dir

    return [resolve_model_dir(name) for name in args.against or args.with_models]


def _no_landmarker() -> int:
    print("error: face_landmarker.task not found in $FER_DATA_DIR or data/", file=sys.stderr)
    return 2


def _signal_check(model, dataset, args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from fer.config import find_landmarker_bundle
    from fer.evaluation.signal_check import markdown, signal_table

    bundle = find_landmarker_bundle()
    if bundle is None:
        return _no_landmarker()
    table = signal_table(
        model, dataset, bundle, args.split, args.per_class, args.seed,
        progress=lambda rows: tqdm(rows, desc="faces", unit="face"),
    )
    print(markdown(table))
    return 0


def _robustness(model, dataset, args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from fer.config import find_landmarker_bundle
    from fer.evaluation.evaluation_file import add_robustness, add_robustness_comparison
    from fer.evaluation.model_card import write_model_card
    from fer.evaluation.robustness import run_suite
    from fer.evaluation.robustness_table import suite_table
    from fer.models.cards import card_label_set

    bundle = find_landmarker_bundle()
    if bundle is None:
        return _no_landmarker()
    progress = lambda frames: tqdm(frames, desc="faces", unit="face", leave=False)  # noqa: E731
    if args.against:
        from fer.evaluation.robustness import compare_on_common_classes
        from fer.models.inference import load_model

        models = [model, *(load_model(name) for name in args.against)]
        compared = compare_on_common_classes(models, dataset, bundle, args.split,
                                             progress=progress)
        for name, results in compared.items():
            mean = sum(s["macro_recall"] for s in results.values()) / len(results)
            print(f"\n{name}: mean macro-recall over the conditions {mean:.3f}")
            print(suite_table(results))
        if not args.no_save:
            for compared_model in models:  # each card shows the comparison it took part in
                add_robustness_comparison(compared_model.model_dir, args.split, compared,
                                          args.command_line)
                write_model_card(compared_model.model_dir)
        return 0
    models = [model, *_same_label_set(model, args.with_models)]
    label_set = card_label_set(model.card, model.model_dir)
    results_by_model = run_suite(
        models, {label_set: dataset}, bundle, args.split, progress=progress
    )
    for member in models:
        results = results_by_model[member.name]
        print(f"\n{member.name}\n{suite_table(results)}")
        if not args.no_save:
            add_robustness(member.model_dir, args.split, results, args.command_line)
            write_model_card(member.model_dir)
    return 0


def _same_label_set(model, names: list[str]) -> list:
    """The ``--with`` models, which must share ``model``'s label set (and so its faces)."""
    from fer.models.cards import card_label_set
    from fer.models.inference import load_model

    label_set = card_label_set(model.card, model.model_dir)
    others = [load_model(name) for name in names]
    for other in others:
        other_label_set = card_label_set(other.card, other.model_dir)
        if other_label_set != label_set:
            raise ValueError(
                f"--with {other.name}: label set {other_label_set!r}, not {label_set!r}; "
                "compare across label sets with --against"
            )
    return others
