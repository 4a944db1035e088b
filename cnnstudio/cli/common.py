"""What every command shares: the one-line user error, the parser that reports on one line,
argument types, and reading a network from a preset name, a graph file or a project."""

from __future__ import annotations

import argparse
import os
import shlex
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, NoReturn

from .. import fileio
from ..fileio import TEMP_SUFFIX, OutputRefused, check_output
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

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """Also refuses an empty value (``--input ''``, a PROJECT of ``''``): no option takes
        one, and an empty path would silently mean the current folder or the default."""
        parsed, rest = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            values = value if isinstance(value, list) else [value]
            if "" in values and value != action.default:
                name = "/".join(action.option_strings) or action.metavar or action.dest
                self.error(f"{name} needs a value, not an empty string")
        return parsed, rest


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
    if os.path.exists(path):  # False, not an OSError, for a name too long for the disk
        if os.path.isdir(path):
            raise CliError(f"{target} is a folder, not a graph file")
        try:
            if is_project_file(path):
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


def is_project_file(path: Path) -> bool:
    """Whether the file ``path`` holds a project (named .cnnproj, or a zip) rather than a graph;
    a CliError when it is no regular file (a FIFO would block the look, a device never end)."""
    from ..graph.userfile import FileRefused, open_regular
    from ..project.archive import MAX_FILE_BYTES

    try:
        with open_regular(path, MAX_FILE_BYTES, "graph or project file") as fh:
            return path.suffix == ".cnnproj" or zipfile.is_zipfile(fh)
    except FileRefused as exc:
        raise CliError(f"{path}: {exc}") from None
    except OSError as exc:
        raise CliError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def output_path(path: str | Path, option: str = "--out", temporary: str = TEMP_SUFFIX) -> Path:
    """The file a command writes for ``option``, checked before any work (fileio.check_output:
    a new name or a regular file in a folder that takes the save's temporary file; a symlink
    is followed); a one-line CliError naming ``option`` when it cannot be written."""
    try:
        return check_output(path, temporary)
    except OutputRefused as exc:
        raise CliError(f"{option} {path}: {exc}") from None


def check_room(path: Path, need: int, what: str, option: str = "--out") -> None:
    """A CliError, before any work, when ``path``'s disk has less than ``need`` bytes free."""
    try:
        fileio.check_room(path, need, what)
    except OutputRefused as exc:
        raise CliError(f"{option} {path}: {exc}") from None


def output_folder(path: str, option: str) -> Path:
    """A folder a command writes into (``--tensorboard DIR``), made now, before any work, so
    that a file, a device or a dangling link there is a one-line CliError rather than a
    failure after training."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        raise CliError(f"{option} {path}: it is not a folder; choose a folder") from None
    except OSError as exc:
        raise CliError(f"{option} {path}: cannot make that folder "
                       f"({exc.strerror or exc})") from None
    return Path(path)


CHECKPOINT_COPIES = 5
"""Copies of the weights a run adds to the project file until it ends: the last and the best
weights, and the checkpoint's own copy with up to two optimizer moments (Adam's)."""


def room_needed(project: Any, out: Path, source: Path, copies: int) -> int:
    """Bytes a save of ``project`` needs once a command added ``copies`` float32 copies of its
    weights (a run's last and best, a checkpoint's moments): the file it was read from (the
    larger of ``out`` and ``source``) plus those copies."""
    from ..graph import analyze

    sizes = [p.stat().st_size for p in (out, source) if p.is_file()]
    params = analyze(project.graph).total_params or 0
    return max(sizes, default=0) + copies * 4 * params


def project_out(path: str, force: bool) -> Path:
    """``--out`` of a command that writes a project: a ``.cnnproj`` that ``output_path``
    accepts, never overwritten unless ``--force``."""
    if Path(path).suffix != ".cnnproj":
        raise CliError(f"--out must be a .cnnproj file, not {Path(path).name!r}")
    out = output_path(path)
    if out.exists() and not force:
        raise CliError(f"{path} exists; pass --force to overwrite it")
    return out


def runs_out(out: str | None, project: str) -> Path:
    """Where ``train`` and ``sweep`` save the runs, checked by ``output_path`` before any work:
    ``--out``, else PROJECT itself, which must then be a project file (``project_file``)."""
    if out:
        return output_path(out)
    return output_path(project_file(project), "PROJECT")


def project_file(path: str | Path) -> Path:
    """``path`` when it is a regular file; else the CliError ``read_project`` gives for it
    (no such project file, it is a folder, it is not a regular file (a FIFO) ...)."""
    if not os.path.isfile(path):
        read_project(path)
    return Path(path)


def read_project(path: str | Path, shown: str | None = None) -> Any:
    """The project at ``path``; a one-line CliError (naming it as ``shown``, by default the
    path) when it is missing, not a regular file ("it is a folder") or cannot be read."""
    from ..project import ProjectError, load_project

    if not os.path.exists(path):  # a folder or a FIFO exists: load_project says what it is
        raise CliError(f"{shown or path}: no such project file")
    try:
        return load_project(path)
    except ProjectError as exc:
        raise CliError(str(exc)) from None


def write_project(project: Any, out: Path) -> None:
    from ..project import ProjectError, save_project

    try:  # a full disk, or another writer's change (project/ondisk.py): one line, exit 2
        save_project(project, out)
    except ProjectError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot save to {out}: {fileio.write_reason(exc, out)}") from None


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


@contextmanager
def hold_output(out: Path, args: argparse.Namespace) -> Iterator[None]:
    """Hold the lock of the project file ``out`` for a command's whole work, so that a second
    writer is refused at once, before any work, with a message naming this one."""
    from ..project import lock

    argv = getattr(args, "argv", None) or [getattr(args, "command", None) or "?"]
    held = ExitStack()
    try:
        held.enter_context(lock.hold(out, "cnnstudio " + shlex.join(argv),
                                     hint="wait for it to finish or pass --out another file"))
    except lock.LockedError as exc:
        raise CliError(str(exc)) from None
    with held:
        yield
