"""The robustness suite's pieces: reproducible degradations, codec round trips, the scores and
their intervals, and the table MODEL_CARD.md shows."""

import numpy as np
import pytest

from fer.evaluation.robustness import (
    CONDITIONS,
    condition_scores,
    degraded_frames,
    wilson_interval,
)
from fer.evaluation.robustness_table import robustness_section, suite_table


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).integers(0, 256, (6, 48, 48), dtype=np.uint8)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_every_condition_gives_one_frame_per_face(faces, condition):
    frames = degraded_frames(faces, condition, seed=3)
    assert len(frames) == len(faces)
    assert all(frame.shape == (288, 288, 3) and frame.dtype == np.uint8 for frame in frames)
    again = degraded_frames(faces, condition, seed=3)
    if condition not in ("h264", "vp8"):  # encoders may differ run to run in the last bit
        assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))


def test_conditions_change_the_picture_and_clean_does_not(faces):
    clean = degraded_frames(faces, "clean")
    for condition in CONDITIONS[1:]:
        changed = degraded_frames(faces, condition)
        difference = np.mean(
            [np.abs(a.astype(int) - b).mean() for a, b in zip(clean, changed, strict=True)]
        )
        assert difference > 1.0, condition
    with pytest.raises(ValueError, match="unknown condition"):
        degraded_frames(faces, "fog")


def test_wilson_interval_matches_the_textbook_value():
    low, high = wilson_interval(68, 100)
    assert low == pytest.approx(0.5834, abs=1e-3) and high == pytest.approx(0.7633, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0


def test_scores_hold_rates_intervals_and_per_class_recall():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    scores = condition_scores(labels, predicted, ["a", "b", "c"], n_faces=8)
    assert scores["detection_rate"] == 0.75 and scores["accuracy"] == pytest.approx(4 / 6, 1e-3)
    assert scores["recall"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert scores["macro_recall"] == pytest.approx(2 / 3, 1e-3)
    low, high = scores["macro_recall_95"]
    assert 0 <= low <= scores["macro_recall"] <= high <= 1
    table = suite_table({"clean": scores})
    assert "| clean | 75.0% |" in table and "a 0.50" in table


def test_scores_hold_each_class_s_faces_and_recall_interval():
    labels = np.array([0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 1, 1, 1, 1, 1])
    scores = condition_scores(labels, predicted, ["a", "b", "c"], n_faces=6)
    assert scores["support"] == {"a": 2, "b": 4, "c": 0}
    assert scores["recall_95"]["a"] == [round(v, 4) for v in wilson_interval(1, 2)]
    assert scores["recall_95"]["b"] == [round(v, 4) for v in wilson_interval(4, 4)]
    assert scores["recall_95"]["c"] is None
    run = {"command": "fer x", "conditions": {"clean": scores}}
    evaluation = {"robustness": {"PrivateTest": run}}
    assert any("Robustness: PrivateTest" in line for line in robustness_section(evaluation))


class _ClassModel:
    """Answers its favourite class for every face."""

    def __init__(self, name, classes, favourite):
        self.name, self.classes, self.favourite = name, classes, favourite

    def predict(self, faces):
        probabilities = np.full((len(faces), len(self.classes)), 0.01, np.float32)
        probabilities[:, self.classes.index(self.favourite)] = 0.9
        return probabilities


@pytest.mark.data
def test_models_of_different_label_sets_are_compared_on_shared_classes(data_dir):
    from fer.data.datasets import load_dataset
    from fer.emotions import FER2013, FERPLUS
    from fer.evaluation.robustness import compare_on_common_classes

    bundle = data_dir / "face_landmarker.task"
    ferplus = load_dataset("ferplus", data_dir)
    rows = np.flatnonzero(ferplus.splits == "PrivateTest")[:40]
    sample = ferplus.select(rows)
    happy = _ClassModel("a", list(FER2013.names), "happy")
    contempt = _ClassModel("b", list(FERPLUS.names), "contempt")
    results = compare_on_common_classes([happy, contempt], sample, bundle, conditions=("clean",))
    scores_a, scores_b = results["a"]["clean"], results["b"]["clean"]
    assert "contempt" not in scores_a["recall"]  # the 7-class model has no contempt
    assert scores_a["recall"]["happy"] == 1.0
    # Contempt is not shared, so the second model's answer falls back to its best shared class.
    assert scores_b["n_found"] == scores_a["n_found"]


def test_a_stored_comparison_names_the_criterion_and_ranks_the_models(tmp_path):
    from fer.evaluation.evaluation_file import add_robustness_comparison, read_evaluation
    from fer.evaluation.robustness_table import comparison_section

    scores = condition_scores(np.array([0, 1]), np.array([0, 1]), ["a", "b"], n_faces=2)
    weaker = condition_scores(np.array([0, 1]), np.array([0, 0]), ["a", "b"], n_faces=2)
    compared = {"first": {"clean": weaker}, "second": {"clean": scores}}
    add_robustness_comparison(tmp_path, "PrivateTest", compared, "fer evaluate first ...")
    evaluation = read_evaluation(tmp_path)
    assert evaluation["robustness_comparison"]["mean_macro_recall"] == {
        "first": 0.5, "second": 1.0
    }
    text = "\n".join(comparison_section(evaluation))
    assert "`second` 1.000, `first` 0.500" in text and "highest wins" in text
    assert comparison_section({"reports": {}}) == []


def test_a_condition_without_any_face_found_is_named_not_divided_by_zero():
    empty = np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="'overexposed'.*none of the 5 faces"):
        condition_scores(empty, empty, ["a", "b"], n_faces=5, condition="overexposed")
