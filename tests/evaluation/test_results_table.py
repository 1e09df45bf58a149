"""The README's results table is built from the models' card.json and evaluation.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer.config import MODELS_DIR
from fer.evaluation.results_table import END, START, readme_table, results_table, with_table


def test_one_row_per_model_with_the_served_forms_figures(tmp_path: Path):
    for name in ("ferplus", "fer2013"):
        (tmp_path / name).mkdir()
        for file in ("card.json", "evaluation.json"):
            shutil.copy(MODELS_DIR / name / file, tmp_path / name / file)
    table = results_table(tmp_path).splitlines()
    assert len(table) == 4 and table[0].count("|") == table[1].count("|")
    assert table[2].startswith("| `fer2013` | 7 | PrivateTest (n=3589) |")
    evaluation = json.loads((tmp_path / "ferplus" / "evaluation.json").read_text())
    served = evaluation["reports"]["PrivateTest"]["mirror+zoom"]["tflite"]
    assert f"| {served['accuracy'] * 100:.2f} % |" in table[3]


def test_a_model_without_a_private_test_report_is_an_error(tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "card.json").write_text(json.dumps({"name": "m", "classes": ["a", "b"]}))
    with pytest.raises(ValueError, match="no PrivateTest report"):
        results_table(tmp_path)


def test_the_table_goes_between_the_markers():
    readme = f"intro\n{START}\nold\n{END}\noutro\n"
    updated = with_table(readme, "| new |")
    assert updated == f"intro\n{START}\n| new |\n{END}\noutro\n"
    assert readme_table(updated) == "| new |"
    with pytest.raises(ValueError, match="markers"):
        with_table("no markers", "| new |")


def _one_model(models_dir: Path, name: str = "fer2013") -> Path:
    (models_dir / name).mkdir(parents=True)
    for file in ("card.json", "evaluation.json"):
        shutil.copy(MODELS_DIR / "fer2013" / file, models_dir / name / file)
    return models_dir / name


def test_a_missing_or_empty_models_folder_is_refused(tmp_path: Path, capsys):
    from fer.cli import main as fer_main

    readme = tmp_path / "README_COPY.md"
    text = (MODELS_DIR.parent / "README.md").read_text()
    readme.write_text(text)
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "nonexistent", tmp_path / "empty"):
        code = fer_main(["results-table", "--models-dir", str(folder), "--write", "--readme",
                         str(readme)])
        assert code == 2
        assert str(folder) in capsys.readouterr().err
    assert readme.read_text() == text


def test_hidden_folders_are_not_models(tmp_path: Path):
    _one_model(tmp_path)
    shutil.copytree(tmp_path / "fer2013", tmp_path / ".fer2013-ab12cd")
    (tmp_path / ".fer2013-other").mkdir()
    (tmp_path / ".fer2013-other" / "card.json").write_text("{}")
    (tmp_path / ".fer2013-other" / "evaluation.json").write_text("")
    rows = results_table(tmp_path).splitlines()
    assert len(rows) == 3 and rows[2].startswith("| `fer2013` |")


def test_a_missing_latency_figure_is_shown_as_missing(tmp_path: Path):
    model_dir = _one_model(tmp_path)
    card = json.loads((model_dir / "card.json").read_text())
    card["benchmark"] = {"tflite_2_threads_avx2": {"single_face_ms_median": 1.5,
                                                   "batched_8_ms_per_face_median": 0.4}}
    (model_dir / "card.json").write_text(json.dumps(card))
    row = results_table(tmp_path).splitlines()[2]
    assert row.endswith("| – · 1.50 | – · – |")


@pytest.mark.parametrize("field", ["parameters", "training"])
def test_a_card_without_a_field_of_the_row_is_named(field: str, tmp_path: Path):
    model_dir = _one_model(tmp_path)
    card = json.loads((model_dir / "card.json").read_text())
    del card[field]
    (model_dir / "card.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=f"card.json: a field .*'{field}'"):
        results_table(tmp_path)
