"""The screenshots of docs/guide.md's "Activation functions and initialisation":

    QT_QPA_PLATFORM=offscreen python docs/make_lab_init_screenshots.py [--check FOLDER]

docs/images/init-lab.png: Tools ▸ Initialisation lab on a plain deep CNN (twelve 3×3
convolutions with ReLU, no BatchNorm: where the scheme matters most) fed one batch of the
digits, He/Kaiming's histograms shown. docs/images/activation-plot.png: the Inspector with
LeNet-5's first Tanh selected, its curve, slope and saturated regions. ``--check FOLDER``
writes both in the light and the dark theme there instead, to look at. A minute or so on a
laptop's CPU; settings go to a temporary folder, so nothing of yours is used.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).parent / "images"


def plain_cnn():
    """Input 1×32×32 → 3 stages × 4 × [Conv 3×3, 32 filters → ReLU], max pooling between
    the stages → global average pooling → 10 scores."""
    from cnnstudio.graph.presets.builder import Builder

    b = Builder((1, 32, 32))
    x = b.input
    for stage in range(3):
        with b.scope(f"stage{stage + 1}", f"Stage {stage + 1}: 4 × [CONV → RELU]"):
            for i in range(4):
                x = b.add("Conv2d", f"conv{i + 1}", x, out_channels=32, kernel_size=3,
                          padding=1)
                x = b.add("ReLU", f"relu{i + 1}", x)
        if stage < 2:
            x = b.add("MaxPool2d", f"pool{stage + 1}", x, kernel_size=2)
    x = b.add("AdaptiveAvgPool2d", "gap", x, output_size=1)
    x = b.add("Flatten", "flatten", x)
    b.add("Linear", "fc", x, out_features=10)
    return b.graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path, metavar="FOLDER",
                        help="write light and dark pictures here instead of docs/images")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from cnnstudio.app import preferences
    from cnnstudio.app.initlab import open_initlab
    from cnnstudio.app.style import apply_theme
    from cnnstudio.project import Project

    preferences.use_folder(Path(tempfile.mkdtemp()) / "settings")
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    pump(300)
    themes = ("light", "dark") if args.check else ("light",)
    folder = args.check or HERE
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(widget, name: str) -> None:
        for theme in themes:
            apply_theme(theme)
            pump(400)
            path = folder / (f"{name}-{theme}.png" if args.check else f"{name}.png")
            widget.grab().save(str(path))
            print("wrote", path)
        apply_theme("light")
        pump(200)

    window.open_project(Project(name="Plain 12-layer CNN", graph=plain_cnn()), None)
    pump(300)
    lab = open_initlab(window)
    lab.resize(1180, 860)
    lab.batch.setValue(16)
    assert lab.run(), lab.status.text()
    while lab.running:
        pump(200)
    assert lab.runs, lab.status.text()
    shoot(lab, "init-lab")
    lab.close()

    window.new_from_preset("lenet5")
    pump(300)
    dock = window.docks["Inspector"]
    dock.raise_()
    window.resizeDocks([dock], [360], Qt.Orientation.Horizontal)
    for name in ("Summary", "Problems"):  # below the Inspector: its whole height for it
        window.docks[name].hide()
    window.document.select(["features.c1_act"])
    plot = window.inspector.page.activation
    while plot.curve is None:
        pump(100)
    pump(300)
    shoot(dock, "activation-plot")
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main()
