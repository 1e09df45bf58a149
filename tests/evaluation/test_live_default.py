"""The Live default is the model the stated criterion picks: the highest mean macro-recall across
the robustness suite on PublicTest, among every shipped model, as stored in the models'
evaluation.json."""

from __future__ import annotations

from fer.config import MODELS_DIR
from fer.evaluation.evaluation_file import read_evaluation
from fer.realtime.pipeline import DEFAULT_MODEL


def shipped_models() -> set[str]:
    return {path.parent.name for path in MODELS_DIR.glob("*/card.json")}


def test_the_comparison_covers_every_shipped_model_and_the_default_wins_it():
    comparison = read_evaluation(MODELS_DIR / DEFAULT_MODEL)["robustness_comparison"]
    means = comparison["mean_macro_recall"]
    assert set(means) == shipped_models(), "run the comparison with --against every model"
    assert max(means, key=means.__getitem__) == DEFAULT_MODEL
    assert comparison["criterion"].startswith("mean macro-recall")
    # A choice is made on the selection split; PrivateTest is only reported.
    assert comparison["split"] == "PublicTest"


def test_every_model_in_the_comparison_stores_the_same_one():
    stored = read_evaluation(MODELS_DIR / DEFAULT_MODEL)["robustness_comparison"]
    for name in stored["mean_macro_recall"]:
        assert read_evaluation(MODELS_DIR / name)["robustness_comparison"] == stored, name
