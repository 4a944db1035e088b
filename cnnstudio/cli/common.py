"""What every command shares: the one-line user error, the parser that reports on one line,
argument types, and reading a network from a preset name, a graph file or a project."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any, NoReturn

from ..graph import GraphError, edits, load_graph, presets
from ..graph.edits import set_input_shape, set_num_classes
from ..project import load_project


class CliError(Exception):
    """A user error: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse with errors on one line (usage stays behind --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


def parse_shape(text: str) -> list[int]:
    """``--input``'s shape, or a CliError."""
    shape = edits.parse_shape(text)
    if shape is None:
        raise CliError(f"--input expects C,H,W with positive integers, e.g. 3,224,224, not "
                       f"{text!r}")
    return shape


def load_target(target: str, input_shape: list[int] | None, classes: int | None):
    """A graph from a preset name or a graph file, with the shape and classes asked for."""
    path = Path(target)
    if path.exists():
        if path.is_dir():
            raise CliError(f"{target} is a folder, not a graph file")
        try:
            if zipfile.is_zipfile(path) or path.suffix == ".cnnproj":
                graph, source = load_project(path).graph, f"project {target}"
            else:
                graph, source = load_graph(path), f"graph file {target}"
            if input_shape is not None:
                set_input_shape(graph, input_shape)
            if classes is not None:
                set_num_classes(graph, classes)
        except (GraphError, ValueError) as exc:
            raise CliError(str(exc)) from None
        return graph, source
    if any(sep in target for sep in "/\\") or target.endswith((".json", ".cnnproj")):
        raise CliError(f"{target}: no such file")
    options: dict[str, Any] = {}
    if input_shape is not None:
        options["input_shape"] = tuple(input_shape)
    if classes is not None:
        options["num_classes"] = classes
    try:
        return presets.build(target, **options), f"preset {target}"
    except presets.PresetError as exc:
        raise CliError(str(exc)) from None
    except (ValueError, GraphError) as exc:
        raise CliError(f"preset {target}: {exc}") from None


def project_out(path: str, force: bool) -> Path:
    """``--out`` of a command that writes a project: a ``.cnnproj`` in an existing folder,
    never overwritten unless ``--force``."""
    out = Path(path)
    if out.suffix != ".cnnproj":
        raise CliError(f"--out must be a .cnnproj file, not {out.name!r}")
    if out.exists() and not force:
        raise CliError(f"{out} exists; pass --force to overwrite it")
    if not out.parent.is_dir():
        raise CliError(f"{out.parent} is not a folder")
    return out


def read_project(path: str | Path, shown: str | None = None) -> Any:
    """The project at ``path``; a one-line CliError (naming it as ``shown``, by default the
    path) when it is not a file or cannot be read."""
    from ..project import ProjectError, load_project

    if not Path(path).is_file():
        raise CliError(f"{shown or path}: no such project file")
    try:
        return load_project(path)
    except ProjectError as exc:
        raise CliError(str(exc)) from None


def write_project(project: Any, out: Path) -> None:
    from ..project import save_project

    try:
        save_project(project, out)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None


def download_bar() -> tuple[Any, Any]:
    """A progress callback for pretrained-weight downloads (MB on a bar on stderr) and the
    bar, to close when done."""
    from .progress import Bar

    bar = Bar()

    def progress(done: int, total: int | None) -> None:
        mb = 1 << 20
        bar.update("downloading weights", done // mb, total // mb if total else None, "MB",
                   force=done == total)

    return progress, bar


def add_recipe_option(parser: argparse.ArgumentParser) -> None:
    """``--recipe``, shared by ``new`` and ``train``."""
    from ..project.recipes import RECIPES, THREE_PHASE_HELP

    parser.add_argument("--recipe", choices=sorted(RECIPES),
                        help="a training recipe worked out from the network and the epochs; "
                        "three-phase: " + THREE_PHASE_HELP.replace("%", "%%"))


def apply_recipe(project: Any, name: str) -> None:
    """Apply recipe ``name`` to ``project`` (the window's recipe button makes the same
    changes) and say what the run will do; a recipe that does not fit is a CliError."""
    from ..project.recipes import RECIPES, RecipeError, apply

    try:
        recipe = RECIPES[name](project.graph, project.training.epochs)
    except RecipeError as exc:
        raise CliError(f"--recipe {name}: {exc}") from None
    apply(project, recipe)
    for line in recipe.text.splitlines():
        print(f"recipe: {line}")
