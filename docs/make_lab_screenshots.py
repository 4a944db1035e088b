"""The screenshot of Tools ▸ Numeric sandbox for docs/guide.md ("The numeric sandbox"):

    QT_QPA_PLATFORM=offscreen python docs/make_lab_screenshots.py [--check FOLDER]

Opens the sandbox on the slides' 3×3 kernel over a 5×5 image (exercise conv-5x5) with output
cell [1, 1] hovered, so that its input window is lit and its formula shown
(docs/images/lab-sandbox.png). ``--check FOLDER`` writes it in the light and the dark theme
there instead, to look at. Seconds; no training, no settings touched.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from make_guide_screenshots import pump  # the same event-loop wait as the guide's pictures
from PySide6.QtWidgets import QApplication

HERE = Path(__file__).parent / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", type=Path, metavar="FOLDER",
                        help="write light and dark pictures here instead of docs/images")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from cnnstudio.app.lab import SandboxWindow
    from cnnstudio.app.style import apply_theme

    sandbox = SandboxWindow()
    sandbox.resize(900, 400)
    sandbox.show()
    sandbox.choose_exercise("conv-5x5")
    themes = ("light", "dark") if args.check else ("light",)
    folder = args.check or HERE
    folder.mkdir(parents=True, exist_ok=True)
    for theme in themes:
        apply_theme(theme)
        sandbox.output.cellEntered.emit(1, 1)  # the mouse over output cell [1, 1]
        pump(300)
        name = f"lab-sandbox-{theme}.png" if args.check else "lab-sandbox.png"
        sandbox.grab().save(str(folder / name))
        print("wrote", folder / name)
    apply_theme("light")
    sandbox.close()
    app.processEvents()


if __name__ == "__main__":
    main()
