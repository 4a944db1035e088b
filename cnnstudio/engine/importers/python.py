"""Building a model from the user's own Python file. This RUNS the file's code: callers ask the
user first (``--trust-code``, a warning dialog)."""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType

from torch import nn

from .common import ModelImportError, one_line

BUILD_FUNCTION = "build_model"
"""The function picked when no name is given and the file defines one."""


def _load(path: Path) -> ModuleType:
    """Import the file as a fresh module under a unique name (its code runs here)."""
    if not os.path.isfile(path):
        raise ModelImportError(f"no such file: {path}")
    mod_name = f"cnnstudio_user_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ModelImportError(f"{path.name} cannot be imported as Python (use a .py file)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and typing look the module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
        sys.modules.pop(mod_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ModelImportError(f"{path.name} failed to import: {one_line(exc)}") from None
    return module


def candidates(module: ModuleType) -> tuple[list[str], list[str]]:
    """The nn.Module subclasses and the public functions that the file itself defines
    (imported names are not offered)."""
    classes, functions = [], []
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__ or name.startswith("_"):
            continue
        if inspect.isclass(obj) and issubclass(obj, nn.Module):
            classes.append(name)
        elif inspect.isfunction(obj):
            functions.append(name)
    return classes, functions


def _choose(path: Path, classes: list[str], functions: list[str]) -> str:
    if BUILD_FUNCTION in functions:
        return BUILD_FUNCTION
    if len(classes) == 1:
        return classes[0]
    if not classes:
        raise ModelImportError(f"{path.name} defines no torch.nn.Module subclass and no "
                               f"{BUILD_FUNCTION}() function")
    raise ModelImportError(f"{path.name} defines several models ({', '.join(classes)}): "
                           f"choose one, or add a {BUILD_FUNCTION}() function")


def build(path: str | Path, name: str | None) -> tuple[nn.Module, str, str]:
    """Run the file and build its model: (module, the name used, the file's module name,
    which the caller drops from ``sys.modules`` when done with ``drop``).

    ``name`` is a class (built with no arguments) or a function returning a module; None picks
    ``build_model()``, else the one nn.Module subclass the file defines."""
    path = Path(path)
    module = _load(path)
    try:
        classes, functions = candidates(module)
        if not name:
            name = _choose(path, classes, functions)
        obj = getattr(module, name, None)
        if obj is None:
            offer = classes + functions
            known = f"; it defines {', '.join(offer)}" if offer else \
                "; it defines no nn.Module subclass or function"
            raise ModelImportError(f"{path.name} has no {name!r}{known}")
        is_class = inspect.isclass(obj)
        if is_class and not issubclass(obj, nn.Module):
            raise ModelImportError(f"{path.name}: {name} is a class but not a torch.nn.Module")
        if not is_class and not callable(obj):
            raise ModelImportError(f"{path.name}: {name} is neither a class nor a function")
        try:
            model = obj()
        except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            hint = f" (add a {BUILD_FUNCTION}() function that passes its arguments)" \
                if is_class else ""
            raise ModelImportError(f"{path.name}: {name}() failed: {one_line(exc)}{hint}") \
                from None
        if not isinstance(model, nn.Module):
            raise ModelImportError(f"{path.name}: {name}() returned {type(model).__name__}, "
                                   "not a torch.nn.Module")
    except BaseException:
        drop(module.__name__)
        raise
    return model, name, module.__name__


def drop(module_name: str) -> None:
    """Forget the user's module once its model is imported."""
    sys.modules.pop(module_name, None)
