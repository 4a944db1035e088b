"""Starting the application: a QApplication, the theme, the main window, and the file given on
the command line (or the offer to recover unsaved work). torch is not imported here: the window
shows in about a second, and the engine loads on a background thread after it (engine_loader)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

LOAD_ENGINE_AFTER_MS = 200
"""After the window's first paint and the file's opening, which the load would slow."""


def display_problem() -> str | None:
    """Why no window can be shown here (a server without a screen), or None."""
    if sys.platform.startswith("linux"):
        platform = os.environ.get("QT_QPA_PLATFORM", "")
        if not platform and not os.environ.get("DISPLAY") and \
                not os.environ.get("WAYLAND_DISPLAY"):
            return ("no display to show the window on (DISPLAY is not set): run it on a desktop, "
                    "or use the command line (`cnnstudio train`, `cnnstudio summary`)")
    return None


def run(path: str | None = None, argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from . import engine_loader, preferences
    from .style import apply_theme
    from .window import MainWindow, icon

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(preferences.APPLICATION)
    app.setOrganizationName(preferences.ORGANIZATION)
    app.setApplicationDisplayName("CNN Studio")
    app.setWindowIcon(icon("app"))
    apply_theme(preferences.theme())
    window = MainWindow()
    window.show()
    if path:
        QTimer.singleShot(0, lambda: window.open_file(Path(path)))
    else:
        QTimer.singleShot(0, window.offer_recovery)
    QTimer.singleShot(LOAD_ENGINE_AFTER_MS, engine_loader.load_in_background)
    smoke = os.environ.get("CNNSTUDIO_SMOKE_TEST", "")
    if smoke.isdigit():  # a check of an installed build: show, open, report, quit after N ms
        def report() -> None:
            print(f"cnnstudio: smoke test: window shown ({window.isVisible()}), title "
                  f"{window.windowTitle()!r}", flush=True)
            app.quit()

        QTimer.singleShot(int(smoke), report)
    return app.exec()
