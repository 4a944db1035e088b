"""The import contracts of DESIGN.md §1-2 and docs/architecture.md, read from the source (every
import statement, including those inside functions): which way dependencies point, where Qt
and torch may be imported, and no import circle anywhere in cnnstudio."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.import_graph import PACKAGE, cycles, read_imports

QT = {"PySide6", "shiboken6", "pyqtgraph"}
TORCH = {"torch", "torchvision", "onnx", "onnxruntime", "onnxscript", "safetensors", "timm"}
LAYERS = ("graph", "project", "engine", "cli", "app")
# Which packages each may import: graph ← project ← engine ← cli / app (app never cli).
ALLOWED = {
    "graph": {"graph", "fileio"},
    "project": {"graph", "project", "fileio"},
    "engine": {"graph", "project", "engine", "fileio", "machine"},
    "cli": {"graph", "project", "engine", "cli", "app", "fileio", "machine"},
    "app": {"graph", "project", "engine", "app", "fileio", "machine"},
}


@pytest.fixture(scope="module")
def imports():
    return read_imports()


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _violations(imports, layer: str, forbidden: set[str]) -> list[str]:
    return sorted(f"{m} imports {name}" for m, names in imports.outside.items()
                  if _layer(m) == layer for name in names & forbidden)


def test_the_graph_is_read_from_every_module(imports):
    modules = set(imports.graph)
    assert len(modules) == len(list(PACKAGE.rglob("*.py")))
    # the reader sees imports made inside functions, and the engine's lazy face
    assert imports.graph.has_edge("cnnstudio.cli.main", "cnnstudio.app.main")
    assert imports.graph.has_edge("cnnstudio.engine", "cnnstudio.engine.training.session")


@pytest.mark.parametrize("layer", ["graph", "project"])
def test_the_core_imports_neither_torch_nor_qt(imports, layer):
    assert _violations(imports, layer, QT | TORCH) == []


def test_the_engine_imports_no_qt(imports):
    assert _violations(imports, "engine", QT) == []


@pytest.mark.parametrize("layer", LAYERS)
def test_dependencies_point_one_way(imports, layer):
    wrong = sorted(f"{src} imports {dst} (line {data['line']})"
                   for src, dst, data in imports.graph.edges(data=True)
                   if _layer(src) == layer and _layer(dst) is not None
                   and _layer(dst) not in ALLOWED[layer])
    assert wrong == []


def test_no_module_is_in_an_import_circle(imports):
    assert cycles(imports.graph) == []


def test_the_circle_check_finds_a_circle(imports):
    graph = imports.graph.copy()
    graph.add_edge("cnnstudio.engine.data.errors", "cnnstudio.engine.data.load")
    assert any({"cnnstudio.engine.data.errors", "cnnstudio.engine.data.load"} <= set(circle)
               for circle in cycles(graph))
    graph = imports.graph.copy()
    graph.add_edge("cnnstudio.fileio", "cnnstudio.fileio")
    assert ["cnnstudio.fileio"] in cycles(graph)


def test_the_engine_face_imports_nothing_until_a_name_is_used():
    code = ("import sys\nfrom cnnstudio import engine\n"
            "before = 'torch' in sys.modules\n"
            "engine.to_module\n"
            "print(before, 'torch' in sys.modules, sorted(engine.__all__) == engine.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_every_name_of_the_engine_face_resolves():
    from cnnstudio import engine

    missing = [name for name in engine.__all__ if getattr(engine, name, None) is None]
    assert missing == []
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        engine.nothing  # noqa: B018


def test_the_engine_has_few_loose_files():
    loose = sorted(p.name for p in (PACKAGE / "engine").glob("*.py"))
    assert len(loose) <= 8, loose


def test_every_path_in_the_architecture_map_exists():
    """docs/architecture.md stays true to the tree: each file or folder it names is there."""
    import re

    root = PACKAGE.parent
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:cnnstudio/|tests/|benchmarks/|docs/|app/|engine/|project/|"
                           r"graph/|cli/)[\w/.]*)`", text))
    assert len(named) > 30
    missing = [p for p in sorted(named)
               if not any((base / p).exists()
                          for base in (root, PACKAGE, PACKAGE / "engine"))]
    assert missing == []
