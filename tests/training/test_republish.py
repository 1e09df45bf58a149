"""`fer publish NAME --calibrate` run again: the fit starts from the head as it was before the
card's calibration, so a calibrated model is left exactly as it is and a re-fit records what a
first calibration would."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer.cli import main as fer_main
from fer.data.datasets import FaceDataset
from tests.research_fixtures import edit_card, folder_bytes
from tests.training.test_loop import _tiny_fer2013
from tests.training.test_publish_bad_input import model_copy, tiny_model  # noqa: F401 (fixtures)


def _faces_the_model_half_knows(model_dir: Path, seed: int) -> FaceDataset:
    """Tiny faces labelled as the untrained model reads them half the time, at random
    otherwise: a temperature fit that lands inside the bounds, not on one of them."""
    from fer.models.inference import EmotionModel
    from fer.training.calibration import MIN_CALIBRATION_FACES

    dataset = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES, seed=seed)
    readings = EmotionModel(model_dir, backend="keras").predict(dataset.images).argmax(axis=1)
    rng = np.random.default_rng(seed)
    guesses = rng.integers(0, len(dataset.class_names), len(dataset))
    labels = np.where(rng.random(len(dataset)) < 0.5, readings, guesses)
    return dataclasses.replace(dataset, labels=labels.astype(np.int64))


@pytest.fixture
def use_faces(monkeypatch, tmp_path: Path):
    """``use_faces(dataset)``: the dataset `fer publish` loads from then on."""
    import fer.training.republish

    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))

    def use(dataset: FaceDataset) -> FaceDataset:
        monkeypatch.setattr(fer.training.republish, "load_dataset", lambda key, data_dir: dataset)
        return dataset

    return use


def _calibration(model_dir: Path) -> dict:
    return json.loads((model_dir / "card.json").read_text())["calibration"]


def _calibrate(model_dir: Path) -> dict:
    assert fer_main(["publish", str(model_dir), "--calibrate"]) == 0
    return _calibration(model_dir)


def test_calibrating_a_calibrated_model_again_changes_nothing(
    tiny_model: Path, model_copy: Path, use_faces, capsys  # noqa: F811
):
    use_faces(_faces_the_model_half_knows(tiny_model, seed=0))
    first = _calibrate(model_copy)
    assert first["fitted_on"].startswith("PublicTest")
    assert first["this_fit"] < 0.9  # a real fit: the head is sharpened
    assert fer_main(["publish", str(model_copy), "--output-temperatures"]) == 0
    calibrated, recorded = folder_bytes(model_copy), _calibration(model_copy)
    capsys.readouterr()

    again = _calibrate(model_copy)
    # The card keeps the first run's record (its fit and before/after figures) and the
    # command of the step that came after it; weights and evaluation are the same.
    assert again["output_temperatures_command"].endswith("--output-temperatures")
    assert again == recorded
    assert folder_bytes(model_copy) == calibrated
    assert "already calibrated" in capsys.readouterr().out


def test_calibrating_again_on_other_faces_records_what_a_first_calibration_would(
    tiny_model: Path, model_copy: Path, use_faces, tmp_path: Path  # noqa: F811
):
    use_faces(_faces_the_model_half_knows(tiny_model, seed=0))
    on_the_first_faces = _calibrate(model_copy)
    use_faces(_faces_the_model_half_knows(tiny_model, seed=1))
    again = _calibrate(model_copy)
    first = _calibrate(Path(shutil.copytree(tiny_model, tmp_path / "never_calibrated")))

    assert again["this_fit"] != on_the_first_faces["this_fit"]
    # The head is unfolded by the card's rounded temperature, so the new fit may differ in
    # its last digit from one made on the never-calibrated head.
    for field in ("temperature", "this_fit"):
        assert again[field] == pytest.approx(first[field], rel=1e-3), field
    for field in ("output_temperatures", "PublicTest_before_after",
                  "PublicTest_one_pass_before_after"):
        assert again[field] == pytest.approx(first[field], abs=1e-3), field


def test_a_record_overwritten_by_a_second_fit_is_made_whole_again(
    tiny_model: Path, model_copy: Path, use_faces  # noqa: F811
):
    use_faces(_faces_the_model_half_knows(tiny_model, seed=0))
    first = _calibrate(model_copy)
    # What fitting on the calibrated head's own outputs used to record: a fit of 1.0 that
    # changed nothing.
    after = first["PublicTest_before_after"]
    unchanged = {"nll_before": after["nll_after"], "ece_before": after["ece_after"]}
    edit_card(model_copy, calibration=dict(
        first, this_fit=1.0, PublicTest_before_after=dict(after, **unchanged)
    ))

    again = _calibrate(model_copy)
    assert again["temperature"] == first["temperature"]
    assert again["this_fit"] == pytest.approx(first["this_fit"], rel=1e-3)
    assert again["PublicTest_before_after"] == pytest.approx(after, abs=1e-3)


def test_a_logit_adjusted_copy_keeps_its_source_temperature_and_its_own_fit(
    tiny_model: Path, model_copy: Path, use_faces, capsys  # noqa: F811
):
    from fer.models.runners import KerasRunner
    from fer.training.calibration import calibrate_on_split
    from fer.training.logit_adjustment import fold_logit_biases

    faces = use_faces(_faces_the_model_half_knows(tiny_model, seed=0))
    source = _calibrate(model_copy)
    # As `fer publish --logit-adjust` makes it: biases added to the calibrated head, then a
    # temperature fitted on top of them.
    biases = np.linspace(-1.0, 1.0, 7)
    keras_model = KerasRunner(model_copy / "model.keras").model
    fold_logit_biases(keras_model, biases)
    calibration = calibrate_on_split(keras_model, faces,
                                     previous_temperature=source["temperature"])
    keras_model.save(model_copy / "model.keras")
    adjustment = {
        "method": "biases added after the temperature", "tau": 0.5, "biases": biases.tolist(),
        "curve": [{"tau": 0.5, "none": {"accuracy": 0.5, "macro_recall": 0.5}}],
        "fitted_on": "PublicTest", "command": "fer publish tiny --logit-adjust tiny_balanced",
    }
    edit_card(model_copy, calibration=calibration, logit_adjustment=adjustment)
    adjusted = folder_bytes(model_copy)
    capsys.readouterr()

    assert _calibrate(model_copy) == calibration
    assert folder_bytes(model_copy) == adjusted
    assert "already calibrated" in capsys.readouterr().out
