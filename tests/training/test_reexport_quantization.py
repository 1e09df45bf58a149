"""`fer publish` exporting a model's TFLite file again keeps the quantization its card records
unless --quantization names another; a model published full-integer stays full-integer, and a
mode the user changes is said in the card, the evaluation and the command's output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer.cli import main as fer_main
from fer.evaluation.evaluation_file import iter_placed_reports, read_evaluation
from fer.training.export import QUANTIZATION_MODES
from tests.research_fixtures import edit_card, folder_bytes
from tests.training.test_publish_bad_input import (  # noqa: F401 (fixtures)
    _refused,
    model_copy,
    tiny_data,
    tiny_model,
)
from tests.training.test_republish import _faces_the_model_half_knows, use_faces  # noqa: F401

FULL, DYNAMIC = QUANTIZATION_MODES["full"], QUANTIZATION_MODES["dynamic"]


def _card(model_dir: Path) -> dict:
    return json.loads((model_dir / "card.json").read_text())


def _tflite_report_quantizations(model_dir: Path) -> set:
    """The quantization each TFLite report of the model's evaluation names."""
    return {
        report.get("quantization")
        for _, _, backend, report in iter_placed_reports(read_evaluation(model_dir))
        if backend == "tflite"
    }


def _outputs(tflite_file: Path, faces) -> np.ndarray:
    from fer.models.runners import TFLiteRunner

    return TFLiteRunner(tflite_file, num_threads=1)(faces[..., None].astype(np.float32))


def _reads_like_a_fresh_export(model_dir: Path, dataset, mode: str, folder: Path) -> bool:
    """Whether the served file gives what its Keras model exported in ``mode`` gives (the
    bytes differ: the file keeps Keras's tensor names, numbered by a running count)."""
    from fer.models.runners import KerasRunner
    from fer.training.export import export_served_tflite

    folder.mkdir()
    keras_model = KerasRunner(model_dir / "model.keras").model
    seed = _card(model_dir)["training"]["seed"]
    export_served_tflite(keras_model, dataset, folder, {}, seed, mode)
    faces = dataset.split("PrivateTest").images
    served = _outputs(model_dir / "model_int8.tflite", faces)
    return bool(np.array_equal(served, _outputs(folder / "model_int8.tflite", faces)))


def _publish(model_dir: Path, *arguments: str) -> None:
    assert fer_main(["publish", str(model_dir), *arguments]) == 0


@pytest.fixture
def full_integer_model(model_copy: Path, tiny_data) -> Path:  # noqa: F811
    """The tiny model as published with a full-integer TFLite file, evaluated."""
    _publish(model_copy, "--quantization", "full")
    assert _card(model_copy)["quantization"] == FULL
    return model_copy


@pytest.mark.parametrize("action", [[], ["--calibrate"]])
def test_exporting_again_keeps_a_full_integer_model_full_integer(
    action, full_integer_model: Path, tiny_data, tmp_path: Path  # noqa: F811
):
    _publish(full_integer_model, *action)
    card = _card(full_integer_model)
    if action:
        assert card["calibration"]["fitted_on"].startswith("PublicTest")
    assert card["quantization"] == FULL
    assert _reads_like_a_fresh_export(full_integer_model, tiny_data, "full", tmp_path / "full")
    assert not _reads_like_a_fresh_export(
        full_integer_model, tiny_data, "dynamic", tmp_path / "dynamic"
    )
    assert _tflite_report_quantizations(full_integer_model) == {FULL}
    assert FULL in (full_integer_model / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize("action", [[], ["--calibrate"]])
def test_a_mode_the_user_changes_is_said_in_the_card_and_the_evaluation(
    action, full_integer_model: Path, tiny_data, capsys  # noqa: F811
):
    capsys.readouterr()
    _publish(full_integer_model, *action, "--quantization", "dynamic")
    card = _card(full_integer_model)
    assert card["quantization"] == DYNAMIC
    assert card["tflite_export_command"].endswith(
        " ".join([*action, "--quantization", "dynamic"])
    )
    assert _tflite_report_quantizations(full_integer_model) == {DYNAMIC}
    assert DYNAMIC in (full_integer_model / "MODEL_CARD.md").read_text()
    out = capsys.readouterr().out
    assert f"re-exported as dynamic ({DYNAMIC}); it was {FULL}" in out


def test_a_calibrated_model_asked_for_another_mode_is_only_exported_again(
    tiny_model: Path, model_copy: Path, use_faces, capsys  # noqa: F811
):
    use_faces(_faces_the_model_half_knows(tiny_model, seed=0))
    _publish(model_copy, "--quantization", "dynamic")
    _publish(model_copy, "--calibrate")
    calibrated = _card(model_copy)
    keras_bytes = (model_copy / "model.keras").read_bytes()
    capsys.readouterr()

    _publish(model_copy, "--calibrate", "--quantization", "full")
    card = _card(model_copy)
    assert "already calibrated" in capsys.readouterr().out
    assert card["quantization"] == FULL
    assert card["calibration"] == calibrated["calibration"]
    assert (model_copy / "model.keras").read_bytes() == keras_bytes
    assert _tflite_report_quantizations(model_copy) == {FULL}


@pytest.mark.parametrize(
    "action", [["--output-temperatures"], ["--uncertainty-thresholds"], ["--add-tta-zoom"],
               ["--model-card"]],
)
def test_quantization_with_an_action_that_exports_nothing_is_refused(
    action, model_copy: Path, tiny_data, capsys  # noqa: F811
):
    error = _refused([*action, "--quantization", "full"], model_copy, capsys)
    assert "--quantization applies only when the TFLite file is exported" in error


def test_quantization_for_a_model_served_as_keras_is_refused_by_calibrate(
    model_copy: Path, tiny_data, capsys  # noqa: F811
):
    edit_card(model_copy, served_backend="keras")
    error = _refused(["--calibrate", "--quantization", "full"], model_copy, capsys)
    assert "serves its Keras model" in error


@pytest.mark.parametrize("action", [[], ["--calibrate"]])
def test_a_recorded_mode_no_export_knows_is_named_before_any_work(
    action, model_copy: Path, tiny_data, capsys  # noqa: F811
):
    edit_card(model_copy, served_backend="tflite_int8", quantization="float16 weights")
    error = _refused(action, model_copy, capsys)
    assert "card.json quantization is 'float16 weights'" in error
    assert "--quantization" in error


@pytest.mark.slow  # chooses tau, exports and evaluates a tiny model's copy
def test_a_logit_adjusted_copy_keeps_its_source_full_integer(
    full_integer_model: Path, tiny_data, tmp_path: Path, monkeypatch  # noqa: F811
):
    import fer.models.cards
    import fer.training.post_hoc

    for module in (fer.training.post_hoc, fer.models.cards):
        monkeypatch.setattr(module, "MODELS_DIR", tmp_path / "models")
    before = folder_bytes(full_integer_model)
    _publish(full_integer_model, "--logit-adjust", "tiny_balanced", "--max-accuracy-drop", "0.05")
    copy = tmp_path / "models" / "tiny_balanced"
    assert _card(copy)["quantization"] == FULL
    assert _tflite_report_quantizations(copy) == {FULL}
    assert folder_bytes(full_integer_model) == before
