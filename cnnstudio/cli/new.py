"""``cnnstudio new`` (DESIGN.md §3.3): a project from a preset, with its pretrained weights
(torchvision's, from torch's hub cache, or a weights file) and their preprocessing, a head for
the data's classes and, on request, the backbone frozen."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import engine
from ..graph import GraphError, analyze, presets
from ..project import ConfigError, TrainConfig
from ..project.data_source import BUILT_IN, FILE_SOURCES, dataset_fields
from ..project.options import with_options
from .common import (
    CliError,
    add_recipe_option,
    apply_recipe,
    download_bar,
    parse_shape,
    positive_int,
    project_out,
    write_project,
)


def add_parser(sub: Any) -> None:
    n = sub.add_parser(
        "new", help="make a project from a preset, with pretrained weights if asked",
        description="Make a project from a preset. With --weights its current weights are "
        "pretrained ones: torchvision's (DEFAULT or a version such as IMAGENET1K_V1, read from "
        "torch's hub cache under $TORCH_HOME and downloaded there when missing) or a "
        ".safetensors/.pth file; the weights' preprocessing becomes the data settings, and the "
        "head is replaced (every other tensor kept) when --classes differs.")
    n.add_argument("preset", metavar="PRESET", help="a preset name (`cnnstudio presets`)")
    n.add_argument("--out", metavar="PROJECT", required=True, help="the .cnnproj to write")
    n.add_argument("--weights", metavar="DEFAULT|NAME|FILE",
                   help="pretrained weights: DEFAULT, a torchvision version name or a "
                   ".safetensors/.pth file (default: random weights)")
    n.add_argument("--classes", metavar="N", type=positive_int,
                   help="number of classes (a new head when the weights have another number)")
    n.add_argument("--input", metavar="C,H,W",
                   help="per-sample input size (default: the weights' crop size, else the "
                   "preset's)")
    n.add_argument("--data", metavar="SPEC",
                   help=f"the dataset: {', '.join(BUILT_IN)}, folder:PATH or csv:PATH")
    n.add_argument("--freeze-backbone", action="store_true",
                   help="freeze every layer with weights except the head (needs --weights)")
    n.add_argument("--epochs", metavar="N", type=positive_int,
                   help="the project's training epochs (default 10)")
    add_recipe_option(n)
    n.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    n.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def data_spec(spec: str, out: Path) -> dict[str, Any]:
    """``--data``'s dataset fields; a folder or CSV path is kept relative to the project."""
    kind, sep, path = spec.partition(":")
    if not sep and spec not in BUILT_IN:
        raise CliError(f"--data expects {', '.join(BUILT_IN)}, folder:PATH or csv:PATH, "
                       f"not {spec!r}")
    if sep and (kind not in FILE_SOURCES or not path):
        raise CliError(f"--data expects folder:PATH or csv:PATH, not {spec!r}")
    try:
        return dataset_fields(kind if sep else spec, path or None, out.parent)
    except ConfigError as exc:
        raise CliError(f"--data {spec}: {exc}") from None


def cmd_new(args: argparse.Namespace) -> int:
    out = project_out(args.out, args.force)
    shape = parse_shape(args.input) if args.input else None
    data = data_spec(args.data, out) if args.data else {}
    if args.freeze_backbone and not args.weights:
        raise CliError("--freeze-backbone needs --weights (a random backbone is not worth "
                       "keeping fixed)")
    if args.weights:
        project = _pretrained(args, shape, data)
    else:
        project = _fresh(args.preset, args.classes, shape, data)
    if args.epochs:
        project.training = TrainConfig.from_dict(
            with_options("training", project.training.to_dict(), {"epochs": args.epochs}),
            "training")
    if args.recipe:
        apply_recipe(project, args.recipe)
    write_project(project, out)
    report = analyze(project.graph)
    weights = "pretrained weights" if args.weights else "random weights"
    print(f"{args.preset} → {out}: {len(project.graph.nodes)} layers, "
          f"{report.total_params:,} parameters ({report.trainable_params:,} trainable), "
          f"{weights}")
    for line in project.description.splitlines()[1:]:
        print(f"note: {line}")
    return 0


def _pretrained(args: argparse.Namespace, shape: list[int] | None,
                data: dict[str, Any]) -> Any:
    progress, bar = download_bar()
    try:
        return engine.pretrained_project(
            args.preset, args.weights, classes=args.classes, input_shape=shape, data=data,
            freeze_backbone=args.freeze_backbone, progress=progress)
    except engine.PretrainedError as exc:
        raise CliError(str(exc)) from None
    finally:
        bar.close()


def _fresh(name: str, classes: int | None, shape: list[int] | None,
           data: dict[str, Any]) -> Any:
    from ..project import DatasetConfig, Project

    options: dict[str, Any] = {}
    if shape is not None:
        options["input_shape"] = tuple(shape)
    if classes is not None:
        options["num_classes"] = classes
    try:
        graph = presets.build(name, **options)
        dataset = DatasetConfig.from_dict(data, "dataset")
    except presets.PresetError as exc:
        raise CliError(str(exc)) from None
    except (ValueError, GraphError, ConfigError) as exc:
        raise CliError(f"preset {name}: {exc}") from None
    return Project(name=name, graph=graph, dataset=dataset,
                   description=f"Preset {name}, random weights.")
