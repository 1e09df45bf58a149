"""Compare architectures and class-imbalance strategies under one equal epoch budget.

Every pair is trained (selection on PublicTest), scored once on FER2013 PrivateTest, and written
as one JSON report plus summary.csv and summary.md. Finished pairs are skipped, so an interrupted
comparison continues where it stopped; a pair whose stored result has other settings (another
budget, seed or row limit) is refused unless --restart. The budget is shorter than the shipped
models': the figures rank strategies against each other, they are not the shipped models'
accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.cli import positive_int, seed_number, whole_number_at_least
from fer.data.imbalance import STRATEGIES as KNOWN_STRATEGIES
from fer.training.compare import (
    ARCHITECTURES,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_RUNS_DIR,
    LABEL_SET,
    STRATEGIES,
)

EXAMPLE = "fer compare --epochs 10 --train-limit 8000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epochs", type=positive_int, required=True, help="equal epoch budget per pair"
    )
    parser.add_argument(
        "--train-limit", type=whole_number_at_least(0), default=0,
        help="only the first N training rows (0: all)",
    )
    parser.add_argument("--architectures", default=",".join(ARCHITECTURES))
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--seed", type=seed_number, default=0)
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUNS_DIR)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--restart", action="store_true", help="retrain pairs that have results")
    parser.add_argument(
        "--threads", type=whole_number_at_least(0), default=0,
        help="TensorFlow threads (0: all cores)",
    )


def _check(architectures: tuple[str, ...], strategies: tuple[str, ...], epochs: int) -> None:
    from fer.models.zoo import zoo_entry

    for architecture in architectures:
        zoo_entry(architecture)
    unknown = [strategy for strategy in strategies if strategy not in KNOWN_STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; choose from {KNOWN_STRATEGIES}")
    if epochs < 1:
        raise ValueError("--epochs must be positive")
    if not architectures or not strategies:
        raise ValueError("--architectures and --strategies each need at least one name")


def run(args: argparse.Namespace) -> int:
    architectures = tuple(filter(None, args.architectures.split(",")))
    strategies = tuple(filter(None, args.strategies.split(",")))
    try:
        _check(architectures, strategies, args.epochs)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from fer.config import data_dir_from_env
    from fer.data.datasets import load_dataset
    from fer.training.compare import markdown_table, run_comparison

    try:
        fer2013 = load_dataset(LABEL_SET, data_dir_from_env())
    except (ValueError, FileNotFoundError) as error:  # no FER_DATA_DIR, a damaged CSV
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        table = run_comparison(
            args.epochs,
            fer2013,
            args.run_dir,
            args.output_dir,
            architectures,
            strategies,
            train_limit=args.train_limit,
            seed=args.seed,
            restart=args.restart,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as error:  # a run dir of another
        print(f"error: {error}", file=sys.stderr)  # configuration, a damaged report
        return 2
    print(markdown_table(table))
    print(f"reports in {args.output_dir}")
    return 0
