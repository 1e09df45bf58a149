"""The ``fer`` command: one entry point with a subcommand per task.

Each subcommand lives in its own module of this package, listed with a one-line help in
``COMMANDS``, and provides a docstring (its description), ``EXAMPLE`` (shown under its
``--help``), ``add_arguments(parser)`` and ``run(args) -> int``. Only the chosen subcommand's
module is imported, so ``fer --help`` stays fast and no subcommand pays for another's imports
(TensorFlow, MediaPipe).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shlex
import sys
from types import ModuleType

# name -> (module, one-line help); the order is the order of ``fer --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("fer.cli.train", "train a model on FER2013 / FER+ and publish it under models/"),
    "soup": ("fer.cli.soup", "average two models of one training lineage and publish the best"),
    "publish": (
        "fer.cli.publish",
        "re-export, calibrate or re-evaluate a published model; rewrite its MODEL_CARD.md",
    ),
    "analyze": (
        "fer.cli.analyze",
        "analyse images, videos and folders: expressions, action units, valence, head pose",
    ),
    "report": (
        "fer.cli.report",
        "write a recorded session's report for the health record: HTML, PDF or FHIR",
    ),
    "evaluate": ("fer.cli.evaluate", "score a model on a dataset split"),
    "bench": ("fer.cli.bench", "time a model per face, or the whole pipeline on a video"),
    "compare": ("fer.cli.compare", "compare architectures and class-imbalance strategies"),
    "results-table": (
        "fer.cli.results_table",
        "print or update the README's results table from the models' files",
    ),
    "users": ("fer.cli.users", "add, list, disable accounts of the app; change their roles"),
    "sessions": (
        "fer.cli.sessions",
        "list recorded sessions, delete one, purge those past the retention period",
    ),
    "serve": (
        "fer.cli.serve",
        "serve the REST API for a clinic's systems (analysis, sessions, reports)",
    ),
}


def _top_level_parser() -> argparse.ArgumentParser:
    lines = [f"  {name:<15} {text}" for name, (_, text) in COMMANDS.items()]
    return argparse.ArgumentParser(
        prog="fer",
        usage="fer COMMAND [options]",
        description="Facial-expression recognition workbench: training, evaluation and "
        "benchmarks.\n\ncommands:\n" + "\n".join(lines),
        epilog="Run 'fer COMMAND --help' for a command's options and an example.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def printable(text: str) -> str:
    """Stored text as a terminal line may show it: control characters (escape sequences that
    would recolour or rewrite the terminal, a newline that would forge a line) as ``\\xNN``."""
    return "".join(char if char.isprintable() else _escaped(char) for char in str(text))


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1 (a count, a size, a repeat)."""
    return whole_number_at_least(1)(text)


def whole_number_at_least(lowest: int):
    """An ``argparse`` type: a whole number of at least ``lowest`` (0: a count where 0 means
    "all" or "off")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, not {value}")
        return value

    return parse


def seed_number(text: str) -> int:
    """An ``argparse`` type: a random seed, 0 .. 2**32 - 1 (what NumPy and TensorFlow take)."""
    value = whole_number_at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, not {value}")
    return value


def finite_number(text: str) -> float:
    """An ``argparse`` type: a finite decimal number (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def command_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    """The argument parser of subcommand ``name`` and the module that runs it."""
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(
        prog=f"fer {name}",
        # No prefixes of options: a command line is recorded (summary.json, model cards) with
        # the values of some options withheld, which only works for their full spellings.
        allow_abbrev=False,
        description=module.__doc__,
        epilog="example:\n  " + module.EXAMPLE.strip().replace("\n", "\n  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Run ``fer`` with ``argv`` (default: the process's arguments); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _top_level_parser().print_help()
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        _top_level_parser().error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser, module = command_parser(name)
    args = parser.parse_args(argv[1:])
    args.command_line = "fer " + shlex.join(argv)
    return int(module.run(args))
