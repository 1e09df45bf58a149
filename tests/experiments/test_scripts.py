"""The experiment scripts stay runnable as ``python -m experiments.TOPIC.SCRIPT``.

Their ``fer`` imports sit inside functions (so ``--help`` is fast), where a moved or renamed name
would only fail after minutes of work; this test resolves every one of them up front.
"""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(
    path for path in (ROOT / "experiments").rglob("*.py") if path.name != "__init__.py"
)


def _imported_names(path: Path) -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from fer… / experiments… import name`` in the file."""
    pairs = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in ("fer", "experiments"):
                pairs += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            pairs += [
                (alias.name, "") for alias in node.names if alias.name.split(".")[0] == "fer"
            ]
    return pairs


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_script_imports_resolve(path):
    source = path.read_text()
    assert "sys.path" not in source, "run it with python -m instead of patching sys.path"
    for module_name, name in _imported_names(path):
        module = importlib.import_module(module_name)
        assert not name or hasattr(module, name), f"{module_name} has no {name}"


def test_every_topic_is_a_package():
    for path in SCRIPTS:
        for folder in path.relative_to(ROOT).parents:
            if folder != Path("."):
                assert (ROOT / folder / "__init__.py").is_file(), f"{folder} lacks __init__.py"
