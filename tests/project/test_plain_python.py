"""DESIGN.md §1.1 and §3.5: the project package imports neither torch nor Qt, and nothing in
it can unpickle, eval, exec or import what a file names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cnnstudio

CHECK = """
import sys, tempfile, pathlib
from cnnstudio.graph import presets
from cnnstudio.project import Project, load_project, save_project
with tempfile.TemporaryDirectory() as folder:
    path = pathlib.Path(folder) / "p.cnnproj"
    save_project(Project(graph=presets.build("resnet18")), path)
    assert load_project(path).graph is not None
heavy = ('torch', 'torchvision', 'PySide6', 'pyqtgraph', 'pickle', 'safetensors', 'numpy')
print(','.join(sorted(m for m in heavy if m in sys.modules)))
"""


def test_project_package_imports_neither_torch_nor_qt_nor_pickle() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


ROOT = Path(cnnstudio.__file__).parent
FORBIDDEN_MODULES = {"pickle", "_pickle", "cPickle", "dill", "marshal", "shelve", "joblib",
                     "importlib", "runpy", "torch", "PySide6"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def _sources() -> list[Path]:
    return sorted((ROOT / "project").glob("*.py")) + [ROOT / "fileio.py"]


def test_no_pickle_eval_exec_or_dynamic_imports() -> None:
    problems = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    problems.append(f"{path.name}:{node.lineno} imports {name}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in FORBIDDEN_CALLS):
                problems.append(f"{path.name}:{node.lineno} calls {node.func.id}")
    assert problems == []
    assert len(_sources()) >= 6
