"""Execute the notebooks (in smoke mode by default) with nbclient; used by tests/test_notebooks.py
and CI.

    python scripts/run_notebooks.py                       # every notebooks/*.ipynb, SMOKE = True
    python scripts/run_notebooks.py notebooks/03_evaluate.ipynb --param MODEL_NAME='"tiny"'

Parameters are applied papermill-style: a cell assigning them is inserted right after the first
(parameters) cell. Notebooks are executed in memory and never written back, so the files in git
stay output-free. The kernel runs in the project root so that ``import fer`` works without an
install. Needs ``nbformat``, ``nbclient`` and ``ipykernel`` (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
SMOKE_PARAMETERS = {"SMOKE": True}


def with_parameters(notebook, parameters: Mapping[str, Any]):
    """A copy of ``notebook`` with a cell assigning ``parameters`` after its first cell."""
    import copy

    import nbformat

    if not notebook.cells or notebook.cells[0].cell_type != "code":
        raise ValueError("the first cell of a notebook must be its parameters (code) cell")
    first = notebook.cells[0].source
    unknown = [name for name in parameters if f"{name} =" not in first]
    if unknown:
        raise ValueError(f"parameters {unknown} are not defined in the notebook's first cell")
    result = copy.deepcopy(notebook)
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    result.cells.insert(1, cell)
    return result


def execute_notebook(
    path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    timeout_s: int = 600,
    kernel_name: str = "python3",
):
    """Run a notebook top to bottom and return the executed notebook (not saved).

    Raises ``nbclient.exceptions.CellExecutionError`` (with the failing cell's traceback) when a
    cell fails.
    """
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(Path(path), as_version=4)
    notebook = with_parameters(notebook, {**SMOKE_PARAMETERS, **(parameters or {})})
    client = NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
    )
    client.execute()
    return notebook


def parse_parameter(text: str) -> tuple[str, Any]:
    name, separator, value = text.partition("=")
    if not separator or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=PYTHON_LITERAL, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python literal") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--param", action="append", type=parse_parameter, default=[])
    parser.add_argument("--full", action="store_true", help="SMOKE = False (the full analysis)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    parameters = dict(args.param)
    if args.full:
        parameters["SMOKE"] = False
    paths = args.notebooks or sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    from nbclient.exceptions import CellExecutionError

    failed = []
    for path in paths:
        started = time.perf_counter()
        try:
            execute_notebook(path, parameters, args.timeout)
        except CellExecutionError as error:
            failed.append(path)
            print(f"FAILED {path}:\n{error}", file=sys.stderr)
            continue
        print(f"ok {path} ({time.perf_counter() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
