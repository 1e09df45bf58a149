"""The package's shape: no import cycles among fer's modules, function-level imports included.

The layers themselves (fer.cli -> training -> evaluation -> realtime -> sessions -> models ->
data -> core, the runtime never importing training, fer never importing Streamlit) are
import-linter contracts in pyproject.toml, checked by `lint-imports` in the test command; layers
cannot see a cycle between two modules of one subpackage, which this test does.
"""

import re

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    modules = sorted(graph.modules)
    successors = {
        module: sorted(graph.find_modules_directly_imported_by(module)) for module in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for successor in successors[module]:
            if successor not in index:
                visit(successor)
                low[module] = min(low[module], low[successor])
            elif successor in on_stack:
                low[module] = min(low[module], index[successor])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return components


def test_no_import_cycles_among_fer_modules():
    graph = grimp.build_graph("fer", cache_dir=None)
    assert len(graph.modules) > 40
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        graph.add_module(module)
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.one")
    graph.add_import(importer="a.three", imported="a.one")
    assert _cycles(graph) == [["a.one", "a.two"]]


# Subpackages whose entry in docs/architecture.md lists their modules (cli and api: described).
DOCUMENTED_SUBPACKAGES = (
    "training", "reporting", "evaluation", "realtime", "rooms", "sessions", "accounts", "storage",
    "models", "data",
)


def test_the_architecture_page_names_every_module_of_each_layer():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    page = (root / "docs" / "architecture.md").read_text()
    picture = page.split("## Layers inside `fer`", 1)[1].split("```")[1]
    entries: dict[str, set[str]] = {}
    current = ""
    for line in picture.splitlines():
        if line.startswith("fer."):
            current = line.split()[0].removeprefix("fer.")
            line = line[len("fer." + current):]
        entries.setdefault(current, set()).update(re.findall(r"[a-z_]+", line))
    for subpackage in DOCUMENTED_SUBPACKAGES:
        modules = {
            path.stem for path in (root / "fer" / subpackage).glob("*.py")
            if not path.stem.startswith("_")
        }
        modules |= {
            path.name for path in (root / "fer" / subpackage).iterdir()
            if (path / "__init__.py").is_file()
        }
        missing = sorted(modules - entries.get(subpackage, set()))
        assert not missing, f"docs/architecture.md does not list fer.{subpackage}'s {missing}"
