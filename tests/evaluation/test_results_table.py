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
    (tmp_path / "m" / "card.json").write_text(json.dumps({"name": "m"}))
    with pytest.raises(ValueError, match="no PrivateTest report"):
        results_table(tmp_path)


def test_the_table_goes_between_the_markers():
    readme = f"intro\n{START}\nold\n{END}\noutro\n"
    updated = with_table(readme, "| new |")
    assert updated == f"intro\n{START}\n| new |\n{END}\noutro\n"
    assert readme_table(updated) == "| new |"
    with pytest.raises(ValueError, match="markers"):
        with_table("no markers", "| new |")
