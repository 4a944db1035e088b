"""Screenshots for docs/guide.md, as a user sees them:

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/make_guide_screenshots.py

Writes docs/images/guide-*.png: the LeNet-5 example in the window, the preset gallery, layers
added from the palette, a network with an error (canvas, Problems panel and the warning that
stops training), collapsed blocks, the Inspector and the Receptive field panel, a frozen
selection, the window during a training run (LeNet-5 on the built-in digits, a few seconds on
a CPU), the Runs panel, the question on closing during a run, the message of a failed run, the
memory warning, the resume, recovery and unsaved-changes questions, the save-failed and
cannot-open warnings, the Python-file import dialog and the about box.
Settings, recovery files and projects go to a temporary folder, so nothing of yours is used.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

HERE = Path(__file__).parent / "images"
EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "lenet5-digits.cnnproj"


def pump(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str) -> None:
    widget.grab().save(str(HERE / f"guide-{name}.png"))
    print("wrote", name)


def modal(name: str, trigger: Callable[[], Any], answer: Any = None) -> Any:
    """Run ``trigger`` (which opens a modal dialog), photograph the dialog, then close it
    with ``answer`` (a QMessageBox button) or Escape."""

    def grab() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(100, grab)
            return
        save(box, name)
        if answer is not None and isinstance(box, QMessageBox) and box.button(answer):
            box.button(answer).click()
        else:
            box.reject()

    QTimer.singleShot(700, grab)
    return trigger()


def main() -> None:
    app = QApplication([])
    from cnnstudio.app import preferences

    scratch = Path(tempfile.mkdtemp())
    preferences.use_folder(scratch / "settings")
    from cnnstudio.app.dialogs import PresetDialog
    from cnnstudio.app.window import MainWindow
    from cnnstudio.project import load_project, save_project

    window = MainWindow()
    window.resize(1440, 900)  # the default window; the workspaces lay the panels out
    window.show()
    pump(400)
    doc = window.document

    def clean() -> None:
        doc.undo_stack.setClean()

    # 1. The first example, a convolution selected.
    window.open_file(EXAMPLE, as_copy=True)
    doc.select(["features.c1"])
    pump(700)
    save(window, "lenet5")
    window.docks["Inspector"].raise_()
    pump(300)
    save(window.docks["Inspector"], "inspector")
    window.docks["Receptive field"].raise_()
    doc.select(["features.c3"])
    pump(700)
    save(window.docks["Receptive field"], "receptive-field")
    window.docks["Inspector"].raise_()

    # 2. The preset gallery, its cards' figures measured in the background.
    dialog = PresetDialog(window, selected="vgg16")
    dialog.show()
    dialog.gallery.wait()
    pump(900)
    save(dialog, "preset-dialog")
    dialog.reject()

    # Layers added from the palette (double-click = append below the selection and link).
    clean()
    window.new_blank()
    doc.select(["input"])
    for type_name in ("Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"):
        window._add_layer(type_name)
    window.view.fit_all()
    pump(700)
    save(window, "palette-added")

    # 3. A network with an error: a 7x7 pooling window after 28x28 -> conv 5x5 -> pool 4.
    conv = next(n for n in doc.graph.nodes if n.startswith("conv"))
    pool = next(n for n in doc.graph.nodes if n.startswith("maxpool"))
    linear = next(n for n in doc.graph.nodes if n.startswith("linear"))
    doc.set_params(conv, {"out_channels": 8, "kernel_size": 25})
    doc.set_params(linear, {"out_features": 10})
    doc.set_params(pool, {"kernel_size": 7})
    window.docks["Problems"].raise_()
    doc.select([pool])
    pump(900)
    save(window, "problems")
    modal("cannot-train", window.training.train)
    clean()

    # Blocks: ResNet-18's stages collapsed.
    window.new_from_preset("resnet18")
    window.view.collapse_all()
    pump(300)
    window.view.show_start()
    doc.select(["layer2.0.conv1"])
    window.docks["Summary"].raise_()
    pump(900)
    save(window, "blocks-collapsed")
    clean()

    # 5. Freezing layers: LeNet-5's feature extractor frozen.
    window.open_file(EXAMPLE, as_copy=True)
    frozen = [n for n in doc.graph.nodes if n.startswith("features.")]
    doc.select(frozen)
    window._freeze(True)
    doc.select(["features.c3"])
    window.view.show_start()
    pump(700)
    save(window, "frozen")
    clean()

    # 4. A training run in the window (LeNet-5, built-in digits).
    # Thirty epochs instead of the example's five: the picture is taken mid-run, and on a
    # fast machine five are over before the loop below sees the fifth begin. The run is then
    # stopped (Shift+F5), as a busy machine takes minutes for the thirty.
    window.open_file(EXAMPLE, as_copy=True)
    doc.project.training.epochs = 30
    window.training.train()
    t0 = time.monotonic()
    run = window.training.controller
    curve = window.training.panel("Charts").view.curves["loss.val"]

    def epochs_drawn() -> int:  # the charts redraw every few seconds (their 1 % budget)
        x = curve.getOriginalDataset()[0]
        return 0 if x is None else len(x)

    while epochs_drawn() < 4 and run.running and time.monotonic() - t0 < 300:
        pump(100)
    pump(300)
    save(window, "training-run")
    run.stop()
    while run.running and time.monotonic() - t0 < 300:
        pump(300)
    window.docks["Runs"].raise_()
    pump(800)
    save(window.docks["Runs"], "runs")
    trained = scratch / "lenet5-trained.cnnproj"
    window._save_to(trained)
    controller = window.training.controller

    def until_idle() -> None:
        t0 = time.monotonic()
        while controller.running and time.monotonic() - t0 < 300:
            pump(200)

    # Closing the window during a run asks first (Cancel: the run goes on).
    window.open_file(EXAMPLE, as_copy=True)
    window.training.train()
    t0 = time.monotonic()
    while "Epoch 2/" not in window.training.progress_text.text() and \
            controller.running and time.monotonic() - t0 < 300:
        pump(200)
    modal("stop-run", window.close, QMessageBox.StandardButton.Cancel)
    controller.stop()
    until_idle()
    window._save_to(scratch / "lenet5-stopped.cnnproj")  # the run is kept: a file to leave

    # A run that fails: a NaN loss at the first step (inputs divided by a zero deviation).
    from cnnstudio.engine.inference.model import project_data

    window.open_file(EXAMPLE, as_copy=True)
    data = project_data(doc.project)
    data.train.set_normalization([0.5], [0.0])
    controller.data = data
    modal("training-failed", window.training.train)
    until_idle()
    pump(500)
    controller.data = None
    window._save_to(scratch / "lenet5-failed.cnnproj")

    # A run that would not fit in memory: VGG-16 on 224x224 images, batch 2048.
    window.new_from_preset("vgg16")
    doc.project.training.batch_size = 2048
    modal("memory-warning", window.training.train, QMessageBox.StandardButton.Cancel)
    clean()

    # The resume offer: a run cut short (still marked running, with a checkpoint).
    import torch

    from cnnstudio.engine import checkpoint as ckpt
    from cnnstudio.project.model import Checkpoint, Run, graph_hash, now

    project = load_project(EXAMPLE)
    project.runs.append(Run(id=1, started=now(), graph_revision=1,
                            graph_hash=graph_hash(project.graph), seed=0,
                            training=project.training.to_dict(), dataset={}, status="running"))
    project.checkpoint = Checkpoint(1, {"epoch": 3, "step": 0,
                                        "config": project.training.to_dict()},
                                    ckpt.to_bytes({"x": torch.zeros(1)}))
    cut = scratch / "lenet5-cut-short.cnnproj"
    save_project(project, cut)
    modal("resume-offer", lambda: window.open_file(cut), QMessageBox.StandardButton.No)
    pump(300)
    clean()

    # Save failed (a folder that does not exist).
    modal("save-failed", lambda: window._save_to(scratch / "no-such-folder" / "x.cnnproj"))

    # Recovery after a crash: a dirty document's recovery copy, offered back.
    doc.set_params("features.c1", {"out_channels": 8})
    window.autosave_now()
    clean()
    window.autosaver = type(window.autosaver)()  # as after a crash: the copy is someone's
    modal("recovery-offer", window.offer_recovery, QMessageBox.StandardButton.Discard)

    # Unsaved changes, asked before another file opens or the window closes.
    doc.set_params("features.c1", {"out_channels": 8})
    modal("unsaved-changes", window.maybe_save, QMessageBox.StandardButton.Cancel)
    clean()

    # 6. Importing a Python file: the dialog warns that it runs the file's code.
    dialog = window.exchange.import_model("python", show=False)
    dialog.show()
    pump(500)
    save(dialog, "import-python")
    dialog.reject()

    # A file that is not a whole project: the example cut in half, as by a failed download.
    broken = scratch / "lenet5-half.cnnproj"
    whole = EXAMPLE.read_bytes()
    broken.write_bytes(whole[:len(whole) // 2])
    modal("cannot-open", lambda: window.open_file(broken))
    clean()

    # The about box.
    modal("about", window._about)
    clean()
    app.quit()


if __name__ == "__main__":
    main()
