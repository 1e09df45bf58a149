"""MODEL_CARD.md: the committed cards are the generator's output, and a minimal card renders."""

from __future__ import annotations

import pytest

from fer.config import MODELS_DIR
from fer.evaluation.evaluation_file import add_reports, empty_evaluation
from fer.evaluation.model_card import MODEL_CARD_FILE, model_card_text, render_model_card
from tests.research_fixtures import synthetic_report

SHIPPED = ("fer2013", "ferplus", "ferplus_balanced", "ferplus_videocall_balanced")


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


def test_post_hoc_fits_and_unreliable_classes_have_their_sections():
    card = {
        "name": "tiny_balanced", "label_set": "fer2013", "classes": ["a", "b"],
        "derived_from": "tiny",
        "logit_adjustment": {
            "method": "-tau * log(prior)", "tau": 0.5, "biases": [-0.3, 0.3],
            "fitted_on": "PublicTest", "command": "fer publish tiny --logit-adjust tiny_balanced",
            "curve": [
                {"tau": 0.0, "none": {"accuracy": 0.8, "macro_recall": 0.6}},
                {"tau": 0.5, "none": {"accuracy": 0.79, "macro_recall": 0.7}},
            ],
        },
        "uncertainty": {
            "rule": "per class ...", "fitted_on": "PublicTest", "command": "fer publish ...",
            "details": {"mirror+zoom": {
                "a": {"threshold": 0.41, "n_predicted": 90, "n_kept": 80, "precision_kept": 0.8},
                "b": {"threshold": None, "n_predicted": 3, "note": "few"},
            }},
        },
    }
    evaluation = empty_evaluation("tiny_balanced")
    evaluation["robustness"] = {"PrivateTest": {"command": "fer evaluate ...", "conditions": {
        "clean": {"detection_rate": 1.0, "accuracy": 0.8, "accuracy_95": [0.7, 0.9],
                  "macro_recall": 0.6, "macro_recall_95": [0.5, 0.7],
                  "recall": {"a": 0.9, "b": 0.3}, "recall_95": {"a": [0.8, 1.0], "b": [0.1, 0.6]},
                  "support": {"a": 40, "b": 10}}}}}
    text = render_model_card(card, evaluation)
    assert "## Logit adjustment" in text and "| 0.5 (chosen) | 79.00% | 0.700 |" in text
    assert "Biases: a -0.30, b +0.30." in text
    assert "## When the label reads \"uncertain\"" in text
    assert "| a | 0.41 | 90 | 80 | 0.80 |" in text and "| b | single threshold | 3 |" in text
    unreliable = text.split("## Unreliable classes", 1)[1]
    assert "- **b**: recognised 30% of the 10 b test faces" in unreliable
    assert "**a**" not in unreliable
