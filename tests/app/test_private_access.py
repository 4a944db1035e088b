"""DESIGN.md §7 ("to avoid: reaching into another class's private members"): no module of the
window reads an underscore attribute of anything but ``self``, ``cls`` or ``super()``; what one
object needs of another is a public method (e.g. MainWindow.add_dock, open_project)."""

from __future__ import annotations

import ast
from pathlib import Path

import cnnstudio

APP = Path(cnnstudio.__file__).parent / "app"


def private_reads(source: str) -> list[tuple[int, str]]:
    """(line, expression) of each ``x._name`` where x is not self, cls or super()."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) \
                and owner.func.id == "super":
            continue
        hits.append((node.lineno, ast.unparse(node)))
    return sorted(hits)


def test_the_scan_finds_what_it_looks_for() -> None:
    source = ("self._a; cls._b; super()._c; x.__dict__\n"
              "w._load(p)\nself.window._action\nf()._g\n")
    assert private_reads(source) == [(2, "w._load"), (3, "self.window._action"),
                                     (4, "f()._g")]


def test_no_window_module_reads_another_objects_private_members() -> None:
    files = sorted(APP.rglob("*.py"))
    assert len(files) > 20
    found = [f"{path.relative_to(APP)}:{line}: {expr}" for path in files
             for line, expr in private_reads(path.read_text(encoding="utf-8"))]
    assert found == []


def test_only_the_document_pushes_onto_the_undo_stack() -> None:
    """Every edit goes through a Document method, with its lock check and its signal."""
    pushers = sorted(str(path.relative_to(APP)) for path in APP.rglob("*.py")
                     if ".push(" in path.read_text(encoding="utf-8"))  # any stack, any name
    assert pushers == ["document.py"]
