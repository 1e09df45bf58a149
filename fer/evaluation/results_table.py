"""The README's results table: one row per shipped model, from its card and evaluation file.

Accuracy figures come from ``models/<name>/evaluation.json`` (the served form's reports, and the
Keras one's for reference), the rest from ``card.json`` (parameters, wall time, latency records).
``fer results-table --write`` puts the table between the README's markers;
``tests/test_readme.py`` fails when the README and the models' files disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

from fer.config import MODELS_DIR
from fer.evaluation.evaluation_file import find_report, read_evaluation, served_backend

START, END = "<!-- results:start -->", "<!-- results:end -->"
HEADER = (
    "| model | classes | test split | accuracy (served int8) | macro-F1 | accuracy +flip TTA "
    "| accuracy +flip+zoom TTA (pipeline) | Keras accuracy | PublicTest | params "
    "| train wall time | ms, one face (AVX-512 · AVX2) | ms/face, batch 64 (AVX-512 · AVX2) |"
)
MISSING = "–"


def latency(card: dict, figure: str) -> str:
    """``figure`` from the card's two-thread ``fer bench --record`` entries, per CPU class.

    The CPU class matters more than anything else, so each has its own entry; '–' marks a class
    nobody has measured the model on.
    """
    from fer.evaluation.bench import benchmark_key

    benchmark = card.get("benchmark", {})
    values = []
    for vector in ("avx512", "avx2"):
        entry = benchmark.get(benchmark_key("tflite", 2, vector))
        values.append(f"{entry[figure]:.2f}" if entry else MISSING)
    return " · ".join(values)


def _accuracy(report: dict | None) -> str:
    return f"{report['accuracy'] * 100:.2f} %" if report else MISSING


def model_row(card: dict, evaluation: dict) -> str:
    """The table row of one model."""
    backend = served_backend(card)

    def served(split: str, views: str = "none") -> dict | None:
        return find_report(evaluation, split, views, backend)

    test = served("PrivateTest")
    if test is None:
        raise ValueError(f"{card['name']}: evaluation.json has no PrivateTest report")
    return (
        f"| `{card['name']}` | {len(card['classes'])} | PrivateTest (n={test['n_samples']}) "
        f"| {_accuracy(test)} | {test['macro_f1']:.3f} "
        f"| {_accuracy(served('PrivateTest', 'mirror'))} "
        f"| {_accuracy(served('PrivateTest', 'mirror+zoom'))} "
        f"| {_accuracy(find_report(evaluation, 'PrivateTest', 'none', 'keras'))} "
        f"| {_accuracy(served('PublicTest'))} "
        f"| {card['parameters']:,} | {card['training']['wall_time_s'] / 60:.0f} min "
        f"| {latency(card, 'single_face_ms_median')} "
        f"| {latency(card, 'batched_64_ms_per_face_median')} |"
    )


def results_table(models_dir: Path = MODELS_DIR) -> str:
    """The Markdown table of every model under ``models_dir``, sorted by name."""
    rows = [HEADER, "|---" * (HEADER.count("|") - 1) + "|"]
    for card_path in sorted(Path(models_dir).glob("*/card.json")):
        card = json.loads(card_path.read_text())
        rows.append(model_row(card, read_evaluation(card_path.parent)))
    return "\n".join(rows)


def readme_table(readme_text: str) -> str:
    """The table between the markers of a README's text; ``ValueError`` without markers."""
    if START not in readme_text or END not in readme_text:
        raise ValueError(f"the README lacks the {START} … {END} markers")
    return readme_text.split(START, 1)[1].split(END, 1)[0].strip()


def with_table(readme_text: str, table: str) -> str:
    """``readme_text`` with ``table`` between its markers."""
    readme_table(readme_text)  # checks the markers
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"
