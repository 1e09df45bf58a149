"""The README's results table: one row per shipped model, from its card and evaluation file.

Accuracy figures come from ``models/<name>/evaluation.json`` (the served form's reports, and the
Keras one's for reference), the rest from ``card.json`` (parameters, wall time, latency records).
``fer results-table --write`` puts the table between the README's markers;
``tests/test_readme.py`` fails when the README and the models' files disagree.
"""

from __future__ import annotations

from pathlib import Path

from fer.config import MODELS_DIR
from fer.evaluation.bench import RECORDED_BATCH_SIZE, batched_figure, benchmark_key
from fer.evaluation.evaluation_file import find_report, read_evaluation, served_backend
from fer.evaluation.reports import list_models
from fer.models.cards import CARD_FILE, read_card

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
    nobody has measured the model on, or whose record lacks the figure.
    """
    benchmark = card.get("benchmark", {})
    values = []
    for vector in ("avx512", "avx2"):
        entry = benchmark.get(benchmark_key("tflite", 2, vector)) or {}
        value = entry.get(figure)
        has_value = isinstance(value, int | float) and not isinstance(value, bool)
        values.append(f"{value:.2f}" if has_value else MISSING)
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
        f"| {latency(card, batched_figure(RECORDED_BATCH_SIZE))} |"
    )


def results_table(models_dir: Path = MODELS_DIR) -> str:
    """The Markdown table of every model under ``models_dir``, sorted by name (hidden folders,
    models being published, left out). ``ValueError`` naming the folder when it holds no
    model, so that a mistyped folder cannot empty the README's table, and naming the card
    when one lacks a field the row needs."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ValueError(f"{models_dir} is not a folder")
    names = list_models(models_dir)
    if not names:
        raise ValueError(f"{models_dir} holds no models (no folder with a {CARD_FILE})")
    rows = [HEADER, "|---" * (HEADER.count("|") - 1) + "|"]
    for name in names:
        card = read_card(models_dir / name)
        try:
            rows.append(model_row(card, read_evaluation(models_dir / name)))
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"{models_dir / name / CARD_FILE}: a field its table row needs is missing or of "
                f"the wrong type ({type(error).__name__}: {error})"
            ) from None
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
