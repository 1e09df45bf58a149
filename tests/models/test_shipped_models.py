"""The shipped models: their folders, cards and evaluation files, and (data) the PrivateTest
figures their evaluation files report."""

import json

import pytest

from fer.config import MODELS_DIR
from fer.evaluation.evaluate import PUBLISHED_VIEWS
from fer.evaluation.evaluation_file import find_report, read_evaluation, served_backend

SHIPPED = ("fer2013", "ferplus", "ferplus_balanced", "ferplus_videocall_balanced")
MODEL_FOLDER = {
    "model.keras",
    "model_int8.tflite",
    "card.json",
    "MODEL_CARD.md",
    "evaluation.json",
}


@pytest.mark.parametrize("name", SHIPPED)
def test_model_folder_holds_exactly_the_model_files(name):
    assert {path.name for path in (MODELS_DIR / name).iterdir()} == MODEL_FOLDER


@pytest.mark.parametrize("name", SHIPPED)
def test_card_has_the_contracted_fields(name):
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    for field in (
        "classes",
        "input",
        "training",
        "parameters",
        "intended_use",
        "out_of_scope_use",
    ):
        assert field in card, field
    for field in ("command", "wall_time_s", "data_checksum", "config", "git_commit"):
        assert field in card["training"], field
    # Figures live in evaluation.json only.
    assert not {"metrics", "metrics_tflite_int8"} & set(card)
    # Calibrated on the selection split, never on the reported one; so are the "uncertain"
    # thresholds and any logit adjustment.
    assert card["calibration"]["fitted_on"].startswith("PublicTest")
    assert card["uncertainty"]["fitted_on"].startswith("PublicTest")
    if "logit_adjustment" in card:
        assert card["logit_adjustment"]["fitted_on"].startswith("PublicTest")
    assert (MODELS_DIR / name / "model.keras").stat().st_size < 20 * 1024 * 1024


@pytest.mark.parametrize("name", SHIPPED)
def test_evaluation_holds_every_published_report_of_both_forms(name):
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    evaluation = read_evaluation(MODELS_DIR / name)
    assert evaluation["model"] == name
    for split, views in PUBLISHED_VIEWS:
        for backend in ("tflite", "keras"):
            report = find_report(evaluation, split, views, backend)
            assert report is not None, (split, views, backend)
            assert (report["model"], report["split"], report["backend"]) == (name, split, backend)
            assert report["classes"] == card["classes"]
            assert report["data_checksum"] == card["training"]["data_checksum"]


def served_private_test(name: str, data_dir, tta: bool | str = "none") -> tuple[dict, dict]:
    """The served model's PrivateTest report now, and the one its evaluation file holds."""
    from fer import load_model
    from fer.data.datasets import load_dataset
    from fer.evaluation.evaluate import evaluate_split

    model = load_model(name)
    assert model.backend == served_backend(model.card)
    saved = find_report(read_evaluation(model.model_dir), "PrivateTest", tta, model.backend)
    dataset = load_dataset(model.card["label_set"], data_dir)
    return evaluate_split(model, dataset, "PrivateTest", tta=tta), saved


@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED)
def test_model_reproduces_its_evaluation(name, data_dir):
    report, saved = served_private_test(name, data_dir)
    assert report["n_samples"] == saved["n_samples"]
    assert abs(report["accuracy"] - saved["accuracy"]) <= 0.005


@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED)
def test_pipeline_views_reproduce_their_evaluation(name, data_dir):
    """The accuracy the README claims for what the frame pipeline serves (mirror+zoom views)."""
    report, saved = served_private_test(name, data_dir, tta="mirror+zoom")
    assert report["tta"] == "mirror+zoom"
    assert abs(report["accuracy"] - saved["accuracy"]) <= 0.005
    # The views must earn their cost: above one pass on the same faces.
    one_pass = find_report(read_evaluation(MODELS_DIR / name), "PrivateTest", "none")
    assert saved["accuracy"] > one_pass["accuracy"]
