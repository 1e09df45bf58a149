"""Print (or, with --write, refresh in README.md) the results table built from the model cards.

Every figure comes from ``models/<name>/card.json``, which ``python -m fer.train`` writes after
evaluating the model; ``tests/test_readme.py`` fails when README.md and the cards disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


def results_table(models_dir: Path = ROOT / "models") -> str:
    rows = [
        "| model | classes | test split | accuracy (served int8) | macro-F1 | accuracy +flip TTA "
        "| Keras accuracy | PublicTest | params | train wall time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card_path in sorted(models_dir.glob("*/card.json")):
        card = json.loads(card_path.read_text())
        served = card.get("metrics_tflite_int8", card["metrics"])
        test = served["PrivateTest"]
        rows.append(
            f"| `{card['name']}` | {len(card['classes'])} | PrivateTest (n={test['n_samples']}) "
            f"| {test['accuracy'] * 100:.2f} % | {test['macro_f1']:.3f} "
            f"| {served['PrivateTest_tta']['accuracy'] * 100:.2f} % "
            f"| {card['metrics']['PrivateTest']['accuracy'] * 100:.2f} % "
            f"| {served['PublicTest']['accuracy'] * 100:.2f} % "
            f"| {card['parameters']:,} | {card['training']['wall_time_s'] / 60:.0f} min |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    table = results_table()
    if not args.write:
        print(table)
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        print(f"README.md lacks the {START} … {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
