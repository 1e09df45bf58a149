"""Average two models of one training lineage, choose the share on PublicTest, publish.

The backbone is share x first + (1 - share) x second; each label set keeps the head of the
ingredient trained for it; batch norm is recomputed on Training faces. PrivateTest is evaluated
only for the chosen soup, when it is published.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fer.config import PROJECT_ROOT

EXAMPLE = """\
fer soup fer2013 ferplus --labels fer2013 --output-dir runs/soup
fer soup runs/a/models/fer2013 runs/b/models/fer2013 --shares 0,0.5,1"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("first", help="model name under models/ or a model directory")
    parser.add_argument("second", help="the other ingredient (same architecture)")
    parser.add_argument(
        "--labels",
        default="",
        help="label sets to publish, joined by '+' (default: both ingredients' label sets)",
    )
    parser.add_argument(
        "--shares",
        help="comma-separated shares of the first ingredient to try (0..1; default: quarters)",
    )
    parser.add_argument("--output-dir", type=Path, default=PROJECT_ROOT / "runs" / "soup")
    parser.add_argument(
        "--replace", action="store_true",
        help="overwrite soups already published in --output-dir (refused otherwise)",
    )


def parse_shares(text: str | None) -> tuple[float, ...] | None:
    """``--shares`` as numbers (``ValueError`` naming the entry that is not one)."""
    if text is None:
        return None
    shares = []
    for entry in text.split(","):
        try:
            shares.append(float(entry))
        except ValueError:
            raise ValueError(f"--shares: {entry.strip()!r} is not a number") from None
    return tuple(shares)


def run(args: argparse.Namespace) -> int:
    from fer.config import data_dir_from_env
    from fer.models.cards import ModelNotFoundError
    from fer.training.publish import PublicationError
    from fer.training.soup import publish_soups

    try:
        shares = parse_shares(args.shares)
        chosen = publish_soups(
            args.first,
            args.second,
            args.labels.split("+") if args.labels else [],
            shares,
            args.output_dir,
            data_dir_from_env(),
            args.command_line,
            replace=args.replace,
        )
    except (ModelNotFoundError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PublicationError as error:  # after the search: the input was fine
        print(f"error: {error}", file=sys.stderr)
        return 1
    for key, share in chosen.items():
        print(f"{key}: share {share} of {args.first} published to {args.output_dir / key}")
    return 0
