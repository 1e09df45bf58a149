"""The shipped models reproduce the PrivateTest figures their cards report."""

import json

import pytest

from fer.config import MODELS_DIR

SHIPPED = ("fer2013", "ferplus")


@pytest.mark.parametrize("name", SHIPPED)
def test_card_has_the_contracted_fields(name):
    card = json.loads((MODELS_DIR / name / "card.json").read_text())
    for field in ("classes", "input", "training", "metrics", "parameters", "intended_use"):
        assert field in card, field
    for field in ("command", "wall_time_s", "data_checksum", "config", "git_commit"):
        assert field in card["training"], field
    assert set(card["metrics"]) >= {"Training", "PublicTest", "PrivateTest"}
    # Calibrated on the selection split, never on the reported one.
    assert card["calibration"]["fitted_on"].startswith("PublicTest")
    assert (MODELS_DIR / name / "model.keras").stat().st_size < 20 * 1024 * 1024


def served_private_test(name: str, data_dir, tta: bool | str = False) -> tuple[dict, dict]:
    """The served model's PrivateTest report now, and the card's metrics for the served form."""
    from fer import load_model
    from fer.data import load_dataset
    from fer.evaluate import evaluate_split

    model = load_model(name)
    card_metrics = model.card["metrics_tflite_int8" if model.backend == "tflite" else "metrics"]
    dataset = load_dataset(model.card["label_set"], data_dir)
    return evaluate_split(model, dataset, "PrivateTest", tta=tta), card_metrics


@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED)
def test_model_reproduces_card_accuracy(name, data_dir):
    report, card_metrics = served_private_test(name, data_dir)
    assert report["n_samples"] == card_metrics["PrivateTest"]["n_samples"]
    assert abs(report["accuracy"] - card_metrics["PrivateTest"]["accuracy"]) <= 0.005


@pytest.mark.data
@pytest.mark.parametrize("name", SHIPPED)
def test_pipeline_views_reproduce_card_accuracy(name, data_dir):
    """The accuracy the README claims for what the frame pipeline serves (mirror+zoom views)."""
    report, card_metrics = served_private_test(name, data_dir, tta="mirror+zoom")
    assert report["tta"] == "mirror+zoom"
    card_figure = card_metrics["PrivateTest_tta_zoom"]["accuracy"]
    assert abs(report["accuracy"] - card_figure) <= 0.005
    # The views must earn their cost: above one pass on the same faces.
    assert card_figure > card_metrics["PrivateTest"]["accuracy"]
