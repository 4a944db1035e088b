"""Screenshots of File ▸ Export model (after a verified ONNX export) and File ▸ Import model
(after Preview, which shows what the model becomes):

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/make_exchange_screenshots.py

Writes docs/images/export-dialog.png and import-dialog.png (the export goes to a temporary
folder; settings too)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).parent / "images"
EXAMPLE = Path(__file__).resolve().parents[1] / "projects" / "resnet18-cifar10.cnnproj"


def main() -> None:
    app = QApplication([])
    from cnnstudio.app import preferences

    scratch = Path(tempfile.mkdtemp())
    preferences.use_folder(scratch / "settings")
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.open_file(EXAMPLE, as_copy=True)
    export = window.exchange.export_model(show=False)
    export.format.setCurrentIndex(export.format.findData("onnx"))
    export.path.setText(str(scratch / "resnet18.onnx"))
    export.show()
    export.start()

    def exported() -> None:
        if export.task is not None:
            QTimer.singleShot(200, exported)
            return
        export.grab().save(str(HERE / "export-dialog.png"))
        export.close()
        window.document.undo_stack.setClean()
        dialog = window.exchange.import_model("torchvision", show=False)
        dialog.model.setCurrentText("resnet50")
        dialog.classes.setValue(10)
        dialog.show()
        dialog.preview()

        def previewed() -> None:
            if dialog.task is not None:
                QTimer.singleShot(200, previewed)
                return
            QTimer.singleShot(300, lambda: (
                dialog.grab().save(str(HERE / "import-dialog.png")), dialog.reject(),
                app.quit()))

        QTimer.singleShot(200, previewed)

    QTimer.singleShot(500, exported)
    app.exec()


if __name__ == "__main__":
    main()
