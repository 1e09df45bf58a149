"""Scoring a split (fer.evaluation.evaluate) and the commands that store and show the result:
``fer evaluate``, ``fer results-table``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fer.cli import main as fer_main
from fer.evaluation.evaluation_file import find_report, read_evaluation
from tests.research_fixtures import make_tiny_model
from tests.training.test_loop import _tiny_fer2013


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def test_progress_counts_every_pass_and_leaves_the_report_unchanged(tiny_model: Path):
    from fer.evaluation.evaluate import evaluate_split, n_passes
    from fer.models.inference import load_model

    class Counter:
        n = 0

        def update(self, n: int) -> None:
            self.n += n

    model, dataset = load_model(tiny_model, backend="keras"), _tiny_fer2013()
    counter = Counter()
    shown = evaluate_split(model, dataset, "PublicTest", tta="mirror+zoom", progress=counter)
    plain = evaluate_split(model, dataset, "PublicTest", tta="mirror+zoom")
    assert counter.n == len(dataset.split("PublicTest").labels) * n_passes("mirror+zoom") > 0
    assert [n_passes(views) for views in ("none", True, "mirror+zoom")] == [1, 2, 6]
    for key in ("accuracy", "confusion_matrix", "n_samples", "tta", "split", "backend"):
        assert shown[key] == plain[key]


def test_fer_evaluate_stores_the_report_and_rewrites_the_model_card(
    tiny_model: Path, tmp_path: Path, monkeypatch, capsys
):
    import fer.data.datasets

    dataset = _tiny_fer2013()
    monkeypatch.setattr(fer.data.datasets, "load_dataset", lambda key, data_dir: dataset)
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path))
    arguments = ["evaluate", str(tiny_model), "--split", "PublicTest", "--backend", "keras"]
    assert fer_main([*arguments, "--tta", "mirror", "--no-save"]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert not (tiny_model / "evaluation.json").exists()

    assert fer_main([*arguments, "--tta", "mirror"]) == 0
    assert "evaluation.json" in capsys.readouterr().out
    report = find_report(read_evaluation(tiny_model), "PublicTest", "mirror", "keras")
    assert report["tta"] is True and report["n_samples"] == 32
    assert "| PublicTest | mirror pair | 32 |" in (tiny_model / "MODEL_CARD.md").read_text()
    assert fer_main(["evaluate", str(tmp_path / "no-such-model")]) == 2


def test_fer_results_table_writes_between_the_readme_markers(tmp_path: Path, capsys):
    from fer.config import MODELS_DIR
    from fer.evaluation.results_table import END, START, results_table

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{START}\nold\n{END}\n")
    assert fer_main(["results-table", "--write", "--readme", str(readme)]) == 0
    assert readme.read_text() == f"# x\n{START}\n{results_table(MODELS_DIR)}\n{END}\n"
    assert fer_main(["results-table"]) == 0
    assert capsys.readouterr().out.startswith("results table written")  # then the table
    readme.write_text("no markers")
    assert fer_main(["results-table", "--write", "--readme", str(readme)]) == 2


def test_command_modules_are_light_and_agree_with_the_package():
    code = (
        "import sys, fer.cli.evaluate, fer.cli.publish, fer.cli.results_table; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'pandas', 'cv2') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
    import fer.cli.evaluate
    import fer.cli.publish
    from fer.evaluation.evaluate import SPLITS
    from fer.models.inference import TTA_CHOICES
    from fer.training.export import QUANTIZATION_MODES

    assert fer.cli.evaluate.SPLITS == SPLITS
    assert fer.cli.evaluate.TTA_CHOICES == TTA_CHOICES
    assert set(fer.cli.publish.QUANTIZATION_CHOICES) == set(QUANTIZATION_MODES)
    assert json.loads(json.dumps(fer.cli.evaluate.EXAMPLE))  # a non-empty example
