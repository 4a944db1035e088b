"""The Gradients panel for docs/guide.md ("Gradient flow while training"), from real runs on
this machine's CPU (half a minute):

    QT_QPA_PLATFORM=offscreen python docs/make_gradflow_screenshots.py [--check FOLDER]

Trains two plain networks of the same depth on the digits for three epochs, twelve Linear
layers each, one with Sigmoid after every layer and one with ReLU and He initialisation, and
shows each run's gradient samples in a Gradients panel, one above the other:
docs/images/gradient-flow.png. The sigmoid stack's first layers get gradients many orders of
magnitude smaller than its last (the warning says which); the ReLU stack's gradient reaches the
input. ``--check FOLDER`` writes the picture in the light and the dark theme there instead, to
look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

HERE = Path(__file__).parent / "images"
DEPTH = 12
SHAPE = (1, 8, 8)  # the digits as they are: the runs take seconds


def plain_stack(activation: str, init: str | None) -> object:
    from cnnstudio.graph import load_graph

    nodes = [{"id": "input", "type": "Input", "params": {"shape": list(SHAPE)}},
             {"id": "flatten", "type": "Flatten"}]
    for i in range(1, DEPTH + 1):
        nodes += [{"id": f"fc{i}", "type": "Linear", "params": {"out_features": 64}},
                  {"id": f"act{i}", "type": activation}]
    nodes.append({"id": "head", "type": "Linear", "params": {"out_features": 10}})
    graph = load_graph({"format": "cnnstudio.graph", "version": 1, "nodes": nodes})
    if init is not None:
        graph.set_init({"scheme": init})
    return graph


NETWORKS = (("Sigmoid", None, f"{DEPTH} Linear layers, each followed by Sigmoid (torch's "
                                "default initialisation)"),
            ("ReLU", "kaiming_normal", f"The same {DEPTH} layers with ReLU and He (Kaiming) "
                                       "initialisation"))


def trained(activation: str, init: str | None, data: object) -> tuple[object, list]:
    """A three-epoch run of the stack: its project and its GradientSample events."""
    from cnnstudio.engine.training.gradflow import GradientSample
    from cnnstudio.engine.training.trainer import Trainer
    from cnnstudio.project import Project, TrainConfig

    project = Project()
    project.graph = plain_stack(activation, init)
    config = TrainConfig.from_dict({"epochs": 3, "batch_size": 32, "device": "cpu",
                                    "optimizer": {"name": "sgd", "lr": 0.05,
                                                  "momentum": 0.9}}, "training")
    events = Trainer(project.graph, config, data).run()
    return project, [e for e in events if isinstance(e, GradientSample)]


def page(runs: list[tuple[str, object, list]]) -> QWidget:
    """The runs' Gradients panels, each under its caption, fed with the samples as the
    controller's signal feeds them (made in the theme shown: muted labels keep theirs)."""
    from cnnstudio.app.document import Document
    from cnnstudio.app.training.controller import TrainingController
    from cnnstudio.app.training.gradients import GradientFlowView

    widget = QWidget()
    layout = QVBoxLayout(widget)
    views = []
    for caption, project, samples in runs:
        doc = Document(project)
        view = GradientFlowView(doc, TrainingController(doc), widget)
        for sample in samples:
            view.add_sample(sample)
        layout.addWidget(QLabel(f"<b>{caption}</b>"))
        layout.addWidget(view, 1)
        views.append(view)
    widget.resize(1200, 1000)
    widget.show()
    pump(500)
    for view in views:
        view.flush()
    pump(300)
    return widget


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", type=Path, help="write light and dark pictures here")
    args = parser.parse_args()
    app = QApplication([])
    import torch

    from cnnstudio.app.style import apply_theme
    from cnnstudio.engine.data.load import load_data
    from cnnstudio.project import DatasetConfig

    data = load_data(DatasetConfig(source="digits", val_fraction=0.2), SHAPE,
                     torch.device("cpu"))
    runs = [(caption, *trained(activation, init, data)) for activation, init, caption in NETWORKS]
    themes = ("light", "dark") if args.check is not None else ("light",)
    for theme in themes:
        apply_theme(theme)
        pump(200)
        shown = page(runs)
        if args.check is not None:
            args.check.mkdir(parents=True, exist_ok=True)
            path = args.check / f"gradient-flow-{theme}.png"
        else:
            path = HERE / "gradient-flow.png"
        shown.grab().save(str(path))
        print("wrote", path)
        shown.close()
    apply_theme("light")
    app.quit()


if __name__ == "__main__":
    main()
