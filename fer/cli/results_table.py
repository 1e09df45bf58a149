"""Print the README's results table, built from each shipped model's card.json and
evaluation.json, or with --write replace the table between the README's markers
(<!-- results:start --> and <!-- results:end -->). A test fails when the two disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.config import MODELS_DIR, PROJECT_ROOT

EXAMPLE = """\
fer results-table
fer results-table --write"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write", action="store_true", help="replace the table in the README instead of printing"
    )
    parser.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)


def run(args: argparse.Namespace) -> int:
    from fer.evaluation.results_table import results_table, with_table

    try:
        table = results_table(args.models_dir)
        if not args.write:
            print(table)
            return 0
        args.readme.write_text(with_table(args.readme.read_text(), table))
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"results table written to {args.readme}")
    return 0
