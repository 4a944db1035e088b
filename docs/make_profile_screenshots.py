"""Screenshots of the measured latency for docs/guide.md ("Where the time goes"), from real
measurements on this machine's CPU (a minute or so):

    QT_QPA_PLATFORM=offscreen python docs/make_profile_screenshots.py [--check FOLDER]

Opens LeNet-5 in the window (Design workspace), measures it from the Summary and writes
docs/images/profile-summary.png (the Summary with its ms and share columns and the module's
and ONNX file's figures); then ResNet-18 for 3×64×64 inputs, measured, with View ▸ Latency
heat map on: docs/images/profile-heatmap.png (the canvas). ``--check FOLDER`` writes the whole
window for both networks in the light and the dark theme there instead, to look at. Settings
go to a temporary folder, so nothing of yours is used.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtWidgets import QApplication, QWidget

HERE = Path(__file__).parent / "images"


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print("wrote", path)


def measure(window: QWidget, preset: str, options: dict) -> None:
    """Open ``preset`` and measure it from the Summary (CPU, batch 1), waiting for the job."""
    from cnnstudio.app import workers

    window.new_from_preset(preset, options)
    pump(400)
    summary = window.summary
    assert summary.measure(), summary.latency.text()
    workers.wait_all(300_000)
    pump(300)
    assert window.view.graph_scene.profiles.profile is not None, summary.latency.text()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", type=Path, help="write light and dark windows here")
    args = parser.parse_args()
    app = QApplication([])
    from cnnstudio.app import preferences
    from cnnstudio.app.style import apply_theme

    folder = Path(tempfile.mkdtemp())
    preferences.use_folder(folder / "settings")
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    pump(300)
    window.workspaces.switch("design")
    window.docks["Summary"].raise_()
    window.act["heat_map"].setChecked(True)
    networks = (("lenet", "lenet5", {}),
                ("resnet18", "resnet18", {"input_shape": (3, 64, 64), "num_classes": 10}))
    for name, preset, options in networks:
        measure(window, preset, options)
        if name == "resnet18":  # its stages as boxes: each one's summed time, with the layers'
            window.view.collapse_all()
            window.view.show_start()
        pump(300)
        if args.check is not None:
            args.check.mkdir(parents=True, exist_ok=True)
            for theme in ("light", "dark"):
                apply_theme(theme)
                window.view.viewport().update()
                pump(400)
                save(window, args.check / f"{name}-{theme}.png")
            apply_theme("light")
            pump(300)
        elif name == "lenet":  # the dock on its own, wide enough for every column
            dock = window.docks["Summary"]
            dock.setFloating(True)
            dock.resize(900, 640)
            pump(500)
            save(dock, HERE / "profile-summary.png")
            dock.setFloating(False)
        else:
            save(window.view, HERE / "profile-heatmap.png")
    window.document.undo_stack.setClean()
    window.close()
    app.quit()


if __name__ == "__main__":
    main()
