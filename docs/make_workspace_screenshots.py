"""Screenshots of the three workspaces for docs/guide.md, at the two common screen sizes:

    QT_QPA_PLATFORM=offscreen python docs/make_workspace_screenshots.py [1440x900 1920x1080]
    xvfb-run -a -s "-screen 0 2560x1440x24" python docs/make_workspace_screenshots.py

For each size it writes docs/images/ws-<size>-<what>.png: the welcome page; Design with the
LeNet-5 example and a convolution selected; Train after a real three-epoch run (LeNet-5 on the
built-in digits, seconds on a CPU); Evaluate with the confusion matrix of that run; the preset
gallery. At 1440×900 also Design in the dark theme and four large presets fitted to the window
(every layer or block still labelled). Each size runs in a process of its own, with settings
in a fresh temporary folder, so every workspace starts from its default layout and nothing of
yours is used.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

HERE = Path(__file__).parent / "images"
EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "lenet5-digits.cnnproj"
SIZES = ("1440x900", "1920x1080")
FITTED = ("resnet50", "googlenet", "efficientnet_b0", "densenet121")
EPOCHS = 3


def pump(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(done: Callable[[], bool], limit_s: float = 300) -> None:
    t0 = time.monotonic()
    while not done() and time.monotonic() - t0 < limit_s:
        pump(200)


def shoot(size: str) -> None:
    """Every picture of one window size, in a fresh window with fresh settings."""
    width, height = (int(n) for n in size.split("x"))
    app = QApplication([])
    from cnnstudio.app import preferences

    scratch = Path(tempfile.mkdtemp())
    preferences.use_folder(scratch / "settings")
    from cnnstudio.app.dialogs import PresetDialog
    from cnnstudio.app.style import apply_theme
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(width, height)  # before it shows: the workspaces share out this size
    window.show()
    pump(500)
    doc = window.document

    def save(widget: QWidget, what: str) -> None:
        path = HERE / f"ws-{size}-{what}.png"
        widget.grab().save(str(path))
        print("wrote", path.name)

    def forget() -> None:  # nothing to ask about before the next network opens
        window._save_to(scratch / "shown.cnnproj")
        window.statusBar().clearMessage()  # "Saved /tmp/…" is not for the pictures

    save(window, "welcome")

    # Design: the first example (it opens as an untitled copy), a convolution selected.
    window.open_file(EXAMPLE)
    doc.select(["features.c1"])
    pump(900)
    save(window, "design")

    # Train: a short real run; F5 (train) switches to the Train workspace itself.
    doc.change_settings("training", {"epochs": EPOCHS}, f"Epochs {EPOCHS}")
    window.training.train()
    controller = window.training.controller
    curve = window.training.panel("Charts").view.curves["loss.val"]

    def epochs_drawn() -> int:  # the charts redraw every few seconds
        x = curve.getOriginalDataset()[0]
        return 0 if x is None else len(x)

    wait_for(lambda: not controller.running)
    wait_for(lambda: epochs_drawn() >= EPOCHS, 20)
    doc.select(["features.c1"])
    pump(900)
    save(window, "train")

    # Evaluate: Ctrl+3, then Evaluate on the run's weights.
    window.workspaces.actions["evaluate"].trigger()
    window.training.evaluate()
    evaluation = window.training.panel("Evaluation")
    wait_for(lambda: evaluation.matrix_model.rowCount() > 0 and not evaluation.busy.isVisible())
    pump(900)
    save(window, "evaluate")

    # The preset gallery, opened as File > New from preset does.
    window.workspaces.actions["design"].trigger()
    dialog = PresetDialog(window, selected="resnet50")
    dialog.show()
    dialog.gallery.wait()
    pump(900)
    save(dialog, "gallery")
    dialog.reject()

    if size == SIZES[0]:
        # Design in the dark theme, the trained example as it is.
        apply_theme("dark")
        doc.select(["features.c1"])
        window.view.viewport().update()
        pump(900)
        save(window, "design-dark")
        apply_theme("light")
        window.view.viewport().update()
        forget()
        for name in FITTED:  # fit to window: every layer or block keeps a readable label
            window.new_from_preset(name)
            window.view.fit_all()
            pump(900)
            save(window, f"fit-{name}")
    forget()
    window.close()
    app.quit()


def main() -> None:
    sizes = sys.argv[1:] or list(SIZES)
    if len(sizes) == 1:
        shoot(sizes[0])
        return
    for size in sizes:  # a process each: fresh settings, one QApplication
        subprocess.run([sys.executable, __file__, size], check=True)


if __name__ == "__main__":
    main()
