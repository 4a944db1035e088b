"""Screenshots of File ▸ Fine-tune a pretrained network, without a download:

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/make_finetune_screenshots.py

A locally initialised resnet50 is saved where torch's hub cache keeps the IMAGENET1K_V2 file
(under a temporary TORCH_HOME), so the dialog lists it as downloaded and the project is made
offline. Writes docs/images/guide-finetune-dialog.png and guide-finetune-project.png."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).parent / "images"
CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def main() -> None:
    scratch = Path(tempfile.mkdtemp())
    os.environ["TORCH_HOME"] = str(scratch / "torch")
    import torch
    import torchvision
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from cnnstudio.app import preferences
    from cnnstudio.engine import pretrained

    QApplication([])
    preferences.use_folder(scratch / "settings")
    from cnnstudio.app.window import MainWindow

    torch.manual_seed(0)
    cached = pretrained.cached_file(pretrained.resolve("resnet50", "IMAGENET1K_V2"))
    cached.parent.mkdir(parents=True)
    torch.save(torchvision.models.resnet50().state_dict(), cached)
    flowers = scratch / "flowers"
    for name in CLASSES:
        (flowers / name).mkdir(parents=True)
        (flowers / name / "1.jpg").write_bytes(b"")

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()

    def pump(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    pump(400)
    window.resizeDocks([window.docks["Summary"]], [250], Qt.Orientation.Vertical)
    dialog = window.new_finetune(show=False)
    dialog.network.setCurrentText("resnet50")
    dialog.source.setCurrentIndex(dialog.source.findData("folder"))
    dialog.path.setText(str(flowers))
    dialog.path.editingFinished.emit()
    dialog.show()
    pump(500)
    dialog.grab().save(str(HERE / "guide-finetune-dialog.png"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    while dialog.job is not None and dialog.job.running:
        pump(50)
    window.view.collapse_all()
    window.view.reveal("layer1.0.conv1")
    pump(700)
    window.grab().save(str(HERE / "guide-finetune-project.png"))
    window.document.mark_saved(scratch / "shown.cnnproj")  # nothing to ask about on closing
    window.close()


if __name__ == "__main__":
    main()
