"""`fer publish` given a damaged or incomplete model folder: an `error:` line naming the file and
what is wrong (exit 2, no traceback), and the folder left exactly as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer.cli import main as fer_main
from fer.evaluation.evaluation_file import empty_evaluation, write_evaluation
from fer.evaluation.model_card import write_model_card
from tests.research_fixtures import edit_card, folder_bytes, make_tiny_model
from tests.training.test_loop import _tiny_fer2013


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    model_dir = make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
    edit_card(model_dir, training={"seed": 3})
    write_evaluation(model_dir, empty_evaluation("tiny"))
    write_model_card(model_dir)
    return model_dir


@pytest.fixture
def model_copy(tiny_model: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model, tmp_path / "copy"))


@pytest.fixture
def tiny_data(monkeypatch, tmp_path: Path):
    import fer.training.post_hoc
    import fer.training.publish
    import fer.training.republish
    from fer.training.calibration import MIN_CALIBRATION_FACES

    dataset = _tiny_fer2013(n_val=MIN_CALIBRATION_FACES)
    for module in (fer.training.publish, fer.training.republish, fer.training.post_hoc):
        monkeypatch.setattr(module, "load_dataset", lambda key, data_dir: dataset)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    return dataset


def _refused(arguments: list[str], model_dir: Path, capsys) -> str:
    """The error of ``fer publish`` on ``model_dir``, checked to have changed nothing."""
    before = folder_bytes(model_dir)
    assert fer_main(["publish", str(model_dir), *arguments]) == 2
    error = capsys.readouterr().err
    assert "error: " in error and "Traceback" not in error
    assert folder_bytes(model_dir) == before
    return error


@pytest.mark.parametrize("action", [["--add-tta-zoom"], ["--output-temperatures"]])
def test_a_step_that_fails_half_way_leaves_the_folder_as_it_was(
    action, model_copy: Path, tiny_data, capsys
):
    # The card promises a TFLite file that is not there: the Keras reports are made, then
    # the TFLite form's evaluation fails.
    edit_card(model_copy, served_backend="tflite_int8",
               calibration={"temperature": 1.0, "fitted_on": "PublicTest"})
    error = _refused(action, model_copy, capsys)
    assert f"{model_copy / 'model_int8.tflite'} does not exist" in error


def test_damaged_evaluation_stops_the_thresholds_before_the_card_changes(
    model_copy: Path, tiny_data, capsys
):
    (model_copy / "evaluation.json").write_text('{"reports": [1')
    error = _refused(["--uncertainty-thresholds"], model_copy, capsys)
    assert "evaluation.json is not valid JSON" in error


@pytest.mark.parametrize("action", [[], ["--add-tta-zoom"], ["--uncertainty-thresholds"],
                                    ["--calibrate"], ["--output-temperatures"]])
def test_a_card_without_a_label_set_is_named(action, model_copy: Path, tiny_data, capsys):
    edit_card(model_copy, label_set=None)
    error = _refused(action, model_copy, capsys)
    assert "card.json: its label_set None names no dataset" in error


@pytest.mark.parametrize("temperature", [float("nan"), "abc", 0, -2.0, float("inf")])
def test_a_stored_temperature_that_cannot_be_multiplied_is_named(
    temperature, model_copy: Path, tiny_data, capsys
):
    edit_card(model_copy, calibration={"temperature": temperature})
    error = _refused(["--calibrate"], model_copy, capsys)
    assert "card.json calibration.temperature is" in error


def test_a_calibration_that_is_not_a_mapping_is_named(model_copy: Path, tiny_data, capsys):
    edit_card(model_copy, calibration=[1.5])
    error = _refused(["--output-temperatures"], model_copy, capsys)
    assert "card.json calibration is not a mapping" in error


def test_a_null_calibration_is_calibrated_like_none(model_copy: Path, tiny_data, capsys):
    card = json.loads((model_copy / "card.json").read_text())
    card["calibration"] = None
    (model_copy / "card.json").write_text(json.dumps(card))
    assert fer_main(["publish", str(model_copy), "--calibrate"]) == 0
    assert "temperature" in capsys.readouterr().out
    calibration = json.loads((model_copy / "card.json").read_text())["calibration"]
    assert calibration["fitted_on"].startswith("PublicTest")


def test_a_truncated_keras_model_is_named_as_damaged(model_copy: Path, tiny_data, capsys):
    keras_file = model_copy / "model.keras"
    keras_file.write_bytes(keras_file.read_bytes()[:1000])
    error = _refused([], model_copy, capsys)
    assert "model.keras is not a usable Keras model" in error
