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
sys.path.insert(0, str(ROOT))
START, END = "<!-- results:start -->", "<!-- results:end -->"


def latency(card: dict, figure: str) -> str:
    """``figure`` from the card's two-thread ``fer.bench --record`` entries, per CPU class.

    The class matters more than anything else: the same int8 file runs ~6x slower on a 2-core
    machine without AVX-512. '–' marks a class nobody has measured the model on.
    """
    from fer.bench import benchmark_key

    benchmark = card.get("benchmark", {})
    values = []
    for vector in ("avx512", "avx2"):
        entry = benchmark.get(benchmark_key("tflite", 2, vector))
        values.append(f"{entry[figure]:.2f}" if entry else "–")
    return " · ".join(values)


def zoom_accuracy(metrics: dict) -> str:
    """The pipeline's mirror+zoom PrivateTest accuracy, or '–' for a card without it."""
    zoom = metrics.get("PrivateTest_tta_zoom")
    return f"{zoom['accuracy'] * 100:.2f} %" if zoom else "–"


def results_table(models_dir: Path = ROOT / "models") -> str:
    rows = [
        "| model | classes | test split | accuracy (served int8) | macro-F1 | accuracy +flip TTA "
        "| accuracy +flip+zoom TTA (pipeline) | Keras accuracy | PublicTest | params "
        "| train wall time | ms, one face (AVX-512 · AVX2) | ms/face, batch 64 (AVX-512 · AVX2) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card_path in sorted(models_dir.glob("*/card.json")):
        card = json.loads(card_path.read_text())
        served = card.get("metrics_tflite_int8", card["metrics"])
        test = served["PrivateTest"]
        rows.append(
            f"| `{card['name']}` | {len(card['classes'])} | PrivateTest (n={test['n_samples']}) "
            f"| {test['accuracy'] * 100:.2f} % | {test['macro_f1']:.3f} "
            f"| {served['PrivateTest_tta']['accuracy'] * 100:.2f} % "
            f"| {zoom_accuracy(served)} "
            f"| {card['metrics']['PrivateTest']['accuracy'] * 100:.2f} % "
            f"| {served['PublicTest']['accuracy'] * 100:.2f} % "
            f"| {card['parameters']:,} | {card['training']['wall_time_s'] / 60:.0f} min "
            f"| {latency(card, 'single_face_ms_median')} "
            f"| {latency(card, 'batched_64_ms_per_face_median')} |"
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
