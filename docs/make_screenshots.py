"""Screenshots of the window for README and the guide, as a user sees it:

    xvfb-run -a -s "-screen 0 1920x1200x24" python docs/make_screenshots.py

Writes docs/images/*.png (settings go to a temporary folder, so nothing of yours is used).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).parent / "images"


def main() -> None:
    app = QApplication([])
    from cnnstudio.app import preferences

    preferences.use_folder(Path(tempfile.mkdtemp()))
    from cnnstudio.app.window import MainWindow

    window = MainWindow()
    window.resize(1440, 900)  # the default window; the Design workspace lays the panels out
    window.show()
    shots = [
        ("welcome", lambda: None),
        ("resnet18", lambda: (window.new_from_preset("resnet18"),
                              window.document.select(["layer1.0.conv1"]))),
        ("googlenet", lambda: (window.new_from_preset("googlenet"),
                               window.document.select(["inception3a.cat"]))),
    ]

    def take(i: int = 0) -> None:
        if i == len(shots):
            app.quit()
            return
        name, action = shots[i]
        action()
        QTimer.singleShot(600, lambda: (window.grab().save(str(HERE / f"{name}.png")),
                                        window.document.undo_stack.setClean(),
                                        take(i + 1)))

    QTimer.singleShot(300, take)
    app.exec()


if __name__ == "__main__":
    main()
