"""Redo one part of a published model: re-export its TFLite file, fold in a temperature, fit
its output temperatures, fit its per-class "uncertain" thresholds, add the frame pipeline's views
to its evaluation, or only rewrite its MODEL_CARD.md; or publish a logit-adjusted copy of it
under a new name (prior-based biases in its softmax head, chosen on PublicTest). Without an
action it re-exports the TFLite file. A re-export keeps the quantization the model's card records
unless --quantization names another. Every action re-evaluates what it changed into the model's
evaluation.json and regenerates MODEL_CARD.md from card.json and evaluation.json.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
fer publish ferplus --calibrate
fer publish ferplus --logit-adjust my_balanced --max-accuracy-drop 0.02
fer publish fer2013 --uncertainty-thresholds
fer publish fer2013 --model-card"""

QUANTIZATION_CHOICES = ("dynamic", "full")  # fer.training.export.QUANTIZATION_MODES
PIPELINE_VIEWS = "mirror+zoom"  # fer.models.inference.PIPELINE_TTA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="model name under models/ or a model directory")
    parser.add_argument(
        "--quantization",
        choices=QUANTIZATION_CHOICES,
        help="int8 export: dynamic-range activations or full integer (default: the mode the "
        "model's card records, else dynamic); with no action, --calibrate or --logit-adjust",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--calibrate",
        action="store_true",
        help="fold a temperature fitted on PublicTest into the softmax head, then re-export and "
        "re-evaluate; a model calibrated so already is left as it is",
    )
    action.add_argument(
        "--output-temperatures",
        action="store_true",
        help="fit the one-pass and mirror temperatures of a calibrated model and re-evaluate "
        "(model files unchanged)",
    )
    action.add_argument(
        "--uncertainty-thresholds",
        action="store_true",
        help="fit per-class thresholds for the 'uncertain' label on PublicTest and store them "
        "in card.json (model files and evaluation unchanged)",
    )
    action.add_argument(
        "--logit-adjust",
        metavar="NEW_NAME",
        help="publish a copy as models/NEW_NAME with -tau*log(prior) added to its logits, tau "
        "chosen on PublicTest within --max-accuracy-drop; evaluated, exported, thresholds fitted",
    )
    action.add_argument(
        "--add-tta-zoom",
        action="store_true",
        help="only add PublicTest/PrivateTest reports with the pipeline's mirror+zoom views",
    )
    action.add_argument(
        "--model-card",
        action="store_true",
        help="only rewrite MODEL_CARD.md from card.json and evaluation.json (no data needed)",
    )
    _add_tuning_arguments(parser)


def _add_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=0.02,
        help="with --logit-adjust: the PublicTest accuracy (a fraction) tau may cost, for one "
        "pass and for the pipeline's views (default 0.02)",
    )
    parser.add_argument(
        "--precision-target",
        type=float,
        default=0.8,
        help="with --uncertainty-thresholds: the PublicTest precision a class's confident "
        "readings must reach (default 0.8)",
    )


def _check_quantization(args: argparse.Namespace) -> None:
    """Refuse --quantization with an action that exports no TFLite file, which would ignore it."""
    exporting = not (args.output_temperatures or args.uncertainty_thresholds
                     or args.add_tta_zoom or args.model_card)
    if args.quantization is not None and not exporting:
        raise ValueError(
            "--quantization applies only when the TFLite file is exported: with no action, "
            "--calibrate or --logit-adjust"
        )


def _publish_action(args: argparse.Namespace, model_dir) -> tuple[dict, str]:
    """Run the chosen action on ``model_dir``; returns the card and the views to report."""
    from fer.config import data_dir_from_env
    from fer.models.cards import read_card
    from fer.training import republish

    command, data_dir = args.command_line, data_dir_from_env()
    if args.logit_adjust:
        from fer.training.post_hoc import publish_logit_adjusted

        card = publish_logit_adjusted(model_dir, args.logit_adjust, data_dir,
                                      args.max_accuracy_drop, command, args.quantization)
        return card, "none"
    if args.uncertainty_thresholds:
        from fer.training.post_hoc import add_uncertainty_thresholds

        card = add_uncertainty_thresholds(model_dir, data_dir, command, args.precision_target)
        return card, "none"
    if args.output_temperatures:
        return republish.add_output_temperatures(model_dir, data_dir, command), "none"
    if args.calibrate:
        card = republish.calibrate_published(model_dir, args.quantization, data_dir, command)
        return card, "none"
    if args.add_tta_zoom:
        republish.add_tta_zoom_reports(model_dir, data_dir, command)
        return read_card(model_dir), "mirror+zoom"
    return republish.reexport(model_dir, args.quantization, data_dir, command), "none"


def _result_line(args: argparse.Namespace, card: dict, summary: str) -> str:
    if args.logit_adjust:
        return f"logit adjustment tau {card['logit_adjustment']['tau']}; {summary}"
    if args.uncertainty_thresholds:
        return f"uncertain below {card['uncertainty']['thresholds'][PIPELINE_VIEWS]}; {summary}"
    if args.output_temperatures:
        return f"output temperatures {card['calibration']['output_temperatures']}; {summary}"
    if args.calibrate:
        return f"temperature {card['calibration']['temperature']}; {summary}"
    if args.add_tta_zoom:
        return summary
    return f"{card['quantization']}; {summary}"


def run(args: argparse.Namespace) -> int:
    from fer.evaluation.evaluation_file import read_evaluation
    from fer.evaluation.model_card import write_model_card
    from fer.models.cards import ModelNotFoundError, resolve_model_dir

    try:
        _check_quantization(args)
        model_dir = resolve_model_dir(args.model)
        if args.model_card:  # text only: no TensorFlow, no data
            print(f"{args.model}: wrote {write_model_card(model_dir)}")
            return 0
        card, views = _publish_action(args, model_dir)
        if args.logit_adjust:  # the copy's figures, not the original's
            model_dir = resolve_model_dir(card["name"])
    except (ModelNotFoundError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from fer.training.publish import served_summary

    summary = served_summary(card, read_evaluation(model_dir), views)
    print(f"{card['name']}: {_result_line(args, card, summary)}")
    return 0
