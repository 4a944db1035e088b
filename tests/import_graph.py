"""cnnstudio's import graph read from its source: every import statement of every module, at any
depth (an import inside a function still makes a dependency, and a circle that only works
because one side imports late is still a circle), except under ``if TYPE_CHECKING:``. The
engine's public face names its modules in a table (``_FACE``), read here as imports too."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cnnstudio"


@dataclass
class Imports:
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    """Module → cnnstudio module it imports (edges carry the line numbers)."""
    outside: dict[str, set[str]] = field(default_factory=dict)
    """Module → top-level names of the packages from outside cnnstudio it imports."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST):
    """Every import statement, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _face_modules(tree: ast.Module) -> list[str]:
    """The modules the engine's lazy face (``_FACE``/``_MODULES`` tables) imports."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and \
                node.target.id in ("_FACE", "_MODULES") and node.value is not None:
            found += [f"cnnstudio.engine.{v}" for v in ast.literal_eval(node.value).values()]
    return found


def read_imports() -> Imports:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    result = Imports()
    for module, path in modules.items():
        result.graph.add_node(module)
        result.outside[module] = set()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        for node in _statements(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "cnnstudio":
                        result.graph.add_edge(module, alias.name, line=node.lineno)
                    else:
                        result.outside[module].add(alias.name.split(".")[0])
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cnnstudio":
                result.outside[module].add(target.split(".")[0])
                continue
            for alias in node.names:
                name = f"{target}.{alias.name}"
                result.graph.add_edge(module, name if name in modules else target,
                                      line=node.lineno)
        if module == "cnnstudio.engine":
            for target in _face_modules(tree):
                result.graph.add_edge(module, target, line=0)
    return result


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """Each import circle, as the modules in it (a module importing itself counts)."""
    found = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    found += [[n] for n in graph if graph.has_edge(n, n)]
    return found
