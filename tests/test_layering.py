"""The package's layering (STYLE.md): lower layers never import higher ones; fer never imports
streamlit. Every module must be placed in a layer here, so a new module forces a decision."""

import ast
from pathlib import Path

import pytest

FER_DIR = Path(__file__).resolve().parent.parent / "fer"
LAYERS = {
    0: {"config", "emotions", "metrics", "imbalance"},
    1: {"preprocess"},
    2: {
        "data",
        "models",
        "faces",
        "landmarks",
        "smoothing",
        "tracking",
        "session",
        "session_records",
        "session_recorder",
        "plots",
        "eda",
        "inference",
        "replay",
        "overlay",
    },
    3: {
        "pipeline",
        "train",
        "distill",
        "run_state",
        "evaluate",
        "cluster",
        "compare",
        "bench",
        "peer",
        "bench_video",
        "modelcard",
        "video",
        "reports",
        "upload",
        "soup",
        "calibration",
    },
}
RANK = {module: rank for rank, modules in LAYERS.items() for module in modules}
MODULES = sorted(path.stem for path in FER_DIR.glob("*.py") if path.stem != "__init__")


def _imports(module: str) -> set[str]:
    tree = ast.parse((FER_DIR / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "fer":
                names.update(f"fer.{alias.name}" for alias in node.names)
    return names


def test_every_module_has_a_layer():
    assert set(MODULES) <= set(RANK), sorted(set(MODULES) - set(RANK))


@pytest.mark.parametrize("module", MODULES)
def test_no_upward_imports_and_no_streamlit(module):
    imported = _imports(module)
    assert not {
        name for name in imported if name.split(".")[0] in ("streamlit", "streamlit_webrtc")
    }
    for name in imported:
        parts = name.split(".")
        if parts[0] == "fer" and len(parts) > 1 and parts[1] in RANK:
            assert RANK[parts[1]] <= RANK[module], f"fer.{module} imports higher-layer {name}"
