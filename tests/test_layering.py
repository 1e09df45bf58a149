"""The package's shape: no import cycles among fer's modules, function-level imports included.

The layers themselves (fer.cli -> training -> evaluation -> realtime -> sessions -> models ->
data -> core, the runtime never importing training, fer never importing Streamlit) are
import-linter contracts in pyproject.toml, checked by `lint-imports` in the test command; layers
cannot see a cycle between two modules of one subpackage, which this test does.
"""

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
