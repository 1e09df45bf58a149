"""MODEL_CARD.md: the committed cards are the generator's output, and a minimal card renders."""

from __future__ import annotations

import pytest

from fer.config import MODELS_DIR
from fer.evaluation.evaluation_file import add_reports, empty_evaluation
from fer.evaluation.model_card import MODEL_CARD_FILE, model_card_text, render_model_card
from tests.research_fixtures import synthetic_report

SHIPPED = ("fer2013", "ferplus")


@pytest.mark.parametrize("name", SHIPPED)
def test_committed_model_card_is_generated(name):
    committed = (MODELS_DIR / name / MODEL_CARD_FILE).read_text()
    assert committed == model_card_text(MODELS_DIR / name), f"run: fer publish {name} --model-card"


@pytest.mark.parametrize("name", SHIPPED)
def test_model_card_has_the_sections_a_reader_needs(name):
    text = (MODELS_DIR / name / MODEL_CARD_FILE).read_text()
    for heading in (
        "## Intended use",
        "## Out-of-scope use",
        "## Data",
        "## Training",
        "## Metrics",
        "## Calibration",
        "## Known failure modes and limitations",
        "## How to reproduce",
    ):
        assert heading in text, heading
    assert 3_000 < len(text.encode()) < 16_000  # a few KB of prose and tables


def test_a_minimal_card_renders_and_says_what_is_missing(tmp_path):
    card = {"name": "tiny", "label_set": "fer2013", "classes": ["a", "b"]}
    text = render_model_card(card, empty_evaluation("tiny"))
    assert text.startswith("# Model card: tiny")
    assert "Not evaluated yet: run `fer evaluate tiny`" in text
    assert "No temperature was fitted" in text

    report = synthetic_report() | {"model": "tiny", "backend": "tflite"}
    evaluation = add_reports(tmp_path, [report])
    text = render_model_card(card | {"served_backend": "tflite_int8"}, evaluation)
    assert f"| PrivateTest | one pass | {report['n_samples']:,} |" in text
    assert "Lowest recall on PrivateTest" in text
    assert "Per class, served form, PrivateTest with one pass views" in text
