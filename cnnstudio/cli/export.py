"""``cnnstudio export`` and ``cnnstudio import`` (DESIGN.md §3.3): every export is verified
against the model it came from before it is reported; an import becomes a project."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .. import engine
from .common import (
    CliError,
    check_room,
    download_bar,
    is_project_file,
    load_target,
    output_path,
    parse_shape,
    positive_int,
    project_out,
    write_project,
)

FORMAT_NAMES = ("onnx", "torchscript", "pt2", "safetensors", "pth", "python")


def add_parsers(sub: Any) -> None:
    e = sub.add_parser(
        "export", help="export a model to ONNX, TorchScript, torch.export, weights or code",
        description="Export a project's model (its trained weights) or a preset (fresh "
        "weights, seed 0) and verify the result against the model at batch 1 and 3 before "
        "reporting it. Exit status 1 when verification fails (nothing is written then).")
    e.add_argument("target", metavar="PROJECT_OR_PRESET",
                   help="a .cnnproj project, a graph JSON file or a preset name")
    e.add_argument("--format", required=True, choices=FORMAT_NAMES,
                   help="onnx, torchscript (legacy), pt2 (torch.export), safetensors, pth "
                   "(state_dict) or python (source code + safetensors weights)")
    e.add_argument("--out", metavar="PATH", help="the file to write (default: the target's "
                   "name with the format's suffix, in the current folder)")
    e.add_argument("--input", metavar="C,H,W", help="per-sample input size to export at")
    e.add_argument("--classes", metavar="N", type=positive_int,
                   help="number of classes (presets and graph files only)")
    e.add_argument("--opset", type=int, default=18, metavar="N", help="ONNX opset (default 18)")
    e.add_argument("--static-batch", action="store_true",
                   help="fix the batch size at 1 (default: any batch size)")
    e.add_argument("--weights", metavar="MEMBER",
                   help="which of the project's weights (default: the current ones)")
    e.add_argument("--training-script", action="store_true",
                   help="with --format python and a project: also write train.py that "
                   "reproduces the project's dataset and training settings")
    e.add_argument("--json", action="store_true", help="print the result as one JSON object")
    e.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    i = sub.add_parser(
        "import", help="import a torchvision or timm model, an ONNX file or a Python model as a "
        "project",
        description="Turn a model made elsewhere into an editable project with its weights: "
        "a torchvision classification model by name (torchvision:resnet18; random weights "
        "unless --weights), a timm model by name (timm:resnet18d, needs pip install "
        "'cnnstudio[timm]'; random weights unless --pretrained), "
        "an ONNX file, or an nn.Module in a Python file (this runs the file's code: only with "
        "--trust-code).")
    i.add_argument("source", metavar="SOURCE",
                   help="torchvision:NAME (or a torchvision model name), timm:NAME, FILE.onnx "
                   "or FILE.py")
    i.add_argument("--out", metavar="PROJECT", required=True, help="the .cnnproj to write")
    i.add_argument("--input", metavar="C,H,W",
                   help="per-sample input size (torchvision, timm and Python; default: the "
                   "model's own, else 3,224,224)")
    i.add_argument("--classes", metavar="N", type=positive_int,
                   help="number of classes (torchvision and timm models)")
    i.add_argument("--weights", metavar="DEFAULT|NAME",
                   help="torchvision models: their pretrained weights (DEFAULT or a version "
                   "such as IMAGENET1K_V1), from torch's hub cache, downloaded when missing")
    i.add_argument("--pretrained", action="store_true",
                   help="timm models: their pretrained weights (a tag such as "
                   "timm:resnet18.a1_in1k picks a version), from the Hugging Face cache, "
                   "downloaded when missing")
    i.add_argument("--name", metavar="NAME",
                   help="Python files: the nn.Module class or the function that builds it")
    i.add_argument("--trust-code", action="store_true",
                   help="allow importing a Python file, which runs its code")
    i.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    i.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


# -- export ------------------------------------------------------------------------------------
def _load_source(args: argparse.Namespace) -> tuple[Any, Any, Any, str]:
    """(graph, state or None, project or None, description) of the export's target."""
    from ..project import ProjectError, load_project

    path = Path(args.target)
    if os.path.exists(path) and not os.path.isdir(path) and is_project_file(path):
        if args.classes is not None:
            raise CliError("--classes cannot change a project's trained classifier; edit the "
                           "project in the window instead")
        try:
            project = load_project(path)
            state = engine.project_state(project, args.weights)
        except (ProjectError, engine.InferenceError) as exc:
            raise CliError(str(exc)) from None
        if state is None:
            print(f"cnnstudio: note: {args.target} has no trained weights; exporting fresh "
                  "ones (seed 0)", file=sys.stderr)
        return project.graph, state, project, f"project {args.target}"
    if args.weights:
        raise CliError("--weights needs a project file")
    graph, source = load_target(args.target, None, args.classes)
    return graph, None, None, source


def cmd_export(args: argparse.Namespace) -> int:
    if args.training_script and args.format != "python":
        raise CliError("--training-script goes with --format python")
    fmt = engine.FORMATS[args.format]
    out = _check_outputs(args, fmt)
    graph, state, project, source = _load_source(args)
    if args.training_script and project is None:
        raise CliError("--training-script needs a project (its dataset and training settings)")
    shape = parse_shape(args.input) if args.input else None
    try:
        graph, model = engine.model_to_export(graph, state, shape)
    except engine.InferenceError as exc:
        raise CliError(str(exc), 1) from None
    except engine.GraphBuildError as exc:  # too large for this machine: refused before building
        raise CliError(f"cannot export: {exc}") from None
    from ..engine.build import check_memory
    from ..graph import analyze

    analysis = analyze(graph)
    input_shape = analysis.input_shape
    try:  # the check runs the model and the file's copy of it at batch 3, before writing
        check_memory(graph, analysis, batch=1 if args.static_batch else 3, copies=2)
    except engine.GraphBuildError as exc:
        raise CliError(f"cannot export: {exc}") from None
    # every format holds the float32 weights, plus the graph (a megabyte is ample for it)
    check_room(out, 4 * (analysis.total_params or 0) + 2**20, "the exported model")
    try:
        result = engine.export_model(model, input_shape, args.format, out, graph=graph,
                                     opset=args.opset, dynamic_batch=not args.static_batch)
    except engine.ExportError as exc:
        report = _keep_report(out, exc.report)
        raise CliError(f"{exc}{f' (the exporter report is in {report})' if report else ''}",
                       1) from None
    paths = list(result.paths)
    if args.training_script:
        paths.append(_write_training_script(project, out))
    if args.json:
        print(json.dumps({"format": result.format, "source": source,
                          "paths": [str(p) for p in paths], "max_abs": result.max_abs,
                          "max_rel": result.max_rel, "batches": list(result.batches),
                          "opset": result.opset, "seconds": round(result.seconds, 3)}))
    else:
        print(result.summary())
        for extra in paths[len(result.paths):]:
            print(f"training script: {extra}")
        print(f"max abs difference: {result.max_abs:.3g}")
    return 0


STAGING_SUFFIX = ".export"
"""The exporter's staging folder beside the file, ``.NAME.XXXXXXXX.export``: the longest name
an export writes there (engine/export/exporter.py ``_staging``)."""


def _check_outputs(args: argparse.Namespace, fmt: Any) -> Path:
    """``--out`` (by default the target's name with the format's suffix) and the files written
    beside it, checked before any work (``output_path``); the file to write."""
    out = output_path(args.out or Path(args.target).stem + fmt.suffix, temporary=STAGING_SUFFIX)
    beside = {"python": [out.with_suffix(".safetensors")],
              "onnx": [out.with_name(out.name + ".data")]}.get(fmt.name, [])
    if args.training_script:
        beside.append(out.with_name("train.py"))
    for path in beside:
        output_path(path, "beside --out:")
    return out


def _keep_report(out: Path, report: str) -> Path | None:
    """The exporter's own report beside the file that was not written (None: no report or
    no room for it, or a name taken by what is no regular file)."""
    from ..fileio import atomic_write

    if not report.strip():
        return None
    try:
        path = output_path(out.with_name(out.name + ".export-report.txt"))
        atomic_write(path, (report.rstrip("\n") + "\n").encode("utf-8"))
    except (CliError, OSError):
        return None
    return path


def _write_training_script(project: Any, out: Path) -> Path:
    from ..fileio import atomic_write

    path = out.with_name("train.py")
    text = engine.training_script(project, model_file=out.name,
                                  weights_file=out.with_suffix(".safetensors").name)
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


# -- import ------------------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    out = project_out(args.out, args.force)
    imported, name, info = _import(args)
    project = engine.imported_project(imported, name, info)
    write_project(project, out)
    from ..graph import analyze

    report = analyze(project.graph)
    print(f"{imported.source} → {out}: {len(project.graph.nodes)} layers, "
          f"{report.total_params:,} parameters")
    for note in imported.notes:
        print(f"note: {note}")
    return 0


def _import(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """(the imported model, the project's name, the pretrained weights' info or None)."""
    shape = parse_shape(args.input) if args.input else None
    source = args.source
    path = Path(source)
    is_timm = source.startswith("timm:")
    is_torchvision = source.startswith("torchvision:") or (
        not is_timm and not path.suffix and not os.path.exists(path))
    if args.weights and not is_torchvision:
        raise CliError("--weights goes with torchvision:NAME" +
                       (" (timm models take --pretrained)" if is_timm else ""))
    if args.pretrained and not is_timm:
        raise CliError("--pretrained goes with timm:NAME" +
                       (" (torchvision models take --weights DEFAULT)" if is_torchvision else ""))
    try:
        if is_timm:
            name = source.removeprefix("timm:")
            return _import_timm(name, args.pretrained, args.classes, shape), name, None
        if is_torchvision:
            name = source.removeprefix("torchvision:")
            imported, info = _import_torchvision(name, args.weights, args.classes, shape)
            return imported, name, info
        if not os.path.isfile(path):
            raise CliError(f"{source}: no such file")
        if path.suffix.lower() == ".onnx":
            return engine.from_onnx(path), path.stem, None
        if path.suffix.lower() == ".py":
            if not args.trust_code:
                raise CliError(f"importing {path.name} runs its code; pass --trust-code if you "
                               "trust it")
            return engine.from_python_file(path, args.name, shape or [3, 224, 224]), \
                path.stem, None
        raise CliError(f"{source}: expected torchvision:NAME, timm:NAME, a .onnx or a .py "
                       "file")
    except engine.ModelImportError as exc:
        raise CliError(str(exc), 1) from None
    except engine.PretrainedError as exc:
        raise CliError(str(exc)) from None


def _import_torchvision(name: str, weights: str | None, classes: int | None,
                        shape: list[int] | None) -> tuple[Any, Any]:
    """(the imported model, its pretrained weights' info or None)."""
    if weights is None:
        return engine.from_torchvision(name, num_classes=classes, input_shape=shape), None
    info = engine.pretrained.resolve(name, weights)
    progress, bar = download_bar()
    try:
        return engine.from_torchvision(name, num_classes=classes, input_shape=shape,
                                       weights=info, progress=progress), info
    finally:
        bar.close()


def _import_timm(name: str, pretrained: bool, classes: int | None,
                 shape: list[int] | None) -> Any:
    """The imported timm model, its pretrained weights downloaded with a bar when missing."""
    if not pretrained:
        return engine.from_timm(name, num_classes=classes, input_shape=shape)
    progress, bar = download_bar()
    try:
        return engine.from_timm(name, pretrained=True, num_classes=classes,
                                input_shape=shape, progress=progress)
    finally:
        bar.close()
