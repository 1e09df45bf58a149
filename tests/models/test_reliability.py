"""Which classes a model is unreliable for, by the stated rule, from synthetic suite results."""

from __future__ import annotations

import json

from fer.models.reliability import model_reliability, reliability_note, unreliable_classes


def scores(recall: dict, interval: dict | None = None, support: dict | None = None) -> dict:
    record = {"recall": recall}
    if interval is not None:
        record["recall_95"] = interval
    if support is not None:
        record["support"] = support
    return record


def evaluation(clean: dict, **others: dict) -> dict:
    return {"robustness": {"PrivateTest": {"conditions": {"clean": clean, **others}}}}


def test_a_class_is_unreliable_when_its_interval_reaches_below_half():
    clean = scores(
        {"happy": 0.95, "fear": 0.43, "sad": 0.62, "contempt": 0.55},
        {"happy": [0.93, 0.96], "fear": [0.33, 0.54], "sad": [0.57, 0.67],
         "contempt": [0.32, 0.76]},
        {"happy": 900, "fear": 77, "sad": 360, "contempt": 16},
    )
    noisy = scores({"happy": 0.9, "fear": 0.2, "sad": 0.5, "contempt": 0.1})
    unreliable = unreliable_classes(evaluation(clean, noise=noisy))
    # contempt's recall is above half, but 16 faces cannot show it is.
    assert list(unreliable) == ["fear", "contempt"]
    assert unreliable["fear"].startswith("recognised 43% of the 77 fear test faces")
    assert "33%-54%" in unreliable["fear"] and "20% with sensor noise" in unreliable["fear"]


def test_without_stored_intervals_the_recall_itself_is_compared():
    unreliable = unreliable_classes(evaluation(scores({"happy": 0.9, "disgust": 0.24})))
    assert list(unreliable) == ["disgust"] and "interval" not in unreliable["disgust"]


def test_a_class_without_test_faces_is_not_measured():
    clean = scores({"happy": 0.9, "contempt": None}, support={"happy": 10, "contempt": 0})
    assert "not measured" in unreliable_classes(evaluation(clean))["contempt"]


def test_the_note_says_whether_the_suite_ran_and_what_it_found():
    assert "not measured" in reliability_note({"reports": {}})
    assert unreliable_classes({"reports": {}}) == {}
    assert "Every expression" in reliability_note(evaluation(scores({"happy": 0.9})))
    assert "disgust" in reliability_note(evaluation(scores({"happy": 0.9, "disgust": 0.2})))


def test_model_reliability_reads_the_model_folder(tmp_path):
    assert model_reliability(tmp_path) == {}
    stored = evaluation(scores({"happy": 0.9, "disgust": 0.2}))
    (tmp_path / "evaluation.json").write_text(json.dumps(stored))
    assert list(model_reliability(tmp_path)) == ["disgust"]
