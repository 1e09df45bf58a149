"""README.md stays a short page for newcomers whose commands and results table are true."""

import re
from pathlib import Path

from fer.cli import COMMANDS
from fer.evaluation.results_table import readme_table, results_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_BYTES = 8 * 1024
# `fer NAME` at the start of a line of a code block, or at the start of inline code.
FER_SUBCOMMAND = re.compile(r"(?:^|`)fer ([a-z][a-z0-9-]*)", re.MULTILINE)


def test_readme_results_table_matches_the_models():
    table = readme_table(README.read_text())
    assert table == results_table().strip(), "run: fer results-table --write"
    assert table.count("\n") >= 3  # header, rule and one row per shipped model


def test_readme_commands_match_ci():
    readme = README.read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "bash scripts/run_tests.sh" in readme and "bash scripts/run_tests.sh" in ci
    assert "bash scripts/run_app.sh" in readme


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size < MAX_README_BYTES, (
        f"README.md is {size} bytes; keep it under {MAX_README_BYTES} and move measurements to "
        "docs/results.md, docs/training.md or experiments/README.md"
    )


def test_readme_names_only_real_subcommands():
    mentioned = set(FER_SUBCOMMAND.findall(README.read_text()))
    assert mentioned, "the README shows no `fer` subcommand"
    unknown = sorted(mentioned - set(COMMANDS))
    assert not unknown, f"README mentions `fer {unknown[0]}`; the CLI has {sorted(COMMANDS)}"


def test_readme_layout_names_every_subpackage_of_fer():
    layout = README.read_text().split("## Layout", 1)[1].split("```")[1]
    # The fer/ entry: its line and the indented lines under it.
    entry = re.search(r"^fer/ .*\n(?:^ +.*\n)*", layout, re.MULTILINE)
    assert entry, "README's Layout has no fer/ entry"
    layout = entry.group(0)
    subpackages = sorted(path.parent.name for path in (ROOT / "fer").glob("*/__init__.py"))
    missing = [name for name in subpackages if f"{name}/" not in layout]
    assert not missing, f"README's Layout leaves out fer/{missing[0]}/"
