"""`fer publish --logit-adjust` and `--uncertainty-thresholds` end to end on a tiny model and
tiny data: the copy is a whole model folder, the original is untouched, the choice is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer.cli import main as fer_main
from fer.models.zoo import build_classifier
from tests.training.test_loop import _tiny_fer2013


def _tiny_published(directory: Path) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    directory.mkdir(parents=True)
    build_classifier("fernet", 7, name="fer2013").save(directory / "model.keras")
    card = {
        "name": directory.name, "label_set": "fer2013",
        "classes": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
        "architecture": "fernet", "training": {"seed": 3, "data_checksum": "tiny"},
    }
    (directory / "card.json").write_text(json.dumps(card))
    return directory


@pytest.mark.slow  # exports and evaluates a tiny model's two forms
def test_logit_adjusted_copy_and_thresholds(tmp_path: Path, monkeypatch):
    import fer.models.cards
    import fer.training.post_hoc
    import fer.training.publish
    import fer.training.republish
    from fer.training.calibration import MIN_CALIBRATION_FACES

    dataset = _tiny_fer2013(n_train=140, n_val=MIN_CALIBRATION_FACES)
    for module in (fer.training.publish, fer.training.republish, fer.training.post_hoc):
        monkeypatch.setattr(module, "load_dataset", lambda key, data_dir: dataset)
    for module in (fer.training.post_hoc, fer.models.cards):
        monkeypatch.setattr(module, "MODELS_DIR", tmp_path)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    original = _tiny_published(tmp_path / "tiny")
    before = {path.name: path.read_bytes() for path in original.iterdir()}

    assert fer_main(["publish", "tiny", "--logit-adjust", "tiny_balanced",
                     "--max-accuracy-drop", "0.05"]) == 0
    assert {path.name: path.read_bytes() for path in original.iterdir()} == before
    copy = tmp_path / "tiny_balanced"
    assert {path.name for path in copy.iterdir()} == {
        "model.keras", "model_int8.tflite", "card.json", "MODEL_CARD.md", "evaluation.json"
    }
    card = json.loads((copy / "card.json").read_text())
    adjustment = card["logit_adjustment"]
    assert card["name"] == "tiny_balanced" and card["derived_from"] == "tiny"
    assert adjustment["fitted_on"].startswith("PublicTest")
    assert adjustment["command"] == (
        "fer publish tiny --logit-adjust tiny_balanced --max-accuracy-drop 0.05"
    )
    counts = np.bincount(dataset.split("Training").labels, minlength=7)
    assert list(adjustment["training_class_counts"].values()) == counts.tolist()
    baseline = adjustment["curve"][0]
    chosen = next(p for p in adjustment["curve"] if p["tau"] == adjustment["tau"])
    for views in ("none", "mirror+zoom"):
        assert chosen[views]["accuracy"] >= baseline[views]["accuracy"] - 0.05 - 1e-9
    assert set(card["uncertainty"]["thresholds"]) == {"none", "mirror", "mirror+zoom"}
    text = (copy / "MODEL_CARD.md").read_text()
    assert "## Logit adjustment" in text and "## When the label reads" in text

    # The thresholds of an existing model go into its card; its files stay as they were.
    assert fer_main(["publish", "tiny", "--uncertainty-thresholds",
                     "--precision-target", "0.9"]) == 0
    updated = json.loads((original / "card.json").read_text())
    assert updated["uncertainty"]["precision_target"] == 0.9
    assert (original / "model.keras").read_bytes() == before["model.keras"]
    assert fer_main(["publish", "tiny", "--logit-adjust", "tiny"]) == 2  # not onto itself
