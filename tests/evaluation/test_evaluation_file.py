"""fer.evaluation.evaluation_file: one evaluation.json per model, reports keyed by split, views
and backend, in a fixed order whatever the order they were added in."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from fer.evaluation.evaluation_file import (
    add_reports,
    evaluation_path,
    find_report,
    headline,
    iter_reports,
    read_evaluation,
    served_backend,
)
from fer.files import replacing, write_text_atomically
from tests.research_fixtures import synthetic_report


def report(split: str, tta, backend: str, seed: int = 0) -> dict:
    return synthetic_report(seed) | {"split": split, "tta": tta, "backend": backend}


def test_reports_are_stored_by_split_views_and_backend_in_canonical_order(tmp_path: Path):
    assert read_evaluation(tmp_path)["reports"] == {}  # no file yet: no reports
    added = [
        report("PrivateTest", "mirror+zoom", "keras"),
        report("PrivateTest", False, "tflite"),
        report("Training", False, "keras"),
        report("PrivateTest", True, "tflite"),
        report("PrivateTest", False, "keras"),
    ]
    add_reports(tmp_path, added)
    stored = json.loads(evaluation_path(tmp_path).read_text())
    assert list(stored["reports"]) == ["Training", "PrivateTest"]
    assert list(stored["reports"]["PrivateTest"]) == ["none", "mirror", "mirror+zoom"]
    assert list(stored["reports"]["PrivateTest"]["none"]) == ["tflite", "keras"]
    assert [(r["split"], r["tta"], r["backend"]) for r in iter_reports(stored)] == [
        ("Training", False, "keras"),
        ("PrivateTest", False, "tflite"),
        ("PrivateTest", False, "keras"),
        ("PrivateTest", True, "tflite"),
        ("PrivateTest", "mirror+zoom", "keras"),
    ]
    # Reports are stored as they were made.
    assert find_report(stored, "PrivateTest", "mirror", "tflite") == added[3]
    assert find_report(stored, "PublicTest") is None
    assert headline(added[1]) == {
        key: added[1][key] for key in ("accuracy", "macro_f1", "ece", "n_samples")
    }


def test_a_report_replaces_its_place_and_a_backend_can_be_replaced_whole(tmp_path: Path):
    add_reports(
        tmp_path, [report("PrivateTest", False, "tflite"), report("Training", False, "keras")]
    )
    newer = report("PrivateTest", False, "tflite", seed=5)
    add_reports(tmp_path, [newer])
    evaluation = read_evaluation(tmp_path)
    assert find_report(evaluation, "PrivateTest") == newer
    assert find_report(evaluation, "Training", backend="keras") is not None
    # A new file of one backend: none of its old reports survive, the other's stay.
    add_reports(tmp_path, [report("PublicTest", False, "keras")], replace_backend="keras")
    evaluation = read_evaluation(tmp_path)
    assert find_report(evaluation, "Training", backend="keras") is None
    assert list(evaluation["reports"]) == ["PublicTest", "PrivateTest"]
    assert find_report(evaluation, "PrivateTest") == newer


def test_unreadable_files_are_named_in_the_error(tmp_path: Path):
    evaluation_path(tmp_path).write_text("{broken")
    with pytest.raises(ValueError, match="evaluation.json is not valid JSON"):
        read_evaluation(tmp_path)
    evaluation_path(tmp_path).write_text(json.dumps({"accuracy": 0.5}))
    with pytest.raises(ValueError, match="not an evaluation file"):
        read_evaluation(tmp_path)


def test_the_served_backend_comes_from_the_card():
    assert served_backend({"served_backend": "tflite_int8"}) == "tflite"
    assert served_backend({"served_backend": "keras"}) == "keras"
    assert served_backend({"files": {"tflite_int8": "model_int8.tflite"}}) == "tflite"
    assert served_backend({}) == "keras"


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path: Path):
    card = tmp_path / "card.json"
    card.write_text('{"name": "old"}')
    with pytest.raises(OSError, match="disk full"), replacing(card) as temporary:
        temporary.write_text('{"name": "ne')
        raise OSError("disk full")
    assert card.read_text() == '{"name": "old"}'
    assert [path.name for path in tmp_path.iterdir()] == ["card.json"]
    write_text_atomically(card, '{"name": "new"}')
    assert card.read_text() == '{"name": "new"}'
    assert [path.name for path in tmp_path.iterdir()] == ["card.json"]


def test_commands_adding_reports_at_once_lose_none(tmp_path: Path):
    writers, per_writer = 4, 15

    def add(writer: int) -> None:
        for index in range(per_writer):
            report = {"split": f"split-{writer}-{index}", "tta": False, "backend": "keras"}
            add_reports(tmp_path, [report])

    threads = [threading.Thread(target=add, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_evaluation(tmp_path)["reports"]) == writers * per_writer
