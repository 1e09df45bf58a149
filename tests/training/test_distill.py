"""Distillation targets and warm starts from a published model directory (fer.training.distill,
fer.training.run_state): tiny synthetic data and the small ziggy model."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer.emotions import FER2013
from fer.training.config import TrainConfig
from fer.training.distill import blend_targets
from fer.training.loop import train
from fer.training.network import build_training_model
from fer.training.run_state import load_initial_weights, merge_stages, predecessor_stages
from fer.training.targets import add_teacher_targets, build_training_data
from tests.training.test_loop import _tiny_fer2013, _tiny_ferplus


def test_blend_targets_mixes_labelled_rows_and_keeps_unlabelled_rows_empty():
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    teacher = np.array([[0.2, 0.8, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], np.float32)
    blended = blend_targets(targets, teacher, 0.25)
    np.testing.assert_allclose(blended[0], [0.8, 0.2, 0.0], atol=1e-6)
    # No label, no loss: the teacher does not create a target where the head has none.
    np.testing.assert_array_equal(blended[1], [0.0, 0.0, 0.0])
    # A class-weighted row (sum 2) keeps its weight for the teacher part.
    np.testing.assert_allclose(blended[2], [0.0, 1.5, 0.5], atol=1e-6)
    with pytest.raises(ValueError, match="weight"):
        blend_targets(targets, teacher, 1.5)
    with pytest.raises(ValueError, match="shape"):
        blend_targets(targets, teacher[:2], 0.5)


def _published_ziggy(tmp_path: Path, fer2013) -> Path:
    """A model directory as publish_model leaves it (keras file + card), from a 1-epoch run."""
    config = TrainConfig(architecture="ziggy", epochs=1, batch_size=16)
    state = train(config, fer2013, None, tmp_path / "run", command="first command")
    model_dir = tmp_path / "models" / "tiny"
    model_dir.mkdir(parents=True)
    shutil.copy(tmp_path / "run" / "best_fer2013.keras", model_dir / "model.keras")
    card = {
        "name": "tiny",
        "label_set": "fer2013",
        "classes": list(FER2013.names),
        "architecture": "ziggy",
        "training": {"stages": state.stages()},
    }
    (model_dir / "card.json").write_text(json.dumps(card))
    return model_dir


def test_warm_start_and_teacher_from_a_published_model(tmp_path: Path):
    import keras

    fer2013 = _tiny_fer2013()
    ferplus = _tiny_ferplus(fer2013)
    model_dir = _published_ziggy(tmp_path, fer2013)
    published = keras.models.load_model(model_dir / "model.keras", compile=False)
    joint = TrainConfig(architecture="ziggy", label_sets=("fer2013", "ferplus"), epochs=1)

    # Backbone and the fer2013 head load by name; the ferplus head keeps its fresh weights.
    model = build_training_model(joint)
    fresh_ferplus = [w.copy() for w in model.get_layer("ferplus").get_weights()]
    loaded = load_initial_weights(model, model_dir)
    assert "fer2013" in loaded and "conv1" in loaded and "ferplus" not in loaded
    for ours, theirs in zip(
        model.get_layer("fer2013").get_weights(),
        published.get_layer("fer2013").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(ours, theirs)
    for ours, fresh in zip(model.get_layer("ferplus").get_weights(), fresh_ferplus, strict=True):
        np.testing.assert_array_equal(ours, fresh)

    # The teacher's predictions replace the fer2013 targets entirely at weight 1.
    data = build_training_data(joint, fer2013, ferplus)
    ferplus_targets = data.targets["ferplus"].copy()
    config = TrainConfig(
        architecture="ziggy",
        label_sets=("fer2013", "ferplus"),
        distill_from=str(model_dir),
        distill_weight=1.0,
    )
    assert add_teacher_targets(config, data) == "fer2013"
    from fer.models.inference import load_model

    teacher = load_model(model_dir, backend="keras").predict(data.images, tta=True)
    np.testing.assert_allclose(data.targets["fer2013"], teacher, atol=1e-5)
    np.testing.assert_array_equal(data.targets["ferplus"], ferplus_targets)

    # A student that starts from its teacher owes that training once, not twice.
    student_config = TrainConfig(
        architecture="ziggy",
        label_sets=("fer2013", "ferplus"),
        epochs=1,
        batch_size=16,
        distill_from=str(model_dir),
    )
    student = train(
        student_config,
        fer2013,
        ferplus,
        tmp_path / "student",
        init_from=model_dir,
        command="student command",
    )
    assert [stage["command"] for stage in student.stages()] == [
        "first command",
        "student command",
    ]
    # A teacher re-published since (here: its card changed) is not mixed into a resumed run.
    assert student.teacher
    card = model_dir / "card.json"
    card.write_text(card.read_text().replace("{", '{"republished": true, ', 1))
    with pytest.raises(ValueError, match="has changed since this run started"):
        train(
            dataclasses.replace(student_config, epochs=2),
            fer2013,
            ferplus,
            tmp_path / "student",
            resume=True,
            command="student resumed",
        )


def test_warm_start_refuses_mismatched_models(tmp_path: Path):
    fer2013 = _tiny_fer2013()
    model_dir = _published_ziggy(tmp_path, fer2013)
    with pytest.raises(ValueError, match="ziggy model"):
        predecessor_stages(model_dir, TrainConfig(architecture="mycnn"))
    with pytest.raises(ValueError, match="head"):
        predecessor_stages(model_dir, TrainConfig(architecture="ziggy", label_sets=("ferplus",)))
    with pytest.raises(FileNotFoundError, match="neither"):
        predecessor_stages(tmp_path / "nowhere", TrainConfig(architecture="ziggy"))
    # A teacher whose head the run does not train is refused before any training.
    ferplus_only = TrainConfig(
        architecture="ziggy", label_sets=("ferplus",), distill_from=str(model_dir)
    )
    data = build_training_data(ferplus_only, fer2013, _tiny_ferplus(fer2013))
    with pytest.raises(ValueError, match="heads"):
        add_teacher_targets(ferplus_only, data)


def test_merge_stages_adds_only_missing_stages():
    first = {"run_dir": "a", "command": "x", "epochs": 1, "wall_time_s": 1.0}
    second = {"run_dir": "b", "command": "y", "epochs": 1, "wall_time_s": 2.0}
    assert merge_stages([first], [first, second]) == [first, second]
    assert merge_stages([], [second]) == [second]
