"""The notebooks: stored without outputs, parameters first, and (slow) each runs in smoke mode."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from fer.config import data_dir_from_env
from tests.research_fixtures import make_tiny_model

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = [path.name for path in NOTEBOOKS]


def load_runner():
    spec = importlib.util.spec_from_file_location(
        "run_notebooks", ROOT / "scripts/run_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_notebooks_exist():
    assert NAMES == ["01_eda.ipynb", "02_train.ipynb", "03_evaluate.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_notebook_is_stripped_and_starts_with_parameters(path):
    notebook = json.loads(path.read_text())
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code_cells)
    first = "".join(notebook["cells"][0]["source"])
    for line in ("SMOKE = True", "MODEL_NAME = ", "SEED = "):
        assert line in first, f"{path.name}: first cell lacks {line!r}"
    # thin: no function or class definitions in notebooks (they belong in fer/)
    for cell in code_cells:
        source = "".join(cell["source"])
        assert not re.search(r"^\s*(def|class)\s", source, re.MULTILINE), source


def test_runner_injects_parameters_after_the_first_cell():
    import nbformat

    runner = load_runner()
    notebook = nbformat.read(NOTEBOOKS[0], as_version=4)
    injected = runner.with_parameters(notebook, {"SEED": 3})
    assert injected.cells[1].source == "SEED = 3"
    assert len(injected.cells) == len(notebook.cells) + 1
    with pytest.raises(ValueError, match="NOT_A_PARAMETER"):
        runner.with_parameters(notebook, {"NOT_A_PARAMETER": 1})


@pytest.fixture(scope="module")
def data_dir():
    path = data_dir_from_env(required=False)
    if path is None:
        pytest.skip("needs FER_DATA_DIR")
    return path


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("name", ["01_eda.ipynb", "02_train.ipynb"])
def test_notebook_runs_in_smoke_mode(name, data_dir):
    executed = load_runner().execute_notebook(ROOT / "notebooks" / name)
    last = [cell for cell in executed.cells if cell.cell_type == "code"][-1]
    assert last.outputs, "the last cell shows a table"


@pytest.mark.slow
@pytest.mark.data
def test_evaluate_notebook_runs_in_smoke_mode(data_dir, tmp_path):
    model_dir = make_tiny_model(tmp_path / "tiny")
    executed = load_runner().execute_notebook(
        ROOT / "notebooks/03_evaluate.ipynb", {"MODEL_NAME": str(model_dir), "N_SMOKE": 100}
    )
    printed = "".join(
        output.get("text", "") for cell in executed.cells for output in cell.get("outputs", [])
    )
    assert "tiny on PrivateTest (100 faces)" in printed
