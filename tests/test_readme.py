"""README.md's results table is the one the model cards produce, and its commands exist."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _results_table_module():
    path = ROOT / "scripts" / "results_table.py"
    spec = importlib.util.spec_from_file_location("results_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_results_table_matches_the_cards():
    module = _results_table_module()
    readme = (ROOT / "README.md").read_text()
    table = readme.split(module.START, 1)[1].split(module.END, 1)[0].strip()
    assert table == module.results_table().strip(), "run: python scripts/results_table.py --write"
    assert table.count("\n") >= 3  # header, rule and one row per shipped model


def test_readme_commands_match_ci():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "bash scripts/run_tests.sh" in readme and "bash scripts/run_tests.sh" in ci
    assert "bash scripts/run_app.sh" in readme
